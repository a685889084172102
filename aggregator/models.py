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
from typing import Annotated, Any, Self, TypeVar

from annotated_types import Ge, Gt, Le
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from aggregator.errors import InvalidInput
from aggregator.globs import PATTERN_REGEX, check_pattern, strip_space
from aggregator.limits import (
    MAX_LIST_ITEMS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_WILDCARDS,
    MAX_TEXT_LENGTH,
    MIN_DEADLINE_HOURS,
)

__all__ = [
    "COMMITMENT_OPTIONS",
    "HOURS_PER_YEAR",
    "INTERRUPTIBLE_OPTIONS",
    "ISO_4217",
    "NATURAL_KEY_FIELDS",
    "WHOLE_NUMBER",
    "Billing",
    "Finite",
    "FiniteInput",
    "Glob",
    "Offer",
    "OfferingClass",
    "Payment",
    "PriceInterval",
    "PurchaseOption",
    "StoredOffer",
    "SyncRun",
    "SyncStatus",
    "Text",
    "UtcDatetime",
    "natural_key_id",
    "natural_key_id_of",
    "option_spelling",
    "utcnow",
]

HOURS_PER_YEAR = 8760
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
UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]


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

    @field_validator("zone", mode="before")
    @classmethod
    def _empty_zone_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

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


# --------------------------------------------------------------------------------------------
# The planner's request and answer. The solver is aggregator/planner/.

__all__ += ["DEFAULT_PLAN_PURCHASE_OPTIONS", "Plan", "PlanLine", "PlanRequest"]

DEFAULT_PLAN_PURCHASE_OPTIONS: tuple[PurchaseOption, ...] = (
    PurchaseOption.ON_DEMAND,
    PurchaseOption.RESERVED,
    PurchaseOption.SAVINGS_PLAN,
    PurchaseOption.COMMITTED,
)
"""What a plan may buy unless told otherwise: never interruptible capacity by surprise."""

# Bounds that keep the solver's numbers sane; far beyond any real request.
_MIN_PLAN_GPU_HOURS = 1e-3  # 3.6 GPU-seconds: below it the solver's tolerances dominate
_MAX_PLAN_GPU_HOURS = 1e9
_MAX_PLAN_HOURS = 876_000.0  # 100 years
_MAX_PLAN_GPUS = 10_000_000


def option_spelling(value: Any) -> Any:
    """Accept ``on-demand`` / ``Savings Plan`` as well as the enum values."""
    if isinstance(value, str):
        return value.strip().lower().replace("-", "_").replace(" ", "_")
    if isinstance(value, list | tuple):
        return [option_spelling(item) for item in value]
    return value


def _names(values: list[str], what: str) -> list[str]:
    cleaned = [strip_space(value) for value in values]
    if any(not value for value in cleaned):
        raise ValueError(f"an empty {what} matches nothing")
    return list(dict.fromkeys(cleaned))


_WHOLE_TEXT = re.compile(r"\s*\d+(\.0*)?\s*")


def _whole_number(value: Any, info: ValidationInfo) -> Any:
    """``3.0`` as the integer 3, as JSON Schema counts it; ``3.5`` stays for the int check.

    Query text ("3.0") is converted too, but not a JSON string (validated in ``json`` mode,
    where a string is never a number).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and info.mode == "python" and _WHOLE_TEXT.fullmatch(value):
        return int(float(value))
    return value


FiniteInput = Annotated[float, AllowInfNan(False)]
"""A number from a user: NaN and infinities are refused ("Input should be a finite number")
before any bound is checked. Bounds go in an enclosing ``Annotated`` (``Gt(0)`` ...), where
they apply to the number itself and render as standard JSON Schema keywords even when the
field is optional (``Field(gt=0)`` on ``X | None`` renders a non-standard ``gt``)."""

WHOLE_NUMBER = BeforeValidator(_whole_number)
"""Marks an integer input that takes a whole-number float (``3.0``), as JSON Schema counts it:
``Annotated[int, Ge(0), WHOLE_NUMBER]``. It goes after the bounds, which then stay standard
JSON Schema keywords (before them they would render as ``ge``/``le``)."""


Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_LENGTH, json_schema_extra={"pattern": r"\S"}),
]
"""One name in a list input (GPU, provider ...): not blank, at most ``MAX_TEXT_LENGTH``. Blank
is refused by the validators (after ``strip``); the pattern only tells the schema's readers."""


def _region_pattern(value: str) -> str:
    try:
        return check_pattern(value, "region")
    except InvalidInput as exc:  # pydantic names the field itself (``regions.0``)
        raise ValueError(str(exc).removeprefix("region: ")) from None


Glob = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_PATTERN_LENGTH, json_schema_extra={"pattern": PATTERN_REGEX}
    ),
    AfterValidator(_region_pattern),
]
"""A region glob, stripped: :func:`aggregator.globs.check_pattern` is the rule, the pattern
its schema."""


class PlanRequest(BaseModel):
    """What to plan: N GPU-hours, which GPUs and offers may serve them, and the constraints.

    Every field is checked here, so the CLI (exit 2) and the API (HTTP 422 naming the field)
    reject the same bad input. GPU names are resolved (aliases, memory variants) by the
    planner against the GPU vocabulary, which may include plugin GPUs.

    Defaults promise a plan a cautious buyer would accept: on-demand and commitments only
    (interruptible capacity only when ``purchase_options`` names spot or low priority), whole
    GPUs only, no deadline and no cap on GPUs running at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_hours: Annotated[FiniteInput, Ge(_MIN_PLAN_GPU_HOURS), Le(_MAX_PLAN_GPU_HOURS)] = Field(
        description="GPU-hours to buy (delivered, after overhead); at least "
        f"{_MIN_PLAN_GPU_HOURS:g}"
    )
    gpus: list[Text] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="accepted GPUs: names or aliases (a100:80); empty = any",
    )
    min_gpu_memory_gb: Annotated[FiniteInput, Ge(0)] | None = Field(
        default=None, description="per GPU"
    )
    providers: list[Text] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS, description="empty = every provider"
    )
    regions: list[Glob] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description=f"region codes or globs (us-*, at most {MAX_PATTERN_LENGTH} characters "
        f"and {MAX_PATTERN_WILDCARDS} wildcards); empty = every region",
    )
    purchase_options: list[PurchaseOption] = Field(
        default_factory=lambda: list(DEFAULT_PLAN_PURCHASE_OPTIONS),
        min_length=1,
        max_length=len(PurchaseOption),
        description="what may be bought; spot and low_priority only when listed",
    )
    gpus_per_node: Annotated[FiniteInput, Gt(0)] | None = Field(
        default=None, description="exact GPUs per instance"
    )
    min_gpus_per_node: Annotated[FiniteInput, Gt(0)] | None = None
    max_gpus_per_node: Annotated[FiniteInput, Gt(0)] | None = None
    deadline_hours: Annotated[FiniteInput, Ge(MIN_DEADLINE_HOURS), Le(_MAX_PLAN_HOURS)] | None = (
        Field(
            default=None,
            description="wall-clock hours in which every GPU-hour must be delivered; at least "
            f"{MIN_DEADLINE_HOURS:g} (shorter deadlines would need absurd numbers of GPUs)",
        )
    )
    max_gpus: Annotated[int, Gt(0), Le(_MAX_PLAN_GPUS), WHOLE_NUMBER] | None = Field(
        default=None, description="GPUs that may run at once"
    )
    allow_fractional: bool = Field(
        default=False, description="allow instances with a fraction of a GPU (1/6 A10)"
    )
    spot_overhead: Annotated[FiniteInput, Ge(0), Le(100)] = Field(
        default=0.0,
        description="share of interruptible GPU-hours lost to interruptions (0.1 = 10 %)",
    )
    top: Annotated[int, Ge(0), Le(20), WHOLE_NUMBER] = Field(
        default=3, description="how many alternatives to show"
    )
    apply_terms: bool = Field(
        default=True,
        description="price offers by your negotiated terms (GPUHOURS_TERMS_FILE, plugins); "
        "false plans at list prices",
    )

    @field_validator("gpus")
    @classmethod
    def _gpu_names(cls, value: list[str]) -> list[str]:
        return _names(value, "GPU name")

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: list[str]) -> list[str]:
        return [name.lower() for name in _names(value, "provider name")]

    @field_validator("regions")
    @classmethod
    def _region_globs(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("purchase_options", mode="before")
    @classmethod
    def _option_text(cls, value: Any) -> Any:
        return option_spelling(value)

    @field_validator("purchase_options")
    @classmethod
    def _unique_options(cls, value: list[PurchaseOption]) -> list[PurchaseOption]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _node_size_consistent(self) -> Self:
        if self.gpus_per_node is not None and (
            self.min_gpus_per_node is not None or self.max_gpus_per_node is not None
        ):
            raise ValueError("give gpus_per_node, or min/max_gpus_per_node, not both")
        low, high = self.min_gpus_per_node, self.max_gpus_per_node
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_gpus_per_node ({low:g}) exceeds max_gpus_per_node ({high:g})")
        return self

    @property
    def allows_interruptible(self) -> bool:
        return any(option.interruptible for option in self.purchase_options)


class PlanLine(BaseModel):
    """One offer bought in a plan: how many instances, for how long, at what cost.

    For pay-as-you-go offers ``instances`` run in parallel for ``hours_per_instance`` each and
    ``cost`` is ``instance_hours x unit_price``. For commitments ``instances`` is the number
    of units bought: ``cost`` is ``instances x term_hours x unit_price`` however little of the
    term the job uses (``billed_instance_hours`` vs ``instance_hours`` shows the difference).
    ``gpu_hours`` is what the line delivers to the job, after ``spot_overhead``.

    ``unit_price`` and ``cost`` are what the user pays: the provider's list price after the
    user's negotiated terms (:mod:`aggregator.terms`), named in ``terms`` in the order they
    applied. ``list_unit_price`` and ``list_cost`` are the same at the list price, as stored;
    without terms they equal ``unit_price`` and ``cost``.
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    region: str
    zone: str | None = None
    instance_type: str
    gpu: str
    gpu_memory_gb: float
    gpus_per_instance: float
    purchase_option: PurchaseOption
    interruptible: bool
    term_hours: int
    payment: Payment | None = None
    offering_class: OfferingClass | None = None
    instances: int
    hours_per_instance: float
    instance_hours: float
    billed_instance_hours: float
    gpu_hours: float
    unit_price: float = Field(description="price of one instance-hour after your terms")
    cost: float = Field(description="what the line costs after your terms")
    list_unit_price: float = Field(description="the provider's list price of one instance-hour")
    list_cost: float = Field(description="what the line would cost at the list price")
    terms: list[str] = Field(
        default_factory=list, description="your price terms applied to this offer, in order"
    )
    offer_id: str
    observed_at: datetime | None = None


class Plan(BaseModel):
    """The cheapest way found to buy the requested GPU-hours, in one currency.

    ``total_cost`` sums ``lines`` (never across currencies) at the prices the user pays, after
    any negotiated terms; ``list_total_cost`` sums them at list prices (equal to ``total_cost``
    when no term applied). ``gpus_at_once`` is the peak number of GPUs running when every line
    starts at once, ``duration_hours`` the longest line. ``optimal`` is False only when the
    solver's time limit stopped the search before it proved the plan cheapest (a note says so).
    """

    model_config = ConfigDict(frozen=True)

    label: str
    currency: str
    total_cost: float = Field(description="what the plan costs after your terms")
    gpu_hours: float = Field(description="GPU-hours delivered")
    requested_gpu_hours: float
    price_per_gpu_hour: float = Field(description="total_cost / gpu_hours")
    gpus_at_once: float
    duration_hours: float
    interruptible_gpu_hours: float
    optimal: bool = True
    lines: list[PlanLine]
    alternatives: list[Plan] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @computed_field(  # type: ignore[prop-decorator]
        description="total_cost at list prices, before your terms"
    )
    @property
    def list_total_cost(self) -> float:
        return sum(line.list_cost for line in self.lines)
