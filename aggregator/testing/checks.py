"""The kit's checks: pure functions from what a feed's replays produced to :class:`CheckFailure`.

Rows are judged the way the sync engine judges them (:func:`aggregator.sync.validate_offer`,
the provider name, the GPU vocabulary), but where a sync quietly counts a bad row as rejected,
the kit fails the matching check. An :class:`Offer` is trusted by the engine as it is, and one
built with ``model_construct`` skipped validation, so prices, source and GPU are checked again
on the values themselves.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeGuard, TypeVar

from aggregator.errors import UnknownGpu
from aggregator.gpus import GpuVocabulary
from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.models import NATURAL_KEY_FIELDS, Offer
from aggregator.sync import validate_offer
from aggregator.sync.rates import validate_interruption_rate
from aggregator.testing.replay_run import FeedRun
from aggregator.testing.report import CheckFailure

__all__ = [
    "ItemVerdict",
    "check_determinism",
    "check_items",
    "check_offline",
    "check_rate_items",
    "check_run",
    "describe",
    "natural_key",
]

# Read with getattr so that an offer built with model_construct (missing fields, plain strings
# for enums) cannot make the check itself crash.
_KEY_FIELDS: Final = NATURAL_KEY_FIELDS
_MISSING: Final = object()
_DETAIL_LIMIT: Final = 300
_Model = TypeVar("_Model", Offer, InterruptionRate)


@dataclass
class ItemVerdict:
    """The offers (or rates) found among a replay's items, and what was wrong with them."""

    offers: list[Offer] = field(default_factory=list)
    rates: list[InterruptionRate] = field(default_factory=list)
    invalid: int = 0
    failures: list[CheckFailure] = field(default_factory=list)


def check_offline(feed: str, run: FeedRun) -> list[CheckFailure]:
    """Each request the replay could not answer from the recordings, once."""
    return [CheckFailure("replays-offline", feed, miss) for miss in dict.fromkeys(run.misses)]


def check_run(feed: str, run: FeedRun, *, max_reject_share: float) -> list[CheckFailure]:
    """The checks on the replay as a whole: offline, completed, non-empty, few rejects."""
    failures = check_offline(feed, run)
    # A fetch that raised after a request missed the recordings fails because of the miss.
    if run.error is not None and not run.misses:
        failures.append(CheckFailure("fetch-completes", feed, run.error))
    if run.completed and not run.items:
        failures.append(
            CheckFailure(
                "feed-yields-offers",
                feed,
                f"the feed yielded nothing ({len(run.rejects)} rows rejected, "
                f"{len(run.unknowns)} unknown, {run.requests} requests made); a sync of it "
                "would fail",
            )
        )
    rows = len(run.items) + len(run.rejects)
    if rows and len(run.rejects) / rows > max_reject_share:
        reason, raw = run.rejects[0]
        failures.append(
            CheckFailure(
                "rejects-within-limit",
                feed,
                f"{len(run.rejects)} of {rows} rows were rejected with ctx.reject (a sync "
                f"fails above {max_reject_share:.0%}); first: {reason}: {raw}",
            )
        )
    return failures


def check_items(
    feed: str, provider: str, items: Sequence[object], vocabulary: GpuVocabulary
) -> ItemVerdict:
    """Validate every item and check each offer's price, source, GPU and natural key."""
    verdict = ItemVerdict()
    first_of_key: dict[tuple[str, ...], Offer] = {}
    for item in items:
        offer = _validated(verdict, _Judge(feed, "offers-validate", provider), item, validate_offer)
        if offer is None:
            continue
        verdict.offers.append(offer)
        for check, problem in _value_problems(offer, vocabulary):
            verdict.failures.append(CheckFailure(check, feed, f"{problem}: {describe(offer)}"))
        key = natural_key(offer)
        if (first := first_of_key.setdefault(key, offer)) is not offer:
            verdict.failures.append(
                CheckFailure(
                    "unique-natural-keys",
                    feed,
                    f"natural key duplicated: {describe(first)} and again "
                    f"{describe(offer, key=False)}",
                )
            )
    return verdict


def check_rate_items(feed: str, provider: str, items: Sequence[object]) -> ItemVerdict:
    """Validate every item of an interruption feed as a rate of ``provider``, one per key."""
    verdict = ItemVerdict()
    first_of_key: dict[RateKey, InterruptionRate] = {}
    judge = _Judge(feed, "rates-validate", provider)
    for item in items:
        rate = _validated(verdict, judge, item, validate_interruption_rate)
        if rate is None:
            continue
        verdict.rates.append(rate)
        if (first := first_of_key.setdefault(rate.key(), rate)) is not rate:
            verdict.failures.append(
                CheckFailure(
                    "unique-natural-keys",
                    feed,
                    f"interruption rate key duplicated: {rate.key()} source {first.source!r} "
                    f"and again source {rate.source!r}",
                )
            )
    return verdict


@dataclass(frozen=True)
class _Judge:
    """Which feed, check and provider a validation failure is reported against."""

    feed: str
    check: str
    provider: str


def _validated(
    verdict: ItemVerdict, judge: _Judge, item: object, validate: Callable[[object], _Model]
) -> _Model | None:
    """``item`` validated by ``validate`` and of the judged provider, or ``None`` after
    recording why not in ``verdict``."""
    try:
        model = validate(item)
    except ValueError as exc:
        problem = f"{exc}: {_short(repr(item))}"
    else:
        named = _get(model, "provider")
        if named == judge.provider:
            return model
        what = describe(model) if isinstance(model, Offer) else _short(repr(model))
        problem = f"provider {named!r} does not match {judge.provider!r}: {what}"
    verdict.invalid += 1
    verdict.failures.append(CheckFailure(judge.check, judge.feed, problem))
    return None


def check_determinism(feed: str, first: FeedRun, second: FeedRun) -> list[CheckFailure]:
    """Both replays yielded the same offers, as a multiset of full field values.

    Order does not matter (a feed may fetch pages concurrently) and ``observed_at`` is left
    out: the engine stamps it at sync time, so it may differ between runs.
    """
    if second.error is not None and not second.misses:
        return [
            CheckFailure(
                "replay-deterministic",
                feed,
                f"the first replay completed, the second failed: {second.error}",
            )
        ]
    counts_one, examples_one = _fingerprints(first.items)
    counts_two, examples_two = _fingerprints(second.items)
    failures: list[CheckFailure] = []
    for label, mine, theirs, examples in (
        ("only in the first replay", counts_one, counts_two, examples_one),
        ("only in the second replay", counts_two, counts_one, examples_two),
    ):
        for fingerprint in (mine - theirs).elements():
            item = examples[fingerprint]
            what = describe(item) if isinstance(item, Offer) else _short(repr(item))
            failures.append(CheckFailure("replay-deterministic", feed, f"{label}: {what}"))
    return failures


def _value_problems(offer: Offer, vocabulary: GpuVocabulary) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    price = _get(offer, "price_per_hour")
    if not _is_number(price) or not math.isfinite(price) or price <= 0:
        problems.append(("prices-finite-positive", f"price_per_hour is {price!r}"))
    upfront = _get(offer, "upfront", 0.0)
    if not _is_number(upfront) or not math.isfinite(upfront) or upfront < 0:
        problems.append(("prices-finite-positive", f"upfront is {upfront!r}"))
    source = _get(offer, "source")
    if not (
        isinstance(source, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in source.items())
        and any(v.strip() for v in source.values())
    ):
        problems.append(("source-named", f"source {source!r} names no source row"))
    gpu = _get(offer, "gpu")
    if not isinstance(gpu, str):
        problems.append(("gpu-known", f"gpu {gpu!r} is not a name"))
    else:
        try:
            vocabulary.canonical(gpu)
        except UnknownGpu as exc:
            problems.append(("gpu-known", str(exc)))
    return problems


def natural_key(offer: Offer) -> tuple[str, ...]:
    """The offer's natural key as text, also for an offer built with ``model_construct``."""
    return tuple(_text(_get(offer, name)) for name in _KEY_FIELDS)


def describe(offer: Offer, *, key: bool = True) -> str:
    """An offer in one line: its natural key (unless ``key`` is false), price and source."""
    parts: list[str] = []
    if key:
        _, region, zone, instance, option, term, payment, klass = natural_key(offer)
        parts = [instance, f"{region}/{zone}" if zone else region, option]
        parts += [f"{term}h" if term not in ("", "0") else "", payment, klass]
    price, currency = _get(offer, "price_per_hour"), _get(offer, "currency", "")
    parts.append(f"at {price!r} {_text(currency)}/h".rstrip())
    parts.append(f"source {_get(offer, 'source')!r}")
    return _short(" ".join(p for p in parts if p))


def _fingerprints(items: Sequence[object]) -> tuple[Counter[str], dict[str, object]]:
    """How often each canonical text occurs, and an example item for each text."""
    counts: Counter[str] = Counter()
    examples: dict[str, object] = {}
    for item in items:
        fingerprint = _fingerprint(item)
        counts[fingerprint] += 1
        examples.setdefault(fingerprint, item)
    return counts, examples


def _fingerprint(item: object) -> str:
    """The item's full field values as canonical JSON, ``observed_at`` left out."""
    model: Offer | InterruptionRate
    try:
        model = validate_offer(item)
    except ValueError:
        try:
            model = validate_interruption_rate(item)
        except ValueError:
            if isinstance(item, Mapping):
                item = {k: v for k, v in item.items() if k != "observed_at"}
            return "invalid " + repr(item)
    names = type(model).model_fields
    values = {name: getattr(model, name, None) for name in names if name != "observed_at"}
    try:
        return json.dumps(values, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # a model_construct source with keys that do not sort
        return repr(values)


def _get(offer: Offer | InterruptionRate, name: str, default: object = None) -> object:
    value = getattr(offer, name, _MISSING)
    return default if value is _MISSING else value


def _text(value: object) -> str:
    if value is None:
        return ""
    inner = getattr(value, "value", value)  # enums
    return str(inner)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."
