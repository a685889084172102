"""The fabric of AWS offers: the price list's Network Performance, the family table's EFA sizes.

Bandwidth comes only from exact figures of the offer file's own column, read here on the
real recorded rows; EFA only at the sizes the table lists, with a named source.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aggregator.models import Offer, PurchaseOption
from plugins.aws.families import EFA, EFA_SOURCES, GPU_FAMILIES, fabric_of
from plugins.aws.network import NETWORK_COLUMN, sustained_gbps
from plugins.aws.offer_file import OfferFileParser, PricePoint
from plugins.aws.offers import offer_from_point
from plugins.aws.savings_plans import SavingsPlanParser, offer_from_rate
from plugins.aws.spot import parse_jsonp, spot_offers
from tests import paths

FIXTURES = paths.FIXTURES / "aws"
OFFER_FILES = [*sorted(FIXTURES.glob("ec2-*.csv")), FIXTURES / "3-global-pricing-file-sample.csv"]


def _network_texts(path: Path) -> set[str]:
    """Every Network Performance text of a recorded offer file, read with the csv module."""
    lines = path.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('"SKU"'))
    return {row[NETWORK_COLUMN] for row in csv.DictReader(lines[header:])}


def test_every_network_text_of_the_recorded_offer_files_reads_as_a_figure_or_none() -> None:
    texts = set().union(*(_network_texts(path) for path in OFFER_FILES))
    assert {text: sustained_gbps(text) for text in texts} == {
        "3200 Gigabit": 3200,  # p5.48xlarge
        "400 Gigabit": 400,  # p4d.24xlarge, p4de.24xlarge
        "100 Gigabit": 100,  # g5.48xlarge, i3en.metal
        "37500 Megabit": 37.5,  # c7i.metal-24xl
        "25000 Megabit": 25,  # m7i.16xlarge
        "Up to 25 Gigabit": None,  # g4dn.xlarge, i3en.xlarge: a burst, not sustained
        "Up to 15 Gigabit": None,
        "Up to 12500 Megabit": None,
        "Up to 10 Gigabit": None,
        "High": None,  # g2.2xlarge: a word, no figure
    }


@pytest.mark.parametrize(
    ("text", "gbps"),
    [
        ("10 Gigabit", 10),
        ("4x 100 Gigabit", 400),  # how AWS writes multi-card figures elsewhere (dl1, p4d)
        (" 50 gigabit ", 50),
        ("Low to Moderate", None),
        ("Moderate", None),
        ("Low", None),
        ("Very Low", None),
        ("NA", None),
        ("", None),
        ("0 Gigabit", None),
        ("Up to 100 Gigabit", None),
        ("100 Gbps", None),  # not a spelling the price list uses: not guessed
    ],
)
def test_network_quirks(text: str, gbps: float | None) -> None:
    assert sustained_gbps(text) == gbps


def _offers(path: Path) -> dict[tuple[str, str, str], Offer]:
    data = path.read_bytes()
    found: dict[tuple[str, str, str], Offer] = {}
    for result in OfferFileParser().parse([data]):
        if isinstance(result, PricePoint):
            offer = offer_from_point(result)
            if isinstance(offer, Offer):
                key = (offer.instance_type, offer.region, offer.purchase_option.value)
                found.setdefault(key, offer)
    return found


def test_offer_file_prices_carry_the_rows_bandwidth_and_the_tables_fabric() -> None:
    offers = _offers(FIXTURES / "ec2-us-east-1-gpu.csv")
    p5 = offers["p5.48xlarge", "us-east-1", "on_demand"]
    assert (p5.interconnect, p5.interconnect_gbps) == (EFA, 3200)
    assert p5.source["network_performance"] == "3200 Gigabit"
    p4d_reserved = offers["p4d.24xlarge", "us-east-1", "reserved"]
    assert (p4d_reserved.interconnect, p4d_reserved.interconnect_gbps) == (EFA, 400)


def test_a_burst_figure_and_a_size_without_efa_give_no_fabric() -> None:
    (g4dn,) = _offers(FIXTURES / "ec2-cn-north-1-gpu.csv").values()  # "Up to 25 Gigabit"
    assert (g4dn.instance_type, g4dn.interconnect, g4dn.interconnect_gbps) == (
        "g4dn.xlarge",
        None,
        None,
    )
    assert g4dn.source["network_performance"] == "Up to 25 Gigabit"  # still traceable


def test_spot_and_savings_plan_offers_know_efa_but_publish_no_bandwidth() -> None:
    body = (FIXTURES / "spot-price-test-data.json").read_text()
    spot = {o.instance_type: o for o in spot_offers(parse_jsonp(body)) if isinstance(o, Offer)}
    assert spot["p4d.24xlarge"].purchase_option is PurchaseOption.SPOT
    assert (spot["p4d.24xlarge"].interconnect, spot["p4d.24xlarge"].interconnect_gbps) == (
        EFA,
        None,
    )
    assert spot["g4dn.xlarge"].interconnect is None
    data = (FIXTURES / "savingsplan-us-east-1-gpu.csv").read_bytes()
    plans = [offer_from_rate(r) for r in SavingsPlanParser().parse([data])]
    p5 = [o for o in plans if isinstance(o, Offer) and o.instance_type == "p5.48xlarge"]
    assert p5 and all((o.interconnect, o.interconnect_gbps) == (EFA, None) for o in p5)


def test_efa_sizes_are_sizes_of_the_table_with_a_named_source() -> None:
    for family in GPU_FAMILIES.values():
        assert family.efa_sizes <= set(family.counts), family
        assert bool(family.efa_sizes) == bool(family.efa_source), family
        assert not family.efa_source or family.efa_source in EFA_SOURCES, family


@pytest.mark.parametrize(
    ("instance_type", "fabric"),
    [
        ("p5.48xlarge", EFA),
        ("p5.4xlarge", EFA),  # the one-GPU P5 has EFA too (DescribeInstanceTypes)
        ("p4d.24xlarge", EFA),
        ("p4de.24xlarge", EFA),
        ("p3dn.24xlarge", EFA),
        ("p5en.48xlarge", EFA),
        ("p6-b200.48xlarge", EFA),
        ("g5.48xlarge", EFA),
        ("g5.8xlarge", EFA),
        ("g6e.12xlarge", EFA),
        ("g4dn.metal", EFA),
        ("gr6.8xlarge", EFA),
        ("g5.4xlarge", None),
        ("g4dn.xlarge", None),
        ("p3.16xlarge", None),  # no P3 size has EFA in either source (p3dn is its own family)
        ("g4ad.16xlarge", None),
        ("g5g.16xlarge", None),
        ("m5.large", None),
    ],
)
def test_the_documented_efa_sizes(instance_type: str, fabric: str | None) -> None:
    assert fabric_of(instance_type) == fabric
