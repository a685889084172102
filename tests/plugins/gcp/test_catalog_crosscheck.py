"""Every composed A2 / A3 / A4 price the reference catalog also publishes, against its total.

The published rows are SkyPilot's (``tests/fixtures/reference/``, copied verbatim, see its
``PROVENANCE.md``): a machine's total there is its host row (vCPUs and RAM only) plus the
accelerator row of the same region with the machine's GPU count. Each offer of
:func:`fixture_run` (on demand and spot) whose machine type and region have both rows is
compared with that total. A difference above ``TOLERANCE`` (relative) must be explained by
known differences, each of which *computes* the amount it accounts for from the SKUs the offer
used; a combination of them has to close the gap to within ``TOLERANCE``. The one difference
that cannot be computed (spot prices recorded on another date) is accepted only for offers
whose every SKU carries that recording's date. Anything else fails, listed.

``tests/plugins/gcp/test_crosscheck.py`` goes through a few of these machines by hand, with the
figures inline; this module covers the whole overlap and keeps the list of accepted
differences closed.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from aggregator.models import Offer, PurchaseOption
from plugins.gcp.machines import MACHINE_TYPES, MachineType
from tests.paths import FIXTURES
from tests.plugins.gcp.test_crosscheck import rate, within
from tests.plugins.gcp.test_fixtures import CONSTRUCTED_SKUS, REAL_SKUS, fixture_run

REFERENCE = FIXTURES / "reference"
TOLERANCE = 1e-4  # relative; SkyPilot rounds its prices to 5 decimals
MIN_COMPARED = 70  # the fixture run has 74 such offers; fewer means the check lost its ground

MACHINES = {m.instance_type: m for m in MACHINE_TYPES}
#: SkyPilot's accelerator names for GCE's, as its ``_ACC_INSTANCE_TYPE_DICTS`` pairs them with
#: machine types (sky/catalog/gcp_catalog.py).
SKYPILOT_GPU = {
    "nvidia-tesla-a100": "A100",
    "nvidia-a100-80gb": "A100-80GB",
    "nvidia-h100-80gb": "H100",
    "nvidia-h100-mega-80gb": "H100-MEGA",
    "nvidia-h200-141gb": "H200",
    "nvidia-b200": "B200",
}
#: A2 / A3 / A4 machine types gpuhours prices that get no published total, and why.
NOT_PUBLISHED = {
    "a3-edgegpu-8g": "host rows exist, but _ACC_INSTANCE_TYPE_DICTS pairs no accelerator with it",
    "a3-highgpu-2g": "its host rows were not extracted (PROVENANCE.txt: 'Omitted')",
    "a3-highgpu-4g": "its host rows were not extracted (PROVENANCE.txt: 'Omitted')",
}
#: SkyPilot's on-demand H100 price per GPU in us-central1, us-west1, us-west4 (and more).
FLEX_START_H100 = 4.20076
#: The date of the recorded real SKUs (services_pricelist_excerpt.json); the catalog snapshot
#: lists a4-highgpu-8g, a machine type of 2025, so its prices are later than any before this.
RECORDED_BEFORE = "2025-01-01"


# --- the published rows ---------------------------------------------------------------------------


def _region_prices(
    name: str, key: Callable[[dict[str, str]], tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[str, str]]:
    """(Price, SpotPrice) per key + region; every zone of a region must agree (as SkyPilot
    asserts for accelerator rows)."""
    with (REFERENCE / name).open(newline="") as f:
        rows = list(csv.DictReader(f))
    found: dict[tuple[Any, ...], set[tuple[str, str]]] = {}
    for row in rows:
        found.setdefault((*key(row), row["Region"]), set()).add((row["Price"], row["SpotPrice"]))
    disagreeing = {k: v for k, v in found.items() if len(v) != 1}
    assert not disagreeing, f"zones of one region disagree: {disagreeing}"
    return {k: next(iter(v)) for k, v in found.items()}


@cache
def host_rows() -> dict[tuple[Any, ...], tuple[str, str]]:
    return _region_prices("gcp_v8_host_vms_a2_a3_a4.csv", lambda r: (r["InstanceType"],))


@cache
def gpu_rows() -> dict[tuple[Any, ...], tuple[str, str]]:
    return _region_prices(
        "gcp_v8_gpu_accelerator_rows.csv",
        lambda r: (r["AcceleratorName"], int(r["AcceleratorCount"])),
    )


@dataclass(frozen=True)
class Comparison:
    """One offer and the published figures for its machine type, region and option."""

    offer: Offer
    machine: MachineType
    host: float  # published host price (vCPUs + RAM)
    per_gpu: float  # published accelerator row / its GPU count

    @property
    def published(self) -> float:
        return self.host + self.per_gpu * self.machine.gpu_count

    @property
    def spot(self) -> bool:
        return self.offer.purchase_option is PurchaseOption.SPOT

    def describe(self) -> str:
        o, m = self.offer, self.machine
        return (
            f"{o.instance_type} {o.region} {o.purchase_option.value}: gpuhours "
            f"{o.price_per_hour:.5f}, published {self.published:.5f} "
            f"(host {self.host:.5f} + {m.gpu_count} x {self.per_gpu:.5f})"
        )


def published_for(offer: Offer) -> Comparison | None:
    """The comparison for ``offer``, or ``None`` when the reference publishes no total."""
    machine = MACHINES[offer.instance_type]
    gpu = SKYPILOT_GPU.get(machine.gpu.accelerator_type)
    if gpu is None or offer.instance_type in NOT_PUBLISHED:
        return None
    if offer.purchase_option not in (PurchaseOption.ON_DEMAND, PurchaseOption.SPOT):
        return None  # SkyPilot publishes no commitment prices
    host = host_rows().get((offer.instance_type, offer.region))
    accelerators = gpu_rows().get((gpu, machine.gpu_count, offer.region))
    if host is None or accelerators is None:
        return None
    column = 1 if offer.purchase_option is PurchaseOption.SPOT else 0
    if not host[column] or not accelerators[column]:
        return None  # an empty price: not published there
    per_gpu = float(accelerators[column]) / machine.gpu_count
    return Comparison(offer, machine, float(host[column]), per_gpu)


def comparisons() -> Iterator[Comparison]:
    for offer in fixture_run().offers:
        found = published_for(offer)
        if found is not None:
            yield found


# --- the known differences ------------------------------------------------------------------------


def _host(offer: Offer, machine: MachineType) -> float:
    core, ram = rate(offer.source["core_sku"]), rate(offer.source["ram_sku"])
    return core.price_per_hour * machine.vcpus + ram.price_per_hour * machine.memory_gib


def bundled_local_ssd(c: Comparison) -> float | None:
    """The machine's local SSD at the rate of the SSD SKU the offer used."""
    if not c.machine.local_ssd_gib:
        return None
    return rate(c.offer.source["ssd_sku"]).price_per_hour * c.machine.local_ssd_gib


def a3_mega_host_on_a3_skus(c: Comparison) -> float | None:
    """When the published host equals A3 (not A3Plus) rates: gpuhours' host minus that."""
    if c.machine.host_family != "A3Plus":
        return None
    option = c.offer.purchase_option.value
    a3 = MACHINES["a3-highgpu-8g"]  # same shape as a3-megagpu-8g, billed with A3 SKUs
    a3_host = _host(fixture_run().get(a3.instance_type, c.offer.region, option), c.machine)
    if not within(c.host, a3_host, TOLERANCE):
        return None
    return _host(c.offer, c.machine) - a3_host


def flex_start_h100(c: Comparison) -> float | None:
    """When the published on-demand H100 is the flex-start-like figure: the rate gap x GPUs."""
    if c.spot or c.machine.gpu.accelerator_type != "nvidia-h100-80gb":
        return None
    if abs(c.per_gpu - FLEX_START_H100) > 1e-5:  # an 8-GPU row / 8 is off by < 1e-6
        return None
    gpu = rate(c.offer.source["gpu_sku"]).price_per_hour
    return (gpu - c.per_gpu) * c.machine.gpu_count


@dataclass(frozen=True)
class Known:
    name: str
    reason: str
    amount: Callable[[Comparison], float | None]  # what it adds to the published total


KNOWN = (
    Known(
        "bundled local SSD",
        "Google bills A2 Ultra / A3 for their bundled local SSD; SkyPilot leaves it out",
        bundled_local_ssd,
    ),
    Known(
        "A3 Mega host on A3 SKUs",
        "SkyPilot prices the a3-megagpu-8g host at A3 rates; Google bills A3Plus core/RAM",
        a3_mega_host_on_a3_skus,
    ),
    Known(
        "flex-start-like H100 rate",
        f"SkyPilot's on-demand H100 of {FLEX_START_H100}/GPU is a DWS/flex-start-like rate",
        flex_start_h100,
    ),
)


def _effective_times(sku_id: str) -> list[str]:
    raw = next(s for s in [*REAL_SKUS, *CONSTRUCTED_SKUS] if s["skuId"] == sku_id)
    return [str(p.get("effectiveTime", "")) for p in raw["pricingInfo"]]


def spot_of_another_date(c: Comparison) -> bool:
    """Spot built only from real SKUs recorded before the catalog snapshot's prices."""
    skus = [v for k, v in c.offer.source.items() if k.endswith("_sku")]
    return c.spot and all(
        not sku.startswith("FIXT-") and max(_effective_times(sku)) < RECORDED_BEFORE for sku in skus
    )


SPOT_OF_ANOTHER_DATE = (
    "spot of another date",
    "spot prices move (up to monthly): the recorded 2024-09 spot SKUs cannot be set against "
    "a catalog of a later date, so no amount is computed (test_gcp_crosscheck pins them)",
)


def classify(c: Comparison) -> tuple[str, ...] | None:
    """The smallest set of known differences that closes the gap, or ``None``."""
    applicable = [(k.name, amount) for k in KNOWN if (amount := k.amount(c)) is not None]
    for size in range(len(applicable) + 1):
        for combo in itertools.combinations(applicable, size):
            explained = c.published + sum(amount for _, amount in combo)
            if within(c.offer.price_per_hour, explained, TOLERANCE):
                return tuple(name for name, _ in combo)
    if spot_of_another_date(c):
        return (SPOT_OF_ANOTHER_DATE[0],)
    return None


# --- the checks -----------------------------------------------------------------------------------


def test_every_difference_from_the_published_totals_is_a_known_one() -> None:
    compared = list(comparisons())
    unexplained = [c.describe() for c in compared if classify(c) is None]
    assert not unexplained, "differences no known one explains:\n" + "\n".join(unexplained)
    assert len(compared) >= MIN_COMPARED


def test_each_known_difference_still_explains_something() -> None:
    used = Counter(name for c in comparisons() for name in classify(c) or ())
    names = [k.name for k in KNOWN] + [SPOT_OF_ANOTHER_DATE[0]]
    assert [n for n in names if not used[n]] == []
    assert sum(1 for c in comparisons() if classify(c) == ()) > 0  # and some agree outright


def test_a4_is_the_eight_slices_with_nothing_added() -> None:
    a4 = [c for c in comparisons() if c.offer.instance_type == "a4-highgpu-8g"]
    assert a4 and all(c.host == 0.0 and classify(c) == () for c in a4)


def test_only_documented_machine_types_go_uncompared() -> None:
    """A2 / A3 / A4 on-demand or spot offers without a published total are the listed ones."""
    uncompared = {
        o.instance_type
        for o in fixture_run().offers
        if MACHINES[o.instance_type].gpu.accelerator_type in SKYPILOT_GPU
        and o.purchase_option in (PurchaseOption.ON_DEMAND, PurchaseOption.SPOT)
        and published_for(o) is None
    }
    assert uncompared == set(NOT_PUBLISHED)


def test_a_new_difference_fails() -> None:
    """Any priced offer moved by 0.3 % of its published total is no longer explained."""
    priced = [c for c in comparisons() if not spot_of_another_date(c)]
    assert len(priced) >= MIN_COMPARED - 12
    for c in priced:
        moved = c.offer.model_copy(update={"price_per_hour": c.offer.price_per_hour * 1.003})
        assert classify(replace(c, offer=moved)) is None, c.describe()
