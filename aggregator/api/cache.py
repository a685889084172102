"""A memo of computed answers, valid until the store changes, so repeated requests cost little.

Prices change only when a sync commits, at most every few minutes per feed, while a busy API
answers the same question many times a second. Identical requests (same route, same
normalized parameters) share one computed page or plan for as long as the store's version
(:func:`db.store.data_version`, raised by every committed sync, whichever process ran it) is
the one the answer was computed at, and for at most ``GPUHOURS_API_CACHE_SECONDS`` (default
60 s; 0 turns the memo off). What is promised:

* A cached answer is a whole answer computed from one read of the store, so "old or new
  prices, never a mix" holds for it as for any read.
* A memoized answer is never older than the store: each request reads the version first (one
  small query) and an answer computed at another version is not used. The version is read
  before the answer is computed, so an answer is filed under a version no newer than its data.
* The data age a response reports is computed when it is sent, from the cached prices'
  ``observed_at``, so it is never understated.
* Memory is bounded: at most ``GPUHOURS_API_CACHE_ENTRIES`` answers (default 256), least
  recently used first out; offer pages of more than 100 offers are not kept. Errors are
  never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AnswerCache", "ApiSettings"]


class ApiSettings(BaseSettings):
    """Settings of the HTTP API process, read from ``GPUHOURS_*``."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_", extra="ignore")

    api_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="longest time identical requests share an answer (0: never); a sync "
        "ends the sharing at once",
    )
    api_cache_entries: int = Field(default=256, ge=1, description="answers kept at most")


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
