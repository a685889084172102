"""The EC2 offer file: which rows become prices, reserved-term combination, GPU offers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aggregator.models import Offer, OfferingClass, Payment, PurchaseOption
from plugins.aws.offer_file import (
    COLUMNS,
    OfferFileParser,
    PricePoint,
    RowProblem,
    RowSelector,
    linux_gpu_selector,
)
from plugins.aws.offers import Unknown, offer_from_point
from tests import paths

FIXTURES = paths.FIXTURES / "aws"
SAMPLE = FIXTURES / "3-global-pricing-file-sample.csv"
GPU_FILE = FIXTURES / "ec2-us-east-1-gpu.csv"

# Published on-demand prices in us-east-1 (SkyPilot catalog v8 aws/vms.csv, Price column).
PUBLISHED_ON_DEMAND = {"p4d.24xlarge": 21.957642, "p5.48xlarge": 55.04}


def parse(path: Path, parser: OfferFileParser | None = None) -> list[PricePoint | RowProblem]:
    parser = parser or OfferFileParser()
    data = path.read_bytes()
    return list(parser.parse(data[i : i + 5000] for i in range(0, len(data), 5000)))


def points(results: list[PricePoint | RowProblem]) -> list[PricePoint]:
    return [r for r in results if isinstance(r, PricePoint)]


def offers(path: Path) -> list[Offer | RowProblem | Unknown | None]:
    return [offer_from_point(r) if isinstance(r, PricePoint) else r for r in parse(path)]


def by_term(found: list[PricePoint]) -> dict[tuple[str, str], PricePoint]:
    return {(p.instance_type, p.source["offer_term_code"]): p for p in found}


# --- the real sample ---------------------------------------------------------------------


def test_real_sample_has_no_linux_shared_gpu_rows_and_yields_nothing() -> None:
    # Its only GPU row, g5.48xlarge, is SUSE on a dedicated, unused capacity reservation.
    assert parse(SAMPLE) == []


def test_real_sample_g5_row_is_excluded_even_when_gpu_rows_are_wanted() -> None:
    any_gpu = RowSelector(required=(b"g5.48xlarge",), keep=lambda row: row["GPU"] == "8")
    found = points(parse(SAMPLE, OfferFileParser(any_gpu)))
    assert [p.instance_type for p in found] == ["g5.48xlarge"]  # the selector sees it...
    assert parse(SAMPLE) == []  # ...the default one (Linux, Shared, Used) does not


def windows_sql() -> RowSelector:
    """Keeps the sample's Windows + SQL rows, so the reserved combiner can run on real rows."""
    return RowSelector(
        required=(b"Windows",),
        keep=lambda row: (
            row["Operating System"] == "Windows"
            and row["Pre Installed S/W"] in ("SQL Web", "SQL Std")
        ),
    )


def test_reserved_rows_of_the_real_sample_are_combined() -> None:
    results = parse(SAMPLE, OfferFileParser(windows_sql()))
    terms = by_term(points(results))
    # c6i.large (ap-northeast-1): all 12 reserved terms plus on-demand.
    c6i = {code: p for (itype, code), p in terms.items() if itype == "c6i.large"}
    assert len(c6i) == 13
    partial = c6i["38NPMPTW36"]  # 3yr Partial Upfront standard: 0.10463/h + 2750 upfront
    assert (partial.term_hours, partial.payment, partial.offering_class) == (
        26280,
        Payment.PARTIAL_UPFRONT,
        OfferingClass.STANDARD,
    )
    assert partial.hourly == 0.10463 and partial.upfront == 2750
    assert partial.price_per_hour == pytest.approx(0.10463 + 2750 / 26280)
    assert partial.source == {
        "sku": "2223B6PCG6QAUYY6",
        "offer_term_code": "38NPMPTW36",
        "rate_code": "2223B6PCG6QAUYY6.38NPMPTW36.6YS6EN2CT7",
        "upfront_rate_code": "2223B6PCG6QAUYY6.38NPMPTW36.2TG2D8R56U",
        "offer_file_version": "20250912225308",
    }
    all_upfront = c6i["6QCMYABX3D"]  # 1yr All Upfront standard: 0/h + 2033
    assert all_upfront.hourly == 0 and all_upfront.upfront == 2033
    assert all_upfront.price_per_hour == pytest.approx(2033 / 8760)
    no_upfront = c6i["7NE97W5U4E"]  # 1yr No Upfront convertible: no fee row at all
    assert (no_upfront.price_per_hour, no_upfront.upfront, no_upfront.offering_class) == (
        0.24895,
        0.0,
        OfferingClass.CONVERTIBLE,
    )
    assert "upfront_rate_code" not in no_upfront.source
    assert c6i["JRTCKXETXF"].purchase_option is PurchaseOption.ON_DEMAND
    assert c6i["JRTCKXETXF"].price_per_hour == 0.2773


def test_a_term_cut_off_before_its_upfront_fee_row_is_a_problem() -> None:
    # The upstream author cut the sample after m6id.2xlarge's HU7G6KETJZ Hrs row.
    results = parse(SAMPLE, OfferFileParser(windows_sql()))
    problems = [r for r in results if isinstance(r, RowProblem)]
    assert len(problems) == 1
    assert "222AMNDXSFRESBBK.HU7G6KETJZ has no Upfront Fee row" in problems[0].reason
    m6id = {code for (itype, code) in by_term(points(results)) if itype == "m6id.2xlarge"}
    assert "HU7G6KETJZ" not in m6id and "38NPMPTW36" in m6id


# --- the constructed GPU offer file (real layout) -----------------------------------------


def without_prefilter() -> OfferFileParser:
    """The default filter with the raw-line pre-filter off: every row is csv-parsed."""
    return OfferFileParser(RowSelector(required=(), keep=linux_gpu_selector().keep))


@pytest.mark.parametrize("prefilter", [True, False], ids=["prefiltered", "full-filter-only"])
def test_only_linux_shared_used_gpu_rows_become_prices(prefilter: bool) -> None:
    found = points(parse(GPU_FILE, None if prefilter else without_prefilter()))
    skus = {p.source["sku"] for p in found}
    assert skus == {"H7NGEAC6UEHNTKSJ", "ZZP548XLLINUX001", "ZZP4DE24XLLNX001", "ZZG22XLLINUX0001"}
    excluded = {
        "YSXJGN78QTXNVGDQ",  # p4d Capacity Block
        "ZZP548XLCAPBLCK1",  # p5 Capacity Block
        "ZZP548XLWINDOWS1",  # Windows
        "ZZP548XLWINBYOL1",  # Windows BYOL
        "ZZP548XLDEDICAT1",  # dedicated tenancy
        "ZZP548XLUNUSED01",  # unused capacity reservation
        "ZZP548XLALLOCAT1",  # allocated capacity reservation
        "ZZP548XLRHEL0001",  # RHEL
        "ZZP548XLSQLWEB01",  # Linux with SQL Server pre-installed
        "ZZM5LARGELINUX01",  # no GPU
        "ZZINF2XLLINUX001",  # Inferentia, not a GPU
    }
    assert not skus & excluded


def p5_on_demand_row() -> dict[str, str]:
    lines = GPU_FILE.read_text().splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith('"SKU"'))
    [header] = csv.reader([lines[header_at]])
    for row in csv.reader(lines[header_at + 1 :]):
        values = dict(zip(header, row, strict=True))
        if values["SKU"] == "ZZP548XLLINUX001" and values["TermType"] == "OnDemand":
            return {c: values[c] for c in COLUMNS}
    raise AssertionError("fixture lacks the p5.48xlarge on-demand row")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("Operating System", "RHEL"),
        ("Operating System", "Red Hat Enterprise Linux with HA"),
        ("Tenancy", "Dedicated"),
        ("Tenancy", "Host"),
        ("CapacityStatus", "UnusedCapacityReservation"),
        ("CapacityStatus", "AllocatedCapacityReservation"),
        ("Pre Installed S/W", "SQL Std"),
        ("License Model", "Bring your own license"),
        ("MarketOption", "CapacityBlock"),
        ("Product Family", "Dedicated Host"),
        ("Instance Type", "m5.large"),
        ("Instance Type", "inf2.xlarge"),
    ],
)
def test_each_condition_of_the_filter_excludes_on_its_own(column: str, value: str) -> None:
    keep = linux_gpu_selector().keep
    row = p5_on_demand_row()
    assert keep(row)
    if column == "Instance Type":
        row["GPU"] = "" if value == "m5.large" else "1"
    row[column] = value
    assert not keep(row)


def test_an_unknown_family_with_gpus_passes_the_filter_to_be_reported() -> None:
    row = p5_on_demand_row() | {"Instance Type": "g2.2xlarge", "GPU": "1"}
    assert linux_gpu_selector().keep(row)


@pytest.mark.parametrize(
    "name", ["ec2-us-east-1-gpu.csv", "ec2-cn-north-1-gpu.csv", "3-global-pricing-file-sample.csv"]
)
def test_the_prefilter_changes_nothing_but_speed(name: str) -> None:
    assert parse(FIXTURES / name) == parse(FIXTURES / name, without_prefilter())


def test_reserved_parts_far_apart_in_the_file_are_combined() -> None:
    parser = OfferFileParser()
    data = GPU_FILE.read_bytes()
    peak = 0
    results = []
    for i in range(0, len(data), 2000):
        results += parser.feed(data[i : i + 2000])
        peak = max(peak, parser.pending_reserved)
    results += parser.close()
    terms = [p for p in points(results) if p.purchase_option is PurchaseOption.RESERVED]
    assert len(terms) == 24  # 12 terms each for p4d.24xlarge and p5.48xlarge
    assert {(p.term_hours, p.payment, p.offering_class) for p in terms} == {
        (h, pay, cls) for h in (8760, 26280) for pay in Payment for cls in OfferingClass
    }
    # Only the kept rows were buffered: the 8 partial/all upfront terms of each machine.
    assert peak == 16 and parser.pending_reserved == 0
    assert not [r for r in results if isinstance(r, RowProblem)]


def test_reserved_price_is_hourly_plus_amortized_fee() -> None:
    terms = by_term(points(parse(GPU_FILE)))
    p5_3yr_partial = terms[("p5.48xlarge", "38NPMPTW36")]
    assert (p5_3yr_partial.hourly, p5_3yr_partial.upfront) == (12.38398, 325452)
    assert p5_3yr_partial.price_per_hour == pytest.approx(12.38398 + 325452 / 26280)
    p4d_1yr_all = terms[("p4d.24xlarge", "VJWZNREJX2")]
    assert (p4d_1yr_all.hourly, p4d_1yr_all.upfront) == (0.0, 144262)
    assert p4d_1yr_all.price_per_hour == pytest.approx(144262 / 8760)


@pytest.mark.parametrize("instance_type", sorted(PUBLISHED_ON_DEMAND))
def test_on_demand_matches_the_published_price(instance_type: str) -> None:
    [offer] = [
        o
        for o in offers(GPU_FILE)
        if isinstance(o, Offer)
        and o.instance_type == instance_type
        and o.purchase_option is PurchaseOption.ON_DEMAND
    ]
    assert offer.price_per_hour == pytest.approx(PUBLISHED_ON_DEMAND[instance_type], rel=0.01)
    assert (offer.region, offer.gpu_count, offer.currency) == ("us-east-1", 8, "USD")
    assert offer.source["rate_code"].endswith(".JRTCKXETXF.6YS6EN2CT7")


def test_gpu_offers_carry_table_facts_and_host_size() -> None:
    found = [o for o in offers(GPU_FILE) if isinstance(o, Offer)]
    assert len(found) == 26
    p5 = next(o for o in found if o.instance_type == "p5.48xlarge")
    assert (p5.gpu, p5.gpu_count, p5.gpu_memory_gb, p5.vcpus, p5.memory_gb) == (
        "H100",
        8,
        80,
        192,
        2048,
    )
    p4d = next(o for o in found if o.instance_type == "p4d.24xlarge")
    assert (p4d.gpu, p4d.gpu_memory_gb) == ("A100", 40)
    reserved = [o for o in found if o.purchase_option is PurchaseOption.RESERVED]
    assert all(o.billing is None and o.term_hours in (8760, 26280) for o in reserved)
    on_demand = [o for o in found if o.purchase_option is PurchaseOption.ON_DEMAND]
    assert all(o.billing and o.billing.increment_seconds == 1 for o in on_demand)


def test_gpu_memory_mismatch_and_unknown_family_are_reported() -> None:
    outcomes = offers(GPU_FILE)
    problems = [o for o in outcomes if isinstance(o, RowProblem)]
    assert len(problems) == 1 and "p4de.24xlarge: GPU Memory '320 GB'" in problems[0].reason
    assert "ZZP4DE24XLLNX001" in problems[0].raw
    assert [o for o in outcomes if isinstance(o, Unknown)] == [
        Unknown("instance family", "g2.2xlarge")
    ]


def test_china_prices_keep_their_currency() -> None:
    [offer] = [o for o in offers(FIXTURES / "ec2-cn-north-1-gpu.csv") if isinstance(o, Offer)]
    assert (offer.region, offer.instance_type, offer.currency) == (
        "cn-north-1",
        "g4dn.xlarge",
        "CNY",
    )
    assert (offer.price_per_hour, offer.gpu, offer.gpu_count) == (4.681, "T4", 1)


def test_opencost_recorded_p4d_on_demand_kept_and_capacity_block_excluded() -> None:
    results = parse(FIXTURES / "ec2-us-east-1-20240528-opencost-p4d.csv")
    [point] = points(results)
    assert point.source["sku"] == "H7NGEAC6UEHNTKSJ"  # YSXJGN78QTXNVGDQ is the Capacity Block
    assert point.price_per_hour == 32.7726 and point.source["offer_file_version"] == (
        "20240528203522"
    )
    offer = offer_from_point(point)
    assert isinstance(offer, Offer) and offer.price_per_gpu_hour == pytest.approx(32.7726 / 8)


def test_duplicate_and_malformed_rows_are_problems_not_prices() -> None:
    data = GPU_FILE.read_bytes().split(b"\n")
    header_at = next(i for i, line in enumerate(data) if line.startswith(b'"SKU"'))
    first_row = data[header_at + 1]  # p4d on-demand
    reserved_row = data[header_at + 2]  # a reserved Hrs row
    broken = first_row[: len(first_row) // 2] + b'","Linux","Shared","Used","No License required'
    body = b"\n".join([*data[: header_at + 1], reserved_row, reserved_row, broken, b""])
    parser = OfferFileParser()
    results = list(parser.parse([body]))
    reasons = [r.reason for r in results if isinstance(r, RowProblem)]
    assert any("listed twice" in r for r in reasons)
    assert any("malformed row" in r for r in reasons)
    assert any("has no Upfront Fee row" in r for r in reasons)


def _with_price(sku: str, term_code: str, price: str, unit: str = "Hrs") -> bytes:
    """The recorded GPU file with one row's PricePerUnit edited."""
    lines = GPU_FILE.read_text().splitlines(keepends=True)
    header_at = next(i for i, line in enumerate(lines) if line.startswith('"SKU"'))
    [header] = csv.reader([lines[header_at]])
    at = {name: header.index(name) for name in ("SKU", "OfferTermCode", "Unit", "PricePerUnit")}
    for i in range(header_at + 1, len(lines)):
        [row] = csv.reader([lines[i]])
        if (row[at["SKU"]], row[at["OfferTermCode"]], row[at["Unit"]]) == (sku, term_code, unit):
            row[at["PricePerUnit"]] = price
            lines[i] = ",".join(f'"{v}"' for v in row) + "\n"
            return "".join(lines).encode()
    raise AssertionError(f"no row {sku}.{term_code} {unit}")


@pytest.mark.parametrize(
    ("term_code", "price"),
    [
        *(("JRTCKXETXF", p) for p in ("0.0000000000", "-5", "abc", "NaN")),  # on-demand
        # a reserved term's hourly part may be 0 (the fee pays for it), never below or unreadable
        *(("38NPMPTW36", p) for p in ("-5", "abc", "NaN")),
    ],
)
def test_an_unusable_price_names_the_offer_it_prices(term_code: str, price: str) -> None:
    from aggregator.models import natural_key_id_of

    def p5(results: list[Offer | RowProblem | Unknown | None]) -> list[Offer]:
        return [
            o
            for o in results
            if isinstance(o, Offer)
            and o.instance_type == "p5.48xlarge"
            and o.source["offer_term_code"] == term_code
        ]

    [good] = p5(offers(GPU_FILE))
    edited = _with_price("ZZP548XLLINUX001", term_code, price)
    results = [
        offer_from_point(r) if isinstance(r, PricePoint) else r
        for r in OfferFileParser().parse([edited])
    ]
    assert not p5(results)
    problems = [r for r in results if isinstance(r, RowProblem) and r.offer is not None]
    assert [natural_key_id_of(p.offer, "aws") for p in problems] == [good.id]  # type: ignore[arg-type]
