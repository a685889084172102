"""The ``aws/savings-plan`` feed: Compute Savings Plans rates for GPU instance types.

Each region's savings-plan CSV (listed by its own region index, skipped when unchanged as in
:mod:`plugins.aws.regional`) has one row per plan x discounted usage. :func:`compute_sp_selector`
keeps Compute Savings Plans rows discounting Linux, shared-tenancy, hourly EC2 usage of a GPU
family; EC2 Instance Savings Plans are left out, because an offer's natural key has no room
for the plan type. ``DiscountedRate`` is the effective hourly price; ``upfront`` is the whole
term for All Upfront and 0 for Partial Upfront, whose split the buyer chooses. The file's
layout and every condition: docs/providers/aws.md, "Compute Savings Plans".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from aggregator.models import HOURS_PER_YEAR, Offer, Payment, PurchaseOption
from aggregator.providers import Feed, FetchContext
from plugins.aws.csv_stream import CsvStream, adrive, drive
from plugins.aws.families import GPU_FAMILIES, GpuFamily, family_of
from plugins.aws.offer_file import PAYMENTS
from plugins.aws.offers import GpuFit, Unknown, fit_gpu, make_offer
from plugins.aws.regional import regional_offers
from plugins.aws.rows import Row, RowProblem, RowSelector, named_rows, parse_price

__all__ = [
    "SP_COLUMNS",
    "SP_REGION_INDEX_PATH",
    "Result",
    "Row",
    "SavingsPlanFeed",
    "SavingsPlanParser",
    "SavingsPlanRate",
    "compute_sp_selector",
    "linux_shared_ec2",
    "offer_from_rate",
]

SP_REGION_INDEX_PATH = "/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/region_index.json"

SP_COLUMNS = (
    "SKU",
    "RateCode",
    "Unit",
    "DiscountedRate",
    "Currency",
    "DiscountedSKU",
    "DiscountedServiceCode",
    "DiscountedUsageType",
    "DiscountedOperation",
    "PurchaseOption",
    "LeaseContractLength",
    "LeaseContractLengthUnit",
    "Product Family",
    "DiscountedRegionCode",
    "DiscountedInstanceType",
)

_SHARED_USAGE = re.compile(r"^(?:[A-Z0-9]+-)*BoxUsage:(?P<type>\S+)$")
_YEARS: Mapping[str, int] = {"1": 1, "3": 3}


def _instance_type(row: Row) -> str:
    if row["DiscountedInstanceType"]:
        return row["DiscountedInstanceType"]
    match = _SHARED_USAGE.match(row["DiscountedUsageType"])
    return match["type"] if match else ""


def linux_shared_ec2(row: Row) -> bool:
    """Linux, shared tenancy, used capacity, per-hour EC2 usage (any plan family)."""
    return (
        row["DiscountedServiceCode"] == "AmazonEC2"
        and row["DiscountedOperation"] == "RunInstances"
        and row["Unit"] == "Hrs"
        and _SHARED_USAGE.match(row["DiscountedUsageType"]) is not None
    )


def compute_sp_selector(families: Mapping[str, GpuFamily] = GPU_FAMILIES) -> RowSelector:
    """The selector the ``aws/savings-plan`` feed uses (conditions in docs/providers/aws.md)."""

    def keep(row: Row) -> bool:
        return (
            row["Product Family"] == "ComputeSavingsPlans"
            and linux_shared_ec2(row)
            and family_of(_instance_type(row)) in families
        )

    return RowSelector(
        required=(b"ComputeSavingsPlans", b"AmazonEC2", b"BoxUsage:", b"RunInstances"),
        keep=keep,
    )


@dataclass(frozen=True)
class SavingsPlanRate:
    """One plan's hourly rate for one instance type in one region."""

    instance_type: str
    region: str
    rate: float
    currency: str
    term_hours: int
    payment: Payment
    source: dict[str, str]

    @property
    def upfront(self) -> float:
        """The prepaid part per instance: all of the term for All Upfront, else unknown (0)."""
        return self.rate * self.term_hours if self.payment is Payment.ALL_UPFRONT else 0.0


Result = SavingsPlanRate | RowProblem


@dataclass
class SavingsPlanParser:
    """Streams one savings-plan CSV into :class:`SavingsPlanRate` objects (push parser)."""

    selector: RowSelector = field(default_factory=compute_sp_selector)
    what: str = "savings plan file"
    stream: CsvStream = field(init=False)
    _columns: dict[str, int] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.stream = CsvStream(required=self.selector.required, what=self.what)

    def feed(self, chunk: bytes) -> list[Result]:
        return self._handle(self.stream.feed(chunk))

    def close(self) -> list[Result]:
        return self._handle(self.stream.close())

    def parse(self, chunks: Iterable[bytes]) -> Iterator[Result]:
        return drive(self, chunks)

    def aparse(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[Result]:
        return adrive(self, chunks)

    def _handle(self, rows: list[list[str]]) -> list[Result]:
        header = self.stream.header
        if header is None:
            return []
        if self._columns is None:
            self._columns = self.stream.column_index(SP_COLUMNS)
        results: list[Result] = []
        for row in named_rows(rows, len(header), self._columns):
            if isinstance(row, RowProblem):
                results.append(row)
            elif self.selector.keep(row):
                results.append(self._rate(row))
        return results

    def _rate(self, row: Row) -> Result:
        raw = (
            f"{row['RateCode']} {row['DiscountedUsageType']} {row['DiscountedRegionCode']} "
            f"{row['LeaseContractLength']} {row['LeaseContractLengthUnit']} "
            f"{row['PurchaseOption']} {row['DiscountedRate']} {row['Currency']}"
        )
        years = _YEARS.get(row["LeaseContractLength"])
        payment = PAYMENTS.get(row["PurchaseOption"])
        if years is None or row["LeaseContractLengthUnit"] != "year" or payment is None:
            return RowProblem("unknown savings plan term or purchase option", raw)
        rate = parse_price(row["DiscountedRate"])
        if rate is None:
            return RowProblem(f"rate {row['DiscountedRate']!r} is not a number", raw)
        source = {
            "sku": row["SKU"],
            "rate_code": row["RateCode"],
            "discounted_sku": row["DiscountedSKU"],
            "discounted_usage_type": row["DiscountedUsageType"],
        }
        if version := self.stream.metadata.get("Version", ""):
            source["savings_plan_file_version"] = version
        return SavingsPlanRate(
            instance_type=_instance_type(row),
            region=row["DiscountedRegionCode"],
            rate=rate,
            currency=row["Currency"],
            term_hours=years * HOURS_PER_YEAR,
            payment=payment,
            source=source,
        )


def offer_from_rate(rate: SavingsPlanRate) -> Offer | RowProblem | Unknown | None:
    """The ``savings_plan`` offer for one rate."""
    fit = fit_gpu(rate.instance_type)
    if not isinstance(fit, GpuFit):
        return fit
    return make_offer(
        fit,
        region=rate.region,
        instance_type=rate.instance_type,
        purchase_option=PurchaseOption.SAVINGS_PLAN,
        term_hours=rate.term_hours,
        payment=rate.payment,
        price_per_hour=rate.rate,
        upfront=rate.upfront,
        currency=rate.currency,
        source=rate.source,
    )


class SavingsPlanFeed(Feed):
    """Compute Savings Plans rates (1 and 3 years, every payment option) of GPU instances."""

    name: ClassVar[str] = "savings-plan"
    title: ClassVar[str] = "Compute Savings Plans rates (savings plan price files)"
    default_interval: ClassVar[timedelta] = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer | Mapping[str, Any]]:
        async for offer in regional_offers(
            ctx,
            SP_REGION_INDEX_PATH,
            state_prefix="savings-plan-file",
            make_parser=lambda url: SavingsPlanParser(what=url),
            point_type=SavingsPlanRate,
            to_outcome=offer_from_rate,
            file_kind="savings plan file",
        ):
            yield offer
