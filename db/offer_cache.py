"""The planner's offer reads, kept in memory per process until the store changes.

A plan request reads every offer matching its filters (thousands of rows) and only then
solves; reading them again for each request costs more than planning. :func:`cached_offer_records`
returns what :func:`db.read.query_offer_records` would, reusing an earlier result for the
same query while :func:`db.read.data_version` has not moved. A result is read together with
the version in one snapshot and filed under that version, so the label is exact: a result can
never be older than its label (a sync committing between two separate reads would otherwise
leave old rows filed under the new version for as long as it stays current). Any sync
committed since raises the version and the next call reads afresh. Each call still costs one
tiny query unless the caller supplies the version.

Results are shared between threads and callers, so they are tuples of frozen records; callers
must not rely on identity. The memo is bounded by the number of records it holds, dropping the
least recently used queries first.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING

from db.offer_sql import OfferQuery
from db.read import OfferRecord, data_version, query_offer_records
from db.reader import Reader, as_reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "DEFAULT_MAX_RECORDS",
    "OfferRecordCache",
    "cache_for",
    "cached_offer_records",
    "query_key",
]

DEFAULT_MAX_RECORDS = 400_000  # about 100 MB of records at worst


class OfferRecordCache:
    """Query results of one store, each valid for the store version it was read at."""

    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.max_records = max_records
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[int, tuple[OfferRecord, ...]]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def read(
        self, source: Reader | Engine, q: OfferQuery, version: int | None = None
    ) -> tuple[OfferRecord, ...]:
        """The records ``q`` matches now, from memory when the store has not changed.

        ``version`` is a :func:`db.store.data_version` the caller read before this call (the
        API keeps one per process); without it the version is read here. A miss reads the
        records and their own version in one snapshot.
        """
        reader = as_reader(source)
        key = query_key(q)
        if version is None:
            version = data_version(reader)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
        with reader.errors_as("querying offers"), reader.snapshot() as snapshot:
            version = data_version(snapshot)
            records = tuple(query_offer_records(snapshot, q))
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._held -= len(old[1])
            if len(records) <= self.max_records:
                self._entries[key] = (version, records)
                self._held += len(records)
            while self._held > self.max_records:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._held -= len(dropped)
        return records

    def clear(self) -> None:
        """Forget every result (the next read of each query goes to the store)."""
        with self._lock:
            self._entries.clear()
            self._held = 0


def query_key(q: OfferQuery) -> Hashable:
    """A hashable equivalent of ``q`` (its sequences as tuples)."""
    values: list[Hashable] = []
    for spec in fields(q):
        value = getattr(q, spec.name)
        values.append(
            tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
        )
    return tuple(values)


_caches: weakref.WeakKeyDictionary[object, OfferRecordCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(source: Reader | Engine) -> OfferRecordCache:
    """The memo of ``source``'s store in this process (created on first use).

    Kept per :attr:`db.reader.Reader.memo_owner`: every reader of one engine shares the
    engine's memo; a stdlib SQLite reader has one of its own.
    """
    owner = source.memo_owner if isinstance(source, Reader) else source
    with _caches_lock:
        cache = _caches.get(owner)
        if cache is None:
            cache = _caches[owner] = OfferRecordCache()
        return cache


def cached_offer_records(
    source: Reader | Engine, q: OfferQuery, version: int | None = None
) -> Sequence[OfferRecord]:
    """:func:`db.read.query_offer_records` through this process's memo of ``source``'s store."""
    return cache_for(source).read(source, q, version)
