"""A memo of computed answers, valid until the store changes, so repeated requests cost little.

Prices change only when a sync commits, while a busy API answers the same question many times
a second. :class:`AnswerCache` shares one offer page or plan among identical requests for as
long as the store's version is the one it was computed at, and at most a TTL; the version is
read before the answer is computed, so an answer is never filed under a newer one.
:class:`StoreVersion` re-reads the version at most every ``GPUHOURS_API_VERSION_CHECK_SECONDS``,
on the event loop (a worker thread costs far more under load). The promises and the settings:
docs/api.md, "Answers are shared until the store changes".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from pydantic import Field

from aggregator.settings import GpuhoursSettings

__all__ = ["AnswerCache", "ApiSettings", "StoreVersion"]


class ApiSettings(GpuhoursSettings):
    """Settings of the HTTP API process, read from ``GPUHOURS_*``."""

    api_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="longest time identical requests share an answer (0: never); a sync "
        "ends the sharing at once",
    )
    api_cache_entries: int = Field(default=256, ge=1, description="answers kept at most")
    api_version_check_seconds: float = Field(
        default=0.1,
        ge=0,
        le=10,
        description="how often the store's version is re-read to notice a sync (0: always)",
    )


class AnswerCache:
    """A thread-safe LRU of answers, each valid for one store version and ``ttl`` seconds."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, int, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: Hashable, version: int) -> Any | None:
        """The answer filed under ``key`` at store ``version``, if still fresh; else None."""
        if not self.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry[0] <= now or entry[1] != version):
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, key: Hashable, version: int, value: Any) -> None:
        """File ``value``, computed from a read made after ``version`` was read."""
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class StoreVersion:
    """The store's version as this process last read it, re-read when older than ``max_age``.

    ``read`` is the blocking read (:func:`aggregator.catalog.store_version` bound to an
    engine). It runs on the event loop itself, holding it for one tiny query at most every
    ``max_age`` seconds: handing it to a worker thread costs far more under load, because the
    thread then has to win the GIL back from the busy loop at every step of the query (measured:
    each such request took 50-300 ms, which made them the p99 of a busy worker). A value
    returned was read before the call returned, so answers filed under it are no older than it
    says; a sync committed elsewhere shows at most ``max_age`` after it committed. One instance
    serves one event loop (one per worker process).
    """

    def __init__(self, read: Callable[[], int], max_age: float) -> None:
        self._read = read
        self.max_age = max_age
        self.reads = 0
        self._version = 0
        self._read_at = -float("inf")

    def forget(self) -> None:
        """Re-read on the next call (after this process changed the store itself)."""
        self._read_at = -float("inf")

    def current(self) -> int:
        if time.monotonic() - self._read_at < self.max_age:
            return self._version
        started = time.monotonic()
        version = self._read()
        self.reads += 1
        self._version, self._read_at = version, started
        return version
