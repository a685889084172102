"""What a sheet's rows mean: each row is one rate, checked field by field and made an offer.

The fields (the same in YAML and CSV; case, spaces and dashes in names do not matter):

==================== ======== ==========================================================
field                needed   meaning
==================== ======== ==========================================================
region               yes      where the nodes are (``us-east``, ``on-prem-berlin``)
instance_type        yes      the node type as you call it (``hgx-h100-8x``)
gpu                  yes      any spelling ``gpuhours gpus`` knows (``H100``, ``a100:80``)
gpus_per_node        yes      GPUs in one node (> 0; a fraction for a shared GPU)
purchase_option      yes      on_demand, spot, low_priority, reserved, savings_plan,
                              committed (``on-demand`` and ``On Demand`` work too)
price_per_hour       one of   price of one node-hour
price_per_gpu_hour   these    price of one GPU-hour (a chargeback rate); x gpus_per_node
term                 commit.  length of a reserved / savings_plan / committed rate:
                              ``1y``, ``3 years``, ``36mo``, ``8760h``; empty otherwise
gpu_memory_gb        maybe    per GPU; needed only when the GPU comes in several sizes
                              and ``gpu`` does not say which (``A100`` vs ``A100-80GB``)
currency             no       ISO 4217 code, default ``USD``
valid_from           no       first day the rate applies (``YYYY-MM-DD``, inclusive)
valid_until          no       last day the rate applies (``YYYY-MM-DD``, inclusive)
id                   no       your reference for the row (contract line, cost centre)
vcpus, memory_gb     no       per node, for display
notes                no       free text, ignored
==================== ======== ==========================================================

Days are UTC days. A commitment's price is its effective hourly price over the whole term
(fold any upfront payment into it); the planner charges the whole term.

Every problem in every row is collected; :func:`parse_sheet` raises one :class:`SheetError`
listing them all, so a sheet is used whole or not at all. Beyond single fields it also
refuses two rows for the same offer (same region, instance_type, purchase_option and term)
whose validity periods overlap, and one instance type described with different GPUs in one
region.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import pydantic
from aggregator.errors import UnknownGpu
from aggregator.gpus import MEMORY_TOLERANCE_GB, GpuVocabulary
from aggregator.models import HOURS_PER_YEAR, Offer, PurchaseOption

from gpuhours_pricesheet.errors import Problem, SheetError
from gpuhours_pricesheet.reading import Header, RawRow, Rows, read_rows
from gpuhours_pricesheet.settings import SheetFormat

__all__ = [
    "FIELDS",
    "OPTIONAL_FIELDS",
    "PRICE_FIELDS",
    "REQUIRED_FIELDS",
    "Rate",
    "parse_rows",
    "parse_sheet",
    "parse_term",
]

REQUIRED_FIELDS: Final = ("region", "instance_type", "gpu", "gpus_per_node", "purchase_option")
PRICE_FIELDS: Final = ("price_per_hour", "price_per_gpu_hour")
OPTIONAL_FIELDS: Final = (
    "term",
    "gpu_memory_gb",
    "currency",
    "valid_from",
    "valid_until",
    "id",
    "vcpus",
    "memory_gb",
    "notes",
)
FIELDS: Final = (*REQUIRED_FIELDS, *PRICE_FIELDS, *OPTIONAL_FIELDS)

HOURS_PER_MONTH: Final = HOURS_PER_YEAR // 12
_TERM_UNITS: Final = {
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), HOURS_PER_YEAR),
    **dict.fromkeys(("mo", "mos", "month", "months"), HOURS_PER_MONTH),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 1),
}
_TERM: Final = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)$")
_NUMBER: Final = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")
# Offer fields whose validation error points at a sheet field.
_OFFER_FIELDS: Final = {
    "region": "region",
    "instance_type": "instance_type",
    "gpu_count": "gpus_per_node",
    "gpu_memory_gb": "gpu_memory_gb",
    "vcpus": "vcpus",
    "memory_gb": "memory_gb",
    "purchase_option": "purchase_option",
    "term_hours": "term",
    "currency": "currency",
}


@dataclass(frozen=True)
class Rate:
    """One row of the sheet as an offer, with the days it applies on."""

    line: int
    offer: Offer
    valid_from: date | None = None
    valid_until: date | None = None

    def not_in_force(self, day: date) -> str | None:
        """Why the rate does not apply on ``day`` (a UTC date), or None when it does."""
        if self.valid_from is not None and day < self.valid_from:
            return f"starts {self.valid_from.isoformat()}"
        if self.valid_until is not None and day > self.valid_until:
            return f"ended {self.valid_until.isoformat()}"
        return None

    def overlaps(self, other: Rate) -> bool:
        """Whether the two rates' validity periods share a day."""
        return _not_after(self.valid_from, other.valid_until) and _not_after(
            other.valid_from, self.valid_until
        )


def _not_after(start: date | None, end: date | None) -> bool:
    """Whether a period starting ``start`` has begun by ``end`` (None: open-ended)."""
    return start is None or end is None or start <= end


def parse_term(text: str) -> int:
    """Hours of a term written ``1y``, ``3 years``, ``36mo``, ``8760h``; raises ValueError."""
    match = _TERM.match(text.strip().lower())
    unit = _TERM_UNITS.get(match["unit"]) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"{text!r} is not a term; write it with a unit: 1y, 3 years, 36mo or 8760h"
        )
    hours = float(match["n"]) * unit
    if hours <= 0 or not hours.is_integer():
        raise ValueError(f"{text!r} is not a whole number of hours greater than 0")
    return int(hours)


def parse_sheet(
    data: bytes,
    fmt: SheetFormat,
    *,
    sheet: str,
    vocabulary: GpuVocabulary,
    provider: str,
    feed: str | None = None,
    url: str | None = None,
) -> list[Rate]:
    """Every rate of a sheet, in sheet order; raises :class:`SheetError` naming each problem.

    ``sheet`` names the sheet in messages and in each offer's ``source``.
    """
    rows = read_rows(data, fmt)
    rates, problems = parse_rows(rows, sheet=sheet, vocabulary=vocabulary, provider=provider)
    if not problems and not rates:
        problems = [Problem("the sheet has no rates")]
    if problems:
        raise SheetError(sheet, problems, provider=provider, feed=feed, url=url)
    return rates


def parse_rows(
    rows: Rows, *, sheet: str, vocabulary: GpuVocabulary, provider: str
) -> tuple[list[Rate], list[Problem]]:
    """The rates of rows that are valid, and the problems of everything else."""
    problems = list(rows.problems)
    if rows.header is not None:
        unknown, missing = _header_problems(rows.header)
        problems += unknown + missing
        if missing:
            return [], problems  # every row would repeat it
    rates: list[Rate] = []
    for row in rows.rows:
        reader = _RowReader(row, problems, check_names=rows.header is None)
        rate = reader.rate(sheet=sheet, vocabulary=vocabulary, provider=provider)
        if rate is not None:
            rates.append(rate)
    problems.extend(_conflicts(rates))
    return rates, problems


def _header_problems(header: Header) -> tuple[list[Problem], list[Problem]]:
    """Columns the header names that no field has, and fields it lacks."""
    unknown = [
        Problem(f"unknown column; the known ones are {', '.join(FIELDS)}", header.line, name)
        for name in header.columns
        if name and name not in FIELDS
    ]
    missing = [
        Problem("missing column; every rate needs it", header.line, name)
        for name in REQUIRED_FIELDS
        if name not in header.columns
    ]
    if not any(name in header.columns for name in PRICE_FIELDS):
        missing.append(
            Problem(
                "missing column; give price_per_hour (per node-hour) or price_per_gpu_hour",
                header.line,
                "price_per_hour",
            )
        )
    return unknown, missing


class _RowReader:
    """Reads one row's fields, adding a problem for each one that is wrong."""

    def __init__(self, row: RawRow, problems: list[Problem], *, check_names: bool) -> None:
        self.row = row
        self.problems = problems
        self.failed = False
        if check_names:
            for name in row.lines:
                if name not in FIELDS:
                    self.problem(name, f"unknown field; the known ones are {', '.join(FIELDS)}")

    def problem(self, name: str | None, message: str) -> None:
        line = self.row.line_of(name) if name else self.row.line
        self.problems.append(Problem(message, line=line, field=name))
        self.failed = True

    def raw(self, name: str, *, required: bool = False) -> Any:
        if name in self.row.unreadable:
            self.failed = True
            return None
        value = self.row.values.get(name)
        if value is None and required:
            self.problem(name, "missing; every rate needs it")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if isinstance(value, bool):
            self.problem(name, "YAML reads this as true/false; put the value in quotes")
            return None
        # As written: an id 007 stays 007, although YAML reads the number 7.
        return self.row.texts.get(name) or str(value).strip() or None

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(name, f"{value!r} is not a number")
            return None
        if isinstance(value, str):
            if not _NUMBER.match(value.strip()):
                self.problem(
                    name,
                    f"{value!r} is not a number (write digits and a decimal point only, "
                    "e.g. 2.10: no currency sign, unit or thousands separator)",
                )
                return None
            value = float(value)
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            self.problem(name, f"must be a number greater than 0, not {value!r}")
            return None
        return number

    def day(self, name: str) -> date | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                self.problem(name, f"{value!r} is not a date: {exc}")
                return None
        self.problem(name, f"{value!r} is not a date; write it YYYY-MM-DD (a UTC day)")
        return None

    # -- the row ---------------------------------------------------------------------------

    def rate(self, *, sheet: str, vocabulary: GpuVocabulary, provider: str) -> Rate | None:
        region = self.text("region", required=True)
        instance_type = self.text("instance_type", required=True)
        gpu_text = self.text("gpu", required=True)
        gpus_per_node = self.number("gpus_per_node", required=True)
        option = self.purchase_option()
        term_hours = self.term(option)
        price_field, price_per_hour = self.price(gpus_per_node)
        gpu_name, memory = self.gpu(gpu_text, vocabulary)
        currency = self.currency()
        valid_from, valid_until = self.day("valid_from"), self.day("valid_until")
        if valid_from and valid_until and valid_until < valid_from:
            self.problem(
                "valid_until",
                f"{valid_until.isoformat()} is before valid_from ({valid_from.isoformat()})",
            )
        row_id = self.text("id")
        vcpus, memory_gb = self.number("vcpus"), self.number("memory_gb")
        self.text("notes")
        if (
            self.failed
            or region is None
            or instance_type is None
            or gpu_name is None
            or memory is None
            or gpus_per_node is None
            or option is None
            or price_field is None
            or price_per_hour is None
        ):
            return None

        source = {"sheet": sheet, "line": str(self.row.line)}
        if row_id:
            source["row_id"] = row_id
        source[price_field] = self.row.texts[price_field]
        if valid_from:
            source["valid_from"] = valid_from.isoformat()
        if valid_until:
            source["valid_until"] = valid_until.isoformat()
        try:
            offer = Offer(
                provider=provider,
                region=region,
                instance_type=instance_type,
                gpu=gpu_name,
                gpu_count=gpus_per_node,
                gpu_memory_gb=memory,
                vcpus=vcpus,
                memory_gb=memory_gb,
                purchase_option=option,
                term_hours=term_hours,
                price_per_hour=price_per_hour,
                currency=currency,
                source=source,
            )
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                where = error["loc"][0] if error["loc"] else None
                name = _OFFER_FIELDS.get(str(where)) if where is not None else None
                if where == "price_per_hour":
                    name = price_field
                self.problem(name, str(error["msg"]))
            return None
        return Rate(self.row.line, offer, valid_from, valid_until)

    def purchase_option(self) -> PurchaseOption | None:
        text = self.text("purchase_option", required=True)
        if text is None:
            return None
        spelled = re.sub(r"[\s\-]+", "_", text.lower())
        try:
            return PurchaseOption(spelled)
        except ValueError:
            known = ", ".join(option.value for option in PurchaseOption)
            self.problem("purchase_option", f"{text!r} is not one of {known}")
            return None

    def term(self, option: PurchaseOption | None) -> int:
        value = self.raw("term")
        if option is None:
            return 0
        if not option.is_commitment:
            if value is not None:
                self.problem(
                    "term", f"a {option.value} rate is pay-as-you-go and has no term; leave it out"
                )
            return 0
        if value is None:
            self.problem("term", f"a {option.value} rate needs a term, e.g. 1y, 3y or 36mo")
            return 0
        try:
            return parse_term(str(value))
        except ValueError as exc:
            self.problem("term", str(exc))
            return 0

    def price(self, gpus_per_node: float | None) -> tuple[str | None, float | None]:
        given = [name for name in PRICE_FIELDS if name in self.row.values]
        if not given:
            self.problem(
                "price_per_hour",
                "missing; give price_per_hour (per node-hour) or price_per_gpu_hour",
            )
            return None, None
        if len(given) > 1:
            self.problem(
                "price_per_gpu_hour",
                "give price_per_hour (per node-hour) or price_per_gpu_hour, not both",
            )
            return None, None
        name = given[0]
        value = self.number(name)
        if value is None:
            return name, None
        if name == "price_per_hour":
            return name, value
        if gpus_per_node is None:
            return name, None
        # Rounded so that 2.1 x 8 is 16.8, not 16.800000000000001.
        return name, round(value * gpus_per_node, 10)

    def gpu(self, text: str | None, vocabulary: GpuVocabulary) -> tuple[str | None, float | None]:
        if text is None:
            return None, None
        try:
            resolved = vocabulary.resolve(text)
        except UnknownGpu as exc:
            self.problem("gpu", str(exc))
            return None, None
        spec = resolved.spec
        sizes = " or ".join(f"{m:g}" for m in spec.memory_gb)
        written = self.number("gpu_memory_gb")
        if written is None:
            if "gpu_memory_gb" in self.row.values:
                return spec.name, None  # the number itself was wrong, already reported
            if resolved.memory_gb is not None:
                return spec.name, resolved.memory_gb
            if len(spec.memory_gb) == 1:
                return spec.name, spec.memory_gb[0]
            largest = f"{spec.memory_gb[-1]:g}"
            self.problem(
                "gpu_memory_gb",
                f"missing; {spec.name} comes with {sizes} GB per GPU: say which "
                f"(gpu_memory_gb: {largest}, or gpu: {spec.name}-{largest}GB)",
            )
            return spec.name, None
        if (
            resolved.memory_gb is not None
            and abs(written - resolved.memory_gb) > MEMORY_TOLERANCE_GB
        ):
            self.problem(
                "gpu_memory_gb",
                f"{written:g} GB contradicts the GPU {text!r} ({resolved.memory_gb:g} GB)",
            )
            return spec.name, None
        for size in spec.memory_gb:
            if abs(written - size) <= MEMORY_TOLERANCE_GB:
                return spec.name, size
        self.problem("gpu_memory_gb", f"{spec.name} comes with {sizes} GB per GPU, not {written:g}")
        return spec.name, None

    def currency(self) -> str:
        text = self.text("currency")
        if text is None:
            return "USD"
        code = text.upper()
        if not _CURRENCY.match(code):
            self.problem("currency", f"{text!r} is not an ISO 4217 code such as USD or EUR")
        return code


def _conflicts(rates: Sequence[Rate]) -> Iterable[Problem]:
    """Rows that contradict an earlier row (the earlier one is named in the message)."""
    by_key: dict[tuple[str, ...], list[Rate]] = {}
    shapes: dict[tuple[str, str], Rate] = {}
    for rate in rates:
        offer = rate.offer
        key = tuple(str(part) for part in offer.natural_key())
        for earlier in by_key.get(key, []):
            if rate.overlaps(earlier):
                yield Problem(
                    f"same region, instance_type, purchase_option and term as line "
                    f"{earlier.line}, in force on the same days; give the two valid_from / "
                    "valid_until dates that do not overlap, or remove one",
                    line=rate.line,
                )
                break
        by_key.setdefault(key, []).append(rate)

        first = shapes.setdefault((offer.region, offer.instance_type), rate)
        if first is not rate:
            mine = _shape(offer)
            theirs = _shape(first.offer)
            for name, value in mine.items():
                if value != theirs[name]:
                    yield Problem(
                        f"instance type {offer.instance_type!r} in region {offer.region!r} has "
                        f"{name} {theirs[name]} on line {first.line}, {value} here",
                        line=rate.line,
                        field=name,
                    )
                    break


def _shape(offer: Offer) -> dict[str, str]:
    return {
        "gpu": offer.gpu,
        "gpus_per_node": f"{offer.gpu_count:g}",
        "gpu_memory_gb": f"{offer.gpu_memory_gb:g}",
    }
