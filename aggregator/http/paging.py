"""Guards that make a chain of pages end, whatever links the server keeps sending.

A feed that follows "next page" links asks a :class:`PageChain` before each request and tells
it what each page held. The chain raises :class:`ProviderResponseError` (so the sync fails and
the stored prices stay) on the first of:

* a link (URL or page token) that came before: the chain is a loop;
* more pages than the feed has ever sent, by far: ``max(PAGES_FACTOR x the most pages this
  chain sent in a good sync, PAGES_FLOOR)``. The most is kept in the feed's
  ``FetchContext.state``, which is saved only when a sync succeeds, so a runaway chain never
  raises its own limit. A feed can switch this off for a sync (``learned=False``) when the
  user has asked for more pages on purpose;
* ``EMPTY_RUN`` empty pages in a row that still link onward: a real feed may send an empty
  page now and then, not a chain of them;
* the feed's absolute maximum, which is the only count guard on a first sync.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Final

from aggregator.errors import ProviderResponseError
from aggregator.http.redaction import redact_url

__all__ = ["EMPTY_RUN", "PAGES_FACTOR", "PAGES_FLOOR", "PageChain"]

PAGES_FACTOR: Final = 4
PAGES_FLOOR: Final = 50
EMPTY_RUN: Final = 20


class PageChain:
    """Counts the pages of one chain and stops it when it runs away (see the module doc).

    ``source`` names the API in messages ("Azure Retail Prices"), ``link_name`` what it links
    with ("NextPageLink"). ``max_pages_hint`` says how the absolute maximum is set (a setting's
    name, or "" when it is fixed). ``state_key`` is where the most pages are kept in ``state``.
    """

    def __init__(
        self,
        source: str,
        *,
        link_name: str,
        max_pages: int,
        max_pages_hint: str = "",
        state: MutableMapping[str, str] | None = None,
        state_key: str = "",
        learned: bool = True,
        provider: str | None = None,
    ) -> None:
        self._source = source
        self._link_name = link_name
        self._max_pages = max_pages
        self._max_pages_hint = max_pages_hint
        self._state = state if state is not None else {}
        self._state_key = state_key
        self._learned = learned
        self._provider = provider
        self._seen: set[str] = set()
        self.pages = 0
        self._empty_run = 0

    @property
    def most_pages(self) -> int | None:
        """The most pages this chain sent in a good sync, or None if never recorded."""
        try:
            value = int(self._state.get(self._state_key, ""))
        except ValueError:  # never recorded, or unreadable: treated as a first sync
            return None
        return value if value > 0 else None

    def before_page(self, link: str, url: str) -> None:
        """Call before requesting the page ``link`` names (``url``: where it is fetched)."""
        if link in self._seen:
            shown = link if len(link) <= 40 else link[:37] + "..."
            self._stop(
                f"{self._source}: the {self._link_name} {redact_url(shown)} came back a second "
                "time (it had already sent it); stopping instead of looping",
                url,
            )
        if self.pages >= self._max_pages:
            how = f" ({self._max_pages_hint})" if self._max_pages_hint else ""
            self._stop(
                f"{self._source} was still paging after {self._max_pages} pages{how}; the sync "
                "is abandoned rather than kept partial",
                url,
            )
        most = self.most_pages
        if self._learned and most is not None:
            limit = max(PAGES_FACTOR * most, PAGES_FLOOR)
            if self.pages >= limit:
                what_to_do = (
                    f"if the feed really has grown this much, set {self._max_pages_hint} for "
                    "one sync"
                    if self._max_pages_hint
                    else "try again later; if it persists, the API has changed"
                )
                self._stop(
                    f"{self._source} was still paging after {self.pages} pages, far more than "
                    f"it usually sends: at most {most} in a good sync (the limit is "
                    f"{PAGES_FACTOR} x that, at least {PAGES_FLOOR}); {what_to_do}",
                    url,
                )
        self._seen.add(link)
        self.pages += 1

    def after_page(self, items: int, *, links_onward: bool, url: str) -> None:
        """Call with how many items the page held and whether it links to another."""
        self._empty_run = self._empty_run + 1 if items == 0 and links_onward else 0
        if self._empty_run >= EMPTY_RUN:
            self._stop(
                f"{self._source} sent {EMPTY_RUN} empty pages in a row that still link to a "
                f"next page (after {self.pages} pages); stopping instead of following an "
                "endless chain. Try again later",
                url,
            )

    def finished(self) -> None:
        """Call when the chain ended normally: remembers its length if it is the longest."""
        if self._state_key and self.pages > (self.most_pages or 0):
            self._state[self._state_key] = str(self.pages)

    def _stop(self, message: str, url: str) -> None:
        raise ProviderResponseError(message, provider=self._provider, url=redact_url(url))
