"""The planner's request and answer: what to plan, and the priced plan that comes back.

Every request field is checked here, so the CLI (exit 2) and the API (HTTP 422 naming the
field) refuse the same input; :class:`PlanQuery` is the request as ``GET`` query parameters.
The solver is :mod:`aggregator.planner`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from annotated_types import Ge, Gt, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    computed_field,
    field_validator,
    model_validator,
)

from aggregator.errors import InvalidInput
from aggregator.globs import strip_space
from aggregator.inputs import (
    RATIO_PAIR_PATTERN,
    WHOLE_NUMBER,
    FiniteInput,
    Glob,
    InterconnectGbps,
    MemoryGbPerGpu,
    Text,
    VcpusPerGpu,
    option_spelling,
    ratio_pairs,
)
from aggregator.limits import (
    MAX_BUDGET,
    MAX_LIST_ITEMS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_WILDCARDS,
    MAX_TEXT_LENGTH,
    MIN_DEADLINE_HOURS,
    validation_message,
)
from aggregator.models import (
    OfferingClass,
    Payment,
    PurchaseOption,
)
from aggregator.plan_defaults import (
    DEFAULT_CHECKPOINT_MINUTES,
    DEFAULT_MIN_MEMORY_GB_PER_GPU,
    DEFAULT_MIN_VCPUS_PER_GPU,
    DEFAULT_RESTART_MINUTES,
    MAX_JOB_MINUTES,
)

__all__ = [
    "DEFAULT_PLAN_PURCHASE_OPTIONS",
    "MAX_PLAN_GPU_HOURS",
    "MIN_PLAN_GPU_HOURS",
    "Plan",
    "PlanLine",
    "PlanQuery",
    "PlanRequest",
]


DEFAULT_PLAN_PURCHASE_OPTIONS: tuple[PurchaseOption, ...] = (
    PurchaseOption.ON_DEMAND,
    PurchaseOption.RESERVED,
    PurchaseOption.SAVINGS_PLAN,
    PurchaseOption.COMMITTED,
)
"""What a plan may buy unless told otherwise: never interruptible capacity by surprise."""

# Bounds that keep the solver's numbers sane; far beyond any real request.
MIN_PLAN_GPU_HOURS = 1e-3  # 3.6 GPU-seconds: below it the solver's tolerances dominate
MAX_PLAN_GPU_HOURS = 1e9  # also the most a budget plan delivers
_MAX_PLAN_HOURS = 876_000.0  # 100 years
_MAX_PLAN_GPUS = 10_000_000


def _names(values: list[str], what: str) -> list[str]:
    cleaned = [strip_space(value) for value in values]
    if any(not value for value in cleaned):
        raise ValueError(f"an empty {what} matches nothing")
    return list(dict.fromkeys(cleaned))


_Auto = Annotated[
    Literal["auto"], WithJsonSchema({"type": "string", "const": "auto", "maxLength": 4})
]
"""``spot_overhead: auto``; its schema states its length, as every text of the API does."""


class PlanRequest(BaseModel):
    """What to plan: N GPU-hours (or a budget), which offers may serve them, and the constraints.

    Every field is checked here, so the CLI (exit 2) and the API (HTTP 422 naming the field)
    reject the same bad input. GPU names are resolved (aliases, memory variants) by the
    planner against the GPU vocabulary, which may include plugin GPUs. With ``equivalent_gpu``
    every quantity (``gpu_hours``, what a budget buys) is in GPU-hours of that GPU's work.

    Defaults promise a plan a cautious buyer would accept: on-demand and commitments only
    (interruptible capacity only when ``purchase_options`` names spot or low priority), whole
    GPUs only, hosts with at least :data:`DEFAULT_MIN_VCPUS_PER_GPU` vCPUs and
    :data:`DEFAULT_MIN_MEMORY_GB_PER_GPU` GB per GPU, no deadline and no cap on GPUs running
    at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_hours: Annotated[FiniteInput, Ge(MIN_PLAN_GPU_HOURS), Le(MAX_PLAN_GPU_HOURS)] | None = (
        Field(
            default=None,
            description="GPU-hours to buy (delivered, after overhead; of equivalent_gpu's work "
            f"when it is set); at least {MIN_PLAN_GPU_HOURS:g}; may be left out when budget "
            "is given",
        )
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
    min_vcpus_per_gpu: VcpusPerGpu = Field(
        default=DEFAULT_MIN_VCPUS_PER_GPU,
        description="host vCPUs per GPU (vcpus / gpu_count) an instance needs; 0 allows any. "
        "Offers whose host size the seller does not publish pass",
    )
    min_memory_gb_per_gpu: MemoryGbPerGpu = Field(
        default=DEFAULT_MIN_MEMORY_GB_PER_GPU,
        description="host memory per GPU, GB, an instance needs; 0 allows any. Offers whose "
        "host size the seller does not publish pass",
    )
    min_interconnect_gbps: InterconnectGbps | None = Field(
        default=None,
        description="documented instance-to-instance bandwidth, Gbit/s, an instance needs; "
        "offers without a documented figure never pass",
    )
    available_now: bool = Field(
        default=False,
        description="plan only with offers whose seller listed capacity for them when their "
        "price was last seen (a snapshot that can be stale); sellers that publish no capacity "
        "are left out",
    )
    spot_overhead: Annotated[FiniteInput, Ge(0), Le(100)] | _Auto = Field(
        default=0.0,
        description="share of interruptible GPU-hours lost to interruptions (0.1 = 10 %), or "
        "'auto': per offer, from the seller's interruption data and the job's checkpointing",
    )
    checkpoint_minutes: Annotated[FiniteInput, Ge(0), Le(MAX_JOB_MINUTES)] = Field(
        default=DEFAULT_CHECKPOINT_MINUTES,
        description="with spot_overhead 'auto': how often the job checkpoints",
    )
    restart_minutes: Annotated[FiniteInput, Ge(0), Le(MAX_JOB_MINUTES)] = Field(
        default=DEFAULT_RESTART_MINUTES,
        description="with spot_overhead 'auto': how long the job takes to resume",
    )
    equivalent_gpu: Text | None = Field(
        default=None,
        description="count GPU-hours as this GPU's work: an offer's GPU-hour counts "
        "throughput(its GPU) / throughput(this one); gpus becomes an optional filter",
    )
    throughput: dict[Text, Annotated[FiniteInput, Gt(0)]] = Field(
        default_factory=dict,
        max_length=MAX_LIST_ITEMS,
        description='measured throughput ratios by GPU name ({"H100": 1, "A100": 0.4}), '
        "relative to each other; they win over the data sheets' dense BF16/FP16 TFLOPS for the "
        "GPUs they name; needs equivalent_gpu",
    )
    one_cluster: bool = Field(
        default=False,
        description="every line on one provider, region (and zone, where priced per zone) and "
        "instance type; purchase options may still mix",
    )
    budget: Annotated[FiniteInput, Gt(0), Le(MAX_BUDGET)] | None = Field(
        default=None,
        description="most to spend, in the plan's currency: without gpu_hours the plan "
        "delivers the most GPU-hours within it; with gpu_hours a plan over it is refused",
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

    @model_validator(mode="after")
    def _quantity_given(self) -> Self:
        if self.gpu_hours is None and self.budget is None:
            raise ValueError(
                "give gpu_hours (how many GPU-hours to buy), budget (how much to spend), or both"
            )
        return self

    @model_validator(mode="after")
    def _throughput_needs_reference(self) -> Self:
        if self.throughput and self.equivalent_gpu is None:
            raise ValueError(
                "throughput ratios need equivalent_gpu: they say what each GPU's hour is worth "
                "in GPU-hours of that GPU"
            )
        return self

    @model_validator(mode="after")
    def _job_timing_needs_auto(self) -> Self:
        given = {"checkpoint_minutes", "restart_minutes"} & self.model_fields_set
        if given and self.spot_overhead != "auto":
            raise ValueError(
                f"{' and '.join(sorted(given))} only apply with spot_overhead 'auto', which "
                "prices interruptions from them"
            )
        return self

    @property
    def auto_spot_overhead(self) -> bool:
        return self.spot_overhead == "auto"

    @property
    def allows_interruptible(self) -> bool:
        return any(option.interruptible for option in self.purchase_options)


class PlanLine(BaseModel):
    """One offer bought in a plan: how many instances, for how long, at what cost.

    For pay-as-you-go offers ``instances`` run in parallel for ``hours_per_instance`` each and
    ``cost`` is ``instance_hours x unit_price``. For commitments ``instances`` is the number
    of units bought: ``cost`` is ``instances x term_hours x unit_price`` however little of the
    term the job uses (``billed_instance_hours`` vs ``instance_hours`` shows the difference).
    ``gpu_hours`` is what the line delivers to the job, after ``spot_overhead``; in a
    work-normalized plan ``equivalent_gpu_hours`` is the same work in GPU-hours of the plan's
    ``equivalent_gpu`` (``gpu_hours x throughput_ratio``).

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
    equivalent_gpu_hours: float | None = Field(
        default=None, description="gpu_hours in GPU-hours of the plan's equivalent_gpu"
    )
    throughput_ratio: float | None = Field(
        default=None,
        description="what one GPU-hour of this line counts in GPU-hours of equivalent_gpu",
    )
    unit_price: float = Field(description="price of one instance-hour after your terms")
    cost: float = Field(description="what the line costs after your terms")
    list_unit_price: float = Field(description="the provider's list price of one instance-hour")
    list_cost: float = Field(description="what the line would cost at the list price")
    terms: list[str] = Field(
        default_factory=list, description="your price terms applied to this offer, in order"
    )
    offer_id: str
    observed_at: datetime | None = None
    available_in: list[str] | None = Field(
        default=None,
        description="where the seller listed capacity for the offer at observed_at (a "
        "snapshot that can be stale); none where it publishes no capacity",
    )


class Plan(BaseModel):
    """The cheapest way found to buy the requested GPU-hours, in one currency.

    ``total_cost`` sums ``lines`` (never across currencies) at the prices the user pays, after
    any negotiated terms; ``list_total_cost`` sums them at list prices (equal to ``total_cost``
    when no term applied). ``gpus_at_once`` is the peak number of GPUs running when every line
    starts at once, ``duration_hours`` the longest line. ``optimal`` is False only when the
    solver's time limit stopped the search before it proved the plan cheapest (a note says so).
    ``requested_gpu_hours`` is ``None`` for a budget plan (the most GPU-hours ``budget`` buys);
    in a work-normalized plan it, like ``equivalent_gpu_hours``, counts ``equivalent_gpu``'s
    GPU-hours, while ``gpu_hours`` stays the raw GPU-hours of whatever GPUs run.
    """

    model_config = ConfigDict(frozen=True)

    label: str
    currency: str
    total_cost: float = Field(description="what the plan costs after your terms")
    gpu_hours: float = Field(description="GPU-hours delivered")
    requested_gpu_hours: float | None = Field(
        description="what was asked for; none for a budget plan"
    )
    price_per_gpu_hour: float = Field(description="total_cost / gpu_hours")
    equivalent_gpu: str | None = Field(
        default=None, description="the GPU whose work the plan's equivalent GPU-hours count"
    )
    equivalent_gpu_hours: float | None = Field(
        default=None, description="GPU-hours of equivalent_gpu's work delivered"
    )
    price_per_equivalent_gpu_hour: float | None = Field(
        default=None, description="total_cost / equivalent_gpu_hours"
    )
    budget: float | None = Field(default=None, description="the request's budget, if any")
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


_RatioPair = Annotated[
    str, Field(min_length=3, max_length=MAX_TEXT_LENGTH, pattern=RATIO_PAIR_PATTERN)
]


class PlanQuery(PlanRequest):
    """A :class:`PlanRequest` as ``GET`` query parameters: ``throughput`` repeats as
    ``GPU=RATIO`` texts (``?throughput=H100=1&throughput=A100=0.4``), the rest as in the body."""

    throughput: list[_RatioPair] = Field(  # type: ignore[assignment]
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="measured throughput ratio per GPU as GPU=RATIO, repeatable (H100=1); "
        "they win over the data sheets' figures for the GPUs they name; needs equivalent_gpu",
    )

    def request(self) -> PlanRequest:
        """The request these parameters spell; :class:`InvalidInput` naming ``throughput``."""
        given = self.model_fields_set & set(PlanRequest.model_fields)
        fields = {name: getattr(self, name) for name in given}
        fields["throughput"] = ratio_pairs(self.throughput, "throughput", "throughput")
        try:
            return PlanRequest.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "throughput"
            message = validation_message(error["msg"])
            raise InvalidInput(f"{where}: {message}", field="throughput") from None
