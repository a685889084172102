"""What the provider test kit reports: the checks, per-feed counts and the failures.

Kept free of heavy imports (only the standard library) so that importing
:mod:`aggregator.testing` stays cheap; the kit itself lives in :mod:`aggregator.testing.kit`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CHECKS",
    "MESSAGE_LINES_PER_CHECK",
    "CheckFailure",
    "FeedReport",
    "ProviderCheckFailed",
    "ProviderReport",
]

#: Every check the kit runs, by its stable short name, with what passing it means. The names
#: appear in failures and in the docs ("Testing your plugin"); they do not change.
CHECKS: Final[Mapping[str, str]] = {
    "replays-offline": "every request the feed makes is answered from the recorded responses",
    "fetch-completes": "the feed's fetch runs to its end without raising",
    "feed-yields-offers": "the feed yields at least one offer",
    "offers-validate": "every yielded item is an Offer, or a mapping that validates as one, "
    "of this provider",
    "unique-natural-keys": "no two offers (interruption rates) of one feed share a natural key",
    "source-named": "every offer's source names its row with a non-blank value",
    "gpu-known": "every offer's GPU resolves in the GPU vocabulary",
    "prices-finite-positive": "price_per_hour is finite and > 0; upfront is finite and >= 0",
    "rejects-within-limit": "rows skipped with ctx.reject stay within the share a sync accepts",
    "replay-deterministic": "a second replay yields offers with identical field values",
    "rates-validate": "every item of an interruption feed is an InterruptionRate, or a mapping "
    "that validates as one, of this provider",
}

#: How many failures of one check in one feed the exception message quotes (all are in
#: ``failures``); a parser broken for every row would otherwise print thousands of lines.
MESSAGE_LINES_PER_CHECK: Final = 5


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: its name (a key of :data:`CHECKS`), the feed id and what was wrong."""

    check: str
    feed: str
    detail: str

    def __str__(self) -> str:
        return f"{self.feed} [{self.check}]: {self.detail}"


@dataclass
class FeedReport:
    """What one feed yielded in its first replay.

    ``offers`` counts items that are (or validated as) offers, ``interruption_rates`` those of
    an interruption feed that are (or validated as) rates, ``invalid`` the items that did not,
    ``rejects`` and ``unknowns`` the rows the feed skipped through ``ctx.reject`` and
    ``ctx.report_unknown``, ``requests`` the HTTP requests it made.
    """

    feed: str
    offers: int = 0
    interruption_rates: int = 0
    invalid: int = 0
    rejects: int = 0
    unknowns: int = 0
    requests: int = 0


@dataclass
class ProviderReport:
    """The kit's result for one provider: a :class:`FeedReport` per feed id, and failures."""

    provider: str
    feeds: dict[str, FeedReport] = field(default_factory=dict)
    failures: list[CheckFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failed_checks(self) -> list[str]:
        """Names of the checks that failed, in the order of :data:`CHECKS`."""
        failed = {f.check for f in self.failures}
        return [name for name in CHECKS if name in failed]


class ProviderCheckFailed(AssertionError):
    """Raised by ``check_provider`` when any check failed; pytest reports it as a failure.

    The message lists every failed check with the feed and the offending offer or row;
    ``failures`` holds them all as :class:`CheckFailure` and ``report`` the whole report.
    """

    def __init__(self, report: ProviderReport) -> None:
        self.report = report
        self.failures = list(report.failures)
        super().__init__(_message(report))


def _message(report: ProviderReport) -> str:
    checks = report.failed_checks
    lines = [
        f"provider {report.provider!r} failed {len(checks)} check"
        f"{'' if len(checks) == 1 else 's'} ({', '.join(checks)}):"
    ]
    shown: Counter[tuple[str, str]] = Counter()
    total = Counter((f.check, f.feed) for f in report.failures)
    for failure in sorted(report.failures, key=lambda f: _check_order(f.check)):
        key = (failure.check, failure.feed)
        shown[key] += 1
        if shown[key] <= MESSAGE_LINES_PER_CHECK:
            lines.append(f"  {failure}")
        elif shown[key] == MESSAGE_LINES_PER_CHECK + 1:
            more = total[key] - MESSAGE_LINES_PER_CHECK
            lines.append(f"  {failure.feed} [{failure.check}]: ... and {more} more")
    return "\n".join(lines)


def _check_order(name: str) -> int:
    names = list(CHECKS)
    return names.index(name) if name in names else len(names)
