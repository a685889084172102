"""The normalized price model every provider plugin produces and every reader consumes.

An :class:`Offer` is one way to rent one machine: provider x region x zone x instance type x
purchase option x term x payment x offering class (its *natural key*). It is validated on
construction, so nothing inconsistent reaches the store: prices are finite, the GPU count is
positive, pay-as-you-go offers have no term and commitments have one, the currency is an ISO
4217 code and the source row is named.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, Self, TypeGuard, TypeVar

from annotated_types import Gt, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from aggregator.limits import (
    MAX_CAPACITY_PLACES,
    MAX_INTERCONNECT_GBPS,
    MAX_INTERCONNECT_NAME,
    MAX_PLACE_NAME,
)

__all__ = [
    "COMMITMENT_OPTIONS",
    "GLOBAL_REGION",
    "HOURS_PER_YEAR",
    "INTERRUPTIBLE_OPTIONS",
    "ISO_4217",
    "NATURAL_KEY_FIELDS",
    "PLACE_PATTERN",
    "Billing",
    "Finite",
    "Offer",
    "OfferingClass",
    "PastInterval",
    "PastPrice",
    "Payment",
    "PriceInterval",
    "PurchaseOption",
    "StoredOffer",
    "SyncRun",
    "SyncStatus",
    "UtcDatetime",
    "is_place",
    "natural_key_id",
    "natural_key_id_of",
    "utcnow",
]

HOURS_PER_YEAR = 8760
GLOBAL_REGION = "global"
"""The region of an offer whose seller charges one price in all its regions: the instances run
in whichever of them the buyer picks (a one-cluster plan picks one)."""
_Enum = TypeVar("_Enum", bound=StrEnum)


class PurchaseOption(StrEnum):
    """How an instance-hour is bought."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    LOW_PRIORITY = "low_priority"
    RESERVED = "reserved"
    SAVINGS_PLAN = "savings_plan"
    COMMITTED = "committed"

    @property
    def interruptible(self) -> bool:
        return self in INTERRUPTIBLE_OPTIONS

    @property
    def is_commitment(self) -> bool:
        return self in COMMITMENT_OPTIONS


INTERRUPTIBLE_OPTIONS = frozenset({PurchaseOption.SPOT, PurchaseOption.LOW_PRIORITY})
COMMITMENT_OPTIONS = frozenset(
    {PurchaseOption.RESERVED, PurchaseOption.SAVINGS_PLAN, PurchaseOption.COMMITTED}
)


class Payment(StrEnum):
    """Upfront payment choice of a commitment, where the provider distinguishes them."""

    NO_UPFRONT = "no_upfront"
    PARTIAL_UPFRONT = "partial_upfront"
    ALL_UPFRONT = "all_upfront"


class OfferingClass(StrEnum):
    """AWS reserved-instance offering class."""

    STANDARD = "standard"
    CONVERTIBLE = "convertible"


# Active ISO 4217 currency codes (a fact list; SIX Financial Information maintains it).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905
)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must be timezone-aware (UTC)")
    return value.astimezone(UTC)


Finite = Annotated[float, AfterValidator(_finite)]
# The bound before the validator, so it renders as JSON Schema's exclusiveMinimum even where
# the field is optional (Field(gt=0) on `Finite | None` renders pydantic's own `gt`).
_PositiveFinite = Annotated[float, Gt(0), AfterValidator(_finite)]
_Gbps = Annotated[float, Gt(0), Le(MAX_INTERCONNECT_GBPS), AfterValidator(_finite)]
UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
PLACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""A region or data-center name in a capacity list: no commas or spaces, so a list of them
stores as one text."""
_Place = Annotated[str, Field(min_length=1, max_length=MAX_PLACE_NAME, pattern=PLACE_PATTERN)]


def is_place(text: object) -> TypeGuard[str]:
    """Whether ``text`` may stand in ``Offer.available_in`` (plugins drop other names)."""
    return (
        isinstance(text, str)
        and len(text) <= MAX_PLACE_NAME
        and re.fullmatch(PLACE_PATTERN, text) is not None
    )


class Billing(BaseModel):
    """How usage is metered: billing increment and minimum charge, in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    increment_seconds: int = Field(gt=0, description="e.g. 1 for per-second, 60 per-minute")
    minimum_seconds: int = Field(default=0, ge=0, description="minimum charge per start")


NATURAL_KEY_FIELDS: tuple[str, ...] = (
    "provider",
    "region",
    "zone",
    "instance_type",
    "purchase_option",
    "term_hours",
    "payment",
    "offering_class",
)
"""The fields that make an offer one offer (its *natural key*), in the order
:func:`natural_key_id` hashes them and :meth:`Offer.natural_key` returns them."""


def natural_key_id(
    provider: str,
    region: str,
    zone: str | None,
    instance_type: str,
    purchase_option: str,
    term_hours: int,
    payment: str | None,
    offering_class: str | None,
) -> str:
    """A stable id for a natural key: the same offer has the same id in every store."""
    parts = [
        provider,
        region,
        zone or "",
        instance_type,
        str(purchase_option),
        str(term_hours),
        payment or "",
        offering_class or "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def natural_key_id_of(fields: Mapping[str, Any], provider: str) -> str | None:
    """The id of the offer a row's ``fields`` name, or ``None`` when its key is incomplete.

    For rows that name an offer but could not become one (a zero price, a field out of
    range): the sync engine keeps that stored offer at its last good price instead of
    withdrawing it. The key fields are checked as strictly as :class:`Offer` checks them, so
    a malformed key never holds an offer it does not name.
    """
    region, instance_type = fields.get("region"), fields.get("instance_type")
    if not (isinstance(region, str) and region and isinstance(instance_type, str)):
        return None
    if not instance_type or fields.get("provider", provider) != provider:
        return None
    try:
        option = PurchaseOption(str(fields.get("purchase_option")))
        payment = _optional(Payment, fields.get("payment"))
        offering_class = _optional(OfferingClass, fields.get("offering_class"))
    except ValueError:
        return None
    zone, term = fields.get("zone") or None, fields.get("term_hours", 0)
    if (zone is not None and not isinstance(zone, str)) or isinstance(term, bool):
        return None
    if not isinstance(term, int) or term < 0:
        return None
    return natural_key_id(
        provider,
        region,
        zone,
        instance_type,
        option.value,
        term,
        payment.value if payment else None,
        offering_class.value if offering_class else None,
    )


def _optional(kind: type[_Enum], value: object) -> _Enum | None:
    return None if value in (None, "") else kind(str(value))


class Offer(BaseModel):
    """One way to rent one machine, with its effective hourly price and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    provider: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    region: str = Field(min_length=1)
    zone: str | None = None
    instance_type: str = Field(min_length=1)
    gpu: str = Field(min_length=1, description="canonical GPU name (see `gpuhours gpus`)")
    gpu_count: Finite = Field(gt=0, description="GPUs per instance; may be fractional")
    gpu_memory_gb: Finite = Field(gt=0, description="memory per GPU")
    vcpus: _PositiveFinite | None = None
    memory_gb: _PositiveFinite | None = None
    interconnect: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_INTERCONNECT_NAME,
        pattern=r"^\S(.*\S)?$",
        description="the documented instance-to-instance fabric (EFA, InfiniBand, "
        "GPUDirect-TCPX ...); none where the seller documents none",
    )
    interconnect_gbps: _Gbps | None = Field(
        default=None,
        description="the instance's documented network bandwidth between instances, Gbit/s; "
        "none where no sustained figure is documented",
    )
    available_in: tuple[_Place, ...] | None = Field(
        default=None,
        max_length=MAX_CAPACITY_PLACES,
        description="where the seller listed capacity for this offer when its price was last "
        "seen (observed_at): regions or data centers, empty when it listed none; none where the "
        "seller publishes no capacity. A snapshot that can be stale",
    )
    purchase_option: PurchaseOption
    term_hours: int = Field(default=0, ge=0)
    payment: Payment | None = None
    offering_class: OfferingClass | None = None
    price_per_hour: Finite = Field(
        gt=0, description="effective price of one instance-hour, upfront amortized over the term"
    )
    upfront: Finite = Field(default=0.0, ge=0)
    currency: str = "USD"
    billing: Billing | None = None
    source: dict[str, str] = Field(
        description="identifiers of the source row (SKU, meter id, rate code ...)"
    )
    observed_at: UtcDatetime | None = Field(
        default=None, description="when this price was last seen at the source"
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @field_validator("source")
    @classmethod
    def _source_named(cls, value: dict[str, str]) -> dict[str, str]:
        if not value or not any(v.strip() for v in value.values()):
            raise ValueError("must name the source row (e.g. {'sku': ..., 'rate_code': ...})")
        return value

    @field_validator("zone", "interconnect", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("available_in")
    @classmethod
    def _places_once(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _term_matches_option(self) -> Self:
        option = self.purchase_option
        if option.is_commitment:
            if self.term_hours <= 0:
                raise ValueError(f"a {option.value} offer needs term_hours > 0")
        else:
            if self.term_hours != 0:
                raise ValueError(f"a {option.value} offer is pay-as-you-go: term_hours must be 0")
            if self.payment is not None or self.upfront:
                raise ValueError(f"a {option.value} offer has no upfront payment")
        if self.offering_class is not None and option is not PurchaseOption.RESERVED:
            raise ValueError("offering_class applies to reserved offers only")
        if self.term_hours and self.upfront > self.price_per_hour * self.term_hours * (1 + 1e-9):
            raise ValueError("upfront exceeds the whole term's effective price")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def interruptible(self) -> bool:
        return self.purchase_option.interruptible

    @computed_field  # type: ignore[prop-decorator]
    @property
    def available_now(self) -> bool | None:
        """Whether the seller listed capacity at ``observed_at``; None where it lists none."""
        return None if self.available_in is None else bool(self.available_in)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.gpu_count

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Stable identifier derived from the natural key."""
        return natural_key_id(*self.natural_key())

    def natural_key(self) -> tuple[str, str, str, str, str, int, str, str]:
        return (
            self.provider,
            self.region,
            self.zone or "",
            self.instance_type,
            self.purchase_option.value,
            self.term_hours,
            self.payment.value if self.payment else "",
            self.offering_class.value if self.offering_class else "",
        )


class StoredOffer(Offer):
    """An offer as the store holds it: with its feed and lifecycle timestamps."""

    feed: str
    first_seen: UtcDatetime
    withdrawn_at: UtcDatetime | None = None


class PriceInterval(BaseModel):
    """One stretch of time during which an offer had one price."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    price_per_hour: float
    upfront: float
    currency: str
    source: dict[str, str]
    valid_from: UtcDatetime
    valid_to: UtcDatetime | None = None


class PastInterval(BaseModel):
    """A price interval without its offer's id: one of the intervals an export carries with
    each offer, which a mirror adopts as the offer's history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_per_hour: Finite = Field(gt=0)
    upfront: Finite = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    source: dict[str, str]
    valid_from: UtcDatetime
    valid_to: UtcDatetime | None = Field(description="null for the interval still open")


class PastPrice(NamedTuple):
    """A :class:`PastInterval` as a relay feed hands it to the store: a plain tuple (a
    100,000-offer mirror holds one per interval until it stores them; a model each cost
    about 1.4 KB), whose ``source`` may be the offer's own mapping when it is equal."""

    price_per_hour: float
    upfront: float
    currency: str
    source: Mapping[str, str]
    valid_from: datetime
    valid_to: datetime | None


class SyncStatus(StrEnum):
    """Where a sync run stands. ``running`` is recorded before the fetch starts and replaced
    when the sync ends; a ``running`` row whose process died is shown (and later recorded) as
    ``interrupted``."""

    OK = "ok"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"
    RUNNING = "running"
    INTERRUPTED = "interrupted"


class SyncRun(BaseModel):
    """The record of one feed sync, successful or not."""

    id: int | None = None
    feed: str
    provider: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    status: SyncStatus
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    unknown: int = 0
    unknown_names: list[str] = Field(
        default_factory=list,
        description="what the plugin's tables did not know in this sync (sizes, SKUs), "
        "so a missing table row is seen the day a seller adds it",
    )
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def utcnow() -> datetime:
    """The current time, always timezone-aware UTC."""
    return datetime.now(UTC)
