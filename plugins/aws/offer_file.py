"""The EC2 offer file (CSV): which rows are GPU prices, and how reserved terms are combined.

One offer file per region has a row per SKU x offer term x rate. :class:`OfferFileParser`
streams it (through :class:`~plugins.aws.csv_stream.CsvStream`) into a :class:`PricePoint` per
way to pay for one machine, or a :class:`~plugins.aws.rows.RowProblem`; it knows of GPUs only
what the :class:`~plugins.aws.rows.RowSelector` tells it (:mod:`plugins.aws.offers` makes the
offers). A reserved term's hourly and upfront-fee rows need not be adjacent, so kept rows are
buffered by (SKU, OfferTermCode) until the term is whole. Which rows :func:`linux_gpu_selector`
keeps and how a term's price is computed: docs/providers/aws.md, "The EC2 offer files".
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from aggregator.models import HOURS_PER_YEAR, OfferingClass, Payment, PurchaseOption
from plugins.aws.csv_stream import CsvStream, adrive, drive
from plugins.aws.families import GPU_FAMILIES, NOT_GPU_FAMILIES, GpuFamily, family_of
from plugins.aws.network import NETWORK_COLUMN
from plugins.aws.rows import Row, RowProblem, RowSelector, named_rows, parse_price

# The row types of plugins.aws.rows are importable from here too, beside the parser using them.
__all__ = [
    "COLUMNS",
    "PAYMENTS",
    "TERM_HOURS",
    "OfferFileParser",
    "PricePoint",
    "Result",
    "Row",
    "RowProblem",
    "RowSelector",
    "gpu_count",
    "linux_gpu_selector",
    "named_rows",
    "parse_price",
]

#: The columns this parser reads; a file lacking any of them is refused as a format change.
COLUMNS = (
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "Unit",
    "PricePerUnit",
    "Currency",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
    "Product Family",
    "Instance Type",
    "vCPU",
    "Memory",
    NETWORK_COLUMN,
    "Tenancy",
    "Operating System",
    "License Model",
    "CapacityStatus",
    "Pre Installed S/W",
    "MarketOption",
    "GPU",
    "GPU Memory",
    "Region Code",
)

TERM_HOURS: Mapping[str, int] = {"1yr": HOURS_PER_YEAR, "3yr": 3 * HOURS_PER_YEAR}
PAYMENTS: Mapping[str, Payment] = {
    "No Upfront": Payment.NO_UPFRONT,
    "Partial Upfront": Payment.PARTIAL_UPFRONT,
    "All Upfront": Payment.ALL_UPFRONT,
}
_CLASSES: Mapping[str, OfferingClass] = {
    "standard": OfferingClass.STANDARD,
    "convertible": OfferingClass.CONVERTIBLE,
}
_UPFRONT_FEE = "Upfront Fee"


def gpu_count(text: str) -> float:
    """The ``GPU`` column as a number; empty, ``NA`` or unreadable count as 0."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def linux_gpu_selector(families: Mapping[str, GpuFamily] = GPU_FAMILIES) -> RowSelector:
    """The selector the ``aws/on-demand`` feed uses (conditions in docs/providers/aws.md)."""

    def keep(row: Row) -> bool:
        if not (
            row["Operating System"] == "Linux"
            and row["Tenancy"] == "Shared"
            and row["CapacityStatus"] == "Used"
            and row["Pre Installed S/W"] == "NA"
            and row["License Model"] == "No License required"
            and row["MarketOption"] in ("OnDemand", "")
            and row["Product Family"].startswith("Compute Instance")
        ):
            return False
        family = family_of(row["Instance Type"])
        if family in NOT_GPU_FAMILIES:
            return False
        return family in families or gpu_count(row["GPU"]) > 0

    return RowSelector(
        required=(b"Linux", b"Shared", b"Used", b"No License required"),
        keep=keep,
    )


@dataclass(frozen=True)
class PricePoint:
    """One way to pay for one machine in one region: an on-demand rate or a reserved term.

    ``hourly`` is the rate per hour (0 for all upfront), ``upfront`` the one-off fee;
    :attr:`price_per_hour` amortizes the fee over the term. ``gpu``, ``gpu_memory``, ``vcpu``,
    ``memory`` and ``network`` are the raw column texts, checked later against the GPU table
    and read by :mod:`plugins.aws.offers`.
    """

    instance_type: str
    region: str
    currency: str
    purchase_option: PurchaseOption
    hourly: float
    source: dict[str, str]
    gpu: str = ""
    gpu_memory: str = ""
    vcpu: str = ""
    memory: str = ""
    network: str = ""
    upfront: float = 0.0
    term_hours: int = 0
    payment: Payment | None = None
    offering_class: OfferingClass | None = None

    @property
    def price_per_hour(self) -> float:
        """Effective price of one instance-hour, the upfront fee spread over the term."""
        if self.term_hours:
            return self.hourly + self.upfront / self.term_hours
        return self.hourly


Result = PricePoint | RowProblem


@dataclass
class _ReservedParts:
    """The rows of one reserved term seen so far."""

    hourly: Row | None = None
    fee: Row | None = None


def _describe(row: Row) -> str:
    return (
        f"{row['SKU']}.{row['OfferTermCode']} {row['Instance Type']} {row['Region Code']} "
        f"{row['TermType']} {row['LeaseContractLength']} {row['PurchaseOption']} "
        f"{row['OfferingClass']} {row['Unit']} {row['PricePerUnit']} {row['Currency']}"
    ).strip()


@dataclass
class OfferFileParser:
    """Streams one offer file into price points (see docs/providers/aws.md).

    Push chunks with :meth:`feed` and finish with :meth:`close`, or let :meth:`parse` /
    :meth:`aparse` drive it from a sync or async chunk source. ``what`` names the file in
    errors (its URL).
    """

    selector: RowSelector = field(default_factory=linux_gpu_selector)
    what: str = "offer file"
    stream: CsvStream = field(init=False)
    _columns: dict[str, int] | None = field(init=False, default=None)
    _reserved: dict[tuple[str, str], _ReservedParts] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.stream = CsvStream(required=self.selector.required, what=self.what)

    @property
    def version(self) -> str:
        """The ``Version`` line of the file's preamble ("" until read)."""
        return self.stream.metadata.get("Version", "")

    @property
    def pending_reserved(self) -> int:
        """Reserved terms waiting for their second row (bounded by the kept rows)."""
        return len(self._reserved)

    def feed(self, chunk: bytes) -> list[Result]:
        """Take the next piece of the body; return the price points it completed."""
        return self._handle(self.stream.feed(chunk))

    def close(self) -> list[Result]:
        """End of the file: the last rows, then a problem for every incomplete reserved term."""
        results = self._handle(self.stream.close())
        pending, self._reserved = self._reserved, {}
        for (sku, term), parts in pending.items():
            present = parts.hourly if parts.hourly is not None else parts.fee
            if present is None:  # never buffered empty; keeps the type checker honest
                continue
            missing = "Upfront Fee row" if parts.fee is None else "hourly (Hrs) row"
            results.append(
                RowProblem(
                    f"reserved term {sku}.{term} has no {missing} in the offer file",
                    _describe(present),
                )
            )
        return results

    def parse(self, chunks: Iterable[bytes]) -> Iterator[Result]:
        """Everything the file yields, from a synchronous chunk source."""
        return drive(self, chunks)

    def aparse(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[Result]:
        """Everything the file yields, from an asynchronous chunk source (a response body)."""
        return adrive(self, chunks)

    # --- internals ------------------------------------------------------------------------

    def _handle(self, rows: list[list[str]]) -> list[Result]:
        header = self.stream.header
        if header is None:
            return []
        if self._columns is None:
            self._columns = self.stream.column_index(COLUMNS)
        keep = self.selector.keep
        results: list[Result] = []
        for row in named_rows(rows, len(header), self._columns):
            if isinstance(row, RowProblem):
                results.append(row)
                continue
            if not keep(row):
                continue
            term_type, unit = row["TermType"], row["Unit"]
            if term_type == "OnDemand" and unit == "Hrs":
                results.append(self._on_demand(row))
            elif term_type == "Reserved" and (
                unit == "Hrs" or (unit == "Quantity" and row["PriceDescription"] == _UPFRONT_FEE)
            ):
                result = self._reserved_part(row)
                if result is not None:
                    results.append(result)
        return results

    def _source(self, row: Row) -> dict[str, str]:
        source = {
            "sku": row["SKU"],
            "offer_term_code": row["OfferTermCode"],
            "rate_code": row["RateCode"],
        }
        if self.version:
            source["offer_file_version"] = self.version
        return source

    def _on_demand(self, row: Row) -> Result:
        price = parse_price(row["PricePerUnit"])
        if price is None:
            return RowProblem(
                f"price {row['PricePerUnit']!r} is not a number",
                _describe(row),
                offer={
                    "region": row["Region Code"],
                    "instance_type": row["Instance Type"],
                    "purchase_option": PurchaseOption.ON_DEMAND.value,
                },
            )
        return PricePoint(
            instance_type=row["Instance Type"],
            region=row["Region Code"],
            currency=row["Currency"],
            purchase_option=PurchaseOption.ON_DEMAND,
            hourly=price,
            source=self._source(row),
            gpu=row["GPU"],
            gpu_memory=row["GPU Memory"],
            vcpu=row["vCPU"],
            memory=row["Memory"],
            network=row[NETWORK_COLUMN],
        )

    def _reserved_part(self, row: Row) -> Result | None:
        """Buffer one part of a reserved term; return the term once it is complete."""
        is_fee = row["Unit"] == "Quantity"
        payment = PAYMENTS.get(row["PurchaseOption"])
        if payment is Payment.NO_UPFRONT and is_fee:
            # A no-upfront term needs no fee row; a zero one changes nothing, any other is odd.
            if parse_price(row["PricePerUnit"]) == 0:
                return None
            return RowProblem("a No Upfront reserved term with an upfront fee", _describe(row))
        key = (row["SKU"], row["OfferTermCode"])
        parts = self._reserved.get(key) or _ReservedParts()
        if (parts.fee if is_fee else parts.hourly) is not None:
            return RowProblem(f"reserved term {key[0]}.{key[1]} listed twice", _describe(row))
        if is_fee:
            parts.fee = row
        else:
            parts.hourly = row
        if parts.hourly is None or (parts.fee is None and payment is not Payment.NO_UPFRONT):
            self._reserved[key] = parts
            return None
        self._reserved.pop(key, None)
        return self._combine(parts.hourly, parts.fee)

    def _combine(self, hourly_row: Row, fee_row: Row | None) -> Result:
        term_hours = TERM_HOURS.get(hourly_row["LeaseContractLength"])
        payment = PAYMENTS.get(hourly_row["PurchaseOption"])
        offering_class = _CLASSES.get(hourly_row["OfferingClass"])
        if term_hours is None or payment is None or offering_class is None:
            return RowProblem(
                "unknown reserved term (lease, purchase option or offering class)",
                _describe(hourly_row),
            )
        hourly = parse_price(hourly_row["PricePerUnit"])
        upfront = 0.0 if fee_row is None else parse_price(fee_row["PricePerUnit"])
        if hourly is None or upfront is None:
            return RowProblem(
                "a reserved price is not a number",
                _describe(fee_row or hourly_row),
                offer={
                    "region": hourly_row["Region Code"],
                    "instance_type": hourly_row["Instance Type"],
                    "purchase_option": PurchaseOption.RESERVED.value,
                    "term_hours": term_hours,
                    "payment": payment.value,
                    "offering_class": offering_class.value,
                },
            )
        if fee_row is not None:
            for column in (
                "Currency",
                "LeaseContractLength",
                "PurchaseOption",
                "OfferingClass",
                "Instance Type",
                "Region Code",
            ):
                if fee_row[column] != hourly_row[column]:
                    return RowProblem(
                        f"the two rows of a reserved term disagree on {column}",
                        _describe(fee_row),
                    )
        source = self._source(hourly_row)
        if fee_row is not None:
            source["upfront_rate_code"] = fee_row["RateCode"]
        return PricePoint(
            instance_type=hourly_row["Instance Type"],
            region=hourly_row["Region Code"],
            currency=hourly_row["Currency"],
            purchase_option=PurchaseOption.RESERVED,
            hourly=hourly,
            source=source,
            gpu=hourly_row["GPU"],
            gpu_memory=hourly_row["GPU Memory"],
            vcpu=hourly_row["vCPU"],
            memory=hourly_row["Memory"],
            network=hourly_row[NETWORK_COLUMN],
            upfront=upfront,
            term_hours=term_hours,
            payment=payment,
            offering_class=offering_class,
        )
