"""``GET /metrics``: Prometheus text exposition (format 0.0.4), written without a client library.

Two kinds of series, with stable names: per process (requests, durations, answers from the
memo or computed), and from the store, read at scrape time and so the same on every replica
(sync runs, failures, data age, offers, ``gpuhours_store_up``). Route labels are templates,
never raw paths, so label cardinality stays bounded whatever clients request. Every series,
and why to run one worker per container: docs/api.md, "Metrics and logging".
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from aggregator.catalog import ProvidersReport

__all__ = ["BUCKETS", "CONTENT_TYPE", "RequestMetrics", "StoreMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Histogram:
    __slots__ = ("counts", "sum", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0
        self.sum = 0.0


class RequestMetrics:
    """Request counts and latencies of this process; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str], _Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            histogram = self._latency.get((method, route))
            if histogram is None:
                histogram = self._latency[(method, route)] = _Histogram()
            if index < len(BUCKETS):
                histogram.counts[index] += 1
            histogram.total += 1
            histogram.sum += seconds

    def render(self) -> list[str]:
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted(
                (key, list(h.counts), h.total, h.sum) for key, h in self._latency.items()
            )
        lines = [
            "# HELP gpuhours_http_requests_total HTTP requests served by this process.",
            "# TYPE gpuhours_http_requests_total counter",
        ]
        for (method, route, status), count in requests:
            labels = _labels((("method", method), ("route", route), ("status", status)))
            lines.append(f"gpuhours_http_requests_total{labels} {count}")
        lines += [
            "# HELP gpuhours_http_request_duration_seconds Time to answer HTTP requests.",
            "# TYPE gpuhours_http_request_duration_seconds histogram",
        ]
        for (method, route), counts, total, seconds in latency:
            base = (("method", method), ("route", route))
            cumulative = 0
            for bound, count in zip(BUCKETS, counts, strict=True):
                cumulative += count
                labels = _labels((*base, ("le", _number(bound))))
                lines.append(f"gpuhours_http_request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels((*base, ("le", "+Inf")))
            lines.append(f"gpuhours_http_request_duration_seconds_bucket{labels} {total}")
            lines.append(
                f"gpuhours_http_request_duration_seconds_sum{_labels(base)} {_number(seconds)}"
            )
            lines.append(f"gpuhours_http_request_duration_seconds_count{_labels(base)} {total}")
        return lines


class StoreMetrics:
    """The store-derived series, rendered from what the API's own queries return."""

    def __init__(
        self,
        report: ProvidersReport,
        run_counts: Mapping[tuple[str, str], int],
        failures: Mapping[str, int],
        intervals: Mapping[str, float | None],
    ) -> None:
        self.report = report
        self.run_counts = run_counts
        self.failures = failures
        self.intervals = intervals

    def render(self) -> list[str]:
        feeds = self.report.feeds
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, rows: Sequence[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {_number(value)}" for labels, value in rows)

        family(
            "gpuhours_sync_runs_total",
            "counter",
            "Sync runs recorded in the store, by feed and status.",
            [
                (_labels((("feed", feed), ("status", status))), count)
                for (feed, status), count in sorted(self.run_counts.items())
            ],
        )
        family(
            "gpuhours_feed_consecutive_failures",
            "gauge",
            "Failed sync runs of a feed since its last good one.",
            [(_labels((("feed", f.id),)), self.failures.get(f.id, 0)) for f in feeds],
        )
        family(
            "gpuhours_feed_data_age_seconds",
            "gauge",
            "Seconds since a feed's prices were last confirmed by a good sync.",
            [
                (_labels((("feed", f.id),)), f.age_seconds)
                for f in feeds
                if f.age_seconds is not None
            ],
        )
        family(
            "gpuhours_feed_last_success_timestamp_seconds",
            "gauge",
            "Unix time of a feed's last good sync.",
            [
                (_labels((("feed", f.id),)), f.last_success_at.timestamp())
                for f in feeds
                if f.last_success_at is not None
            ],
        )
        family(
            "gpuhours_feed_stale",
            "gauge",
            "1 when a feed's data is missing or older than twice its interval.",
            [(_labels((("feed", f.id),)), 1 if f.stale else 0) for f in feeds],
        )
        family(
            "gpuhours_feed_interval_seconds",
            "gauge",
            "The schedule in force for a feed (absent when switched off).",
            [
                (_labels((("feed", f.id),)), interval)
                for f in feeds
                if (interval := self.intervals.get(f.id)) is not None
            ],
        )
        by_provider: dict[str, int] = defaultdict(int)
        for f in feeds:
            by_provider[f.provider] += f.live_offers
        family(
            "gpuhours_offers",
            "gauge",
            "Live (not withdrawn) offers in the store, by provider.",
            [(_labels((("provider", p),)), n) for p, n in sorted(by_provider.items())],
        )
        return lines
