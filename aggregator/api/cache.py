"""A short-lived memo of computed answers, so a burst of identical requests costs one query.

Prices change only when a sync commits, at most every few minutes per feed, while a busy API
answers the same question many times a second. Identical requests (same route, same
normalized parameters) within ``GPUHOURS_API_CACHE_SECONDS`` (default 1 s; 0 turns it off)
share one computed page or plan. What is promised:

* A cached answer is a whole answer computed from one read of the store, so "old or new
  prices, never a mix" holds for it as for any read.
* New prices show on a replica at most ``GPUHOURS_API_CACHE_SECONDS`` after a sync commits,
  and at once after a sync this process ran (``POST /v1/sync`` clears the memo).
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
        default=1.0, ge=0, le=300, description="how long identical requests share an answer"
    )
    api_cache_entries: int = Field(default=256, ge=1, description="answers kept at most")


class AnswerCache:
    """A thread-safe LRU of answers that expire ``ttl`` seconds after they were computed."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        if self.ttl <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] <= now:
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
