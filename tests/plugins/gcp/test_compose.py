"""Composing machine prices from parts, and the machine table behind it.

The composition rules are pinned with small hand-made ``PricedSku`` values (constructed, the
point is the arithmetic and the all-or-nothing rule); the machine families and usage types are
then checked on the offers the feed makes from the fixture pages.
"""

from __future__ import annotations

import pytest

from aggregator.gpus import default_vocabulary
from aggregator.models import Offer, PurchaseOption
from plugins.gcp.compose import BILLING, ComposeStats, PriceIndex, compose
from plugins.gcp.machines import GPU_MODELS, MACHINE_TYPES, N1_GPU_LIMITS, MachineType
from plugins.gcp.skus import Component, PricedSku, Resource
from tests.plugins.gcp.test_fixtures import fixture_run

OD, SPOT, COMMITTED = PurchaseOption.ON_DEMAND, PurchaseOption.SPOT, PurchaseOption.COMMITTED
A3_8G = next(m for m in MACHINE_TYPES if m.instance_type == "a3-highgpu-8g")
A4_8G = next(m for m in MACHINE_TYPES if m.instance_type == "a4-highgpu-8g")


def sku(
    sku_id: str,
    resource: Resource,
    key: str,
    price: float,
    regions: tuple[str, ...] = ("us-central1",),
    option: PurchaseOption = OD,
    term: int = 0,
    currency: str = "USD",
) -> PricedSku:
    return PricedSku(
        sku_id, sku_id, Component(resource, key, option, term), regions, price, currency
    )


def a3_parts(option: PurchaseOption = OD, term: int = 0) -> list[PricedSku]:
    tag = f"{option.value}-{term}"
    return [
        sku(f"core-{tag}", Resource.CORE, "A3", 0.025, option=option, term=term),
        sku(f"ram-{tag}", Resource.RAM, "A3", 0.002, option=option, term=term),
        sku(f"gpu-{tag}", Resource.GPU, "nvidia-h100-80gb", 10.0, option=option, term=term),
        sku(f"ssd-{tag}", Resource.LOCAL_SSD, "local-ssd", 0.0001, option=option, term=term),
    ]


def composed(skus: list[PricedSku], machines: list[MachineType] | None = None) -> list[Offer]:
    index = PriceIndex()
    for s in skus:
        index.add(s)
    assert index.resolve() == []
    return list(compose(index, machines or [A3_8G]))


# --- the arithmetic and the all-or-nothing rule ---------------------------------------------------


def test_price_is_the_sum_of_the_parts() -> None:
    [offer] = composed(a3_parts())
    assert offer.price_per_hour == pytest.approx(208 * 0.025 + 1872 * 0.002 + 8 * 10 + 6000 * 1e-4)
    assert offer.source == {
        "machine_type": "a3-highgpu-8g",
        "gpu_sku": "gpu-on_demand-0",
        "core_sku": "core-on_demand-0",
        "ram_sku": "ram-on_demand-0",
        "ssd_sku": "ssd-on_demand-0",
    }
    assert offer.billing == BILLING
    assert (offer.gpu, offer.gpu_count, offer.vcpus, offer.memory_gb) == ("H100", 8, 208, 1872)


@pytest.mark.parametrize("missing", ["core", "ram", "gpu", "ssd"])
def test_no_offer_unless_every_part_has_a_sku(missing: str) -> None:
    parts = [p for p in a3_parts() if not p.sku_id.startswith(missing)]
    index = PriceIndex()
    for p in parts:
        index.add(p)
    index.resolve()
    stats = ComposeStats()
    assert list(compose(index, [A3_8G], stats)) == []
    if missing != "gpu":
        assert stats.missing == {"local_ssd" if missing == "ssd" else missing: 1}


def test_parts_must_match_region_option_and_term() -> None:
    mixed = a3_parts()
    mixed[1] = sku("ram-elsewhere", Resource.RAM, "A3", 0.002, regions=("us-east4",))
    assert composed(mixed) == []
    mixed[1] = sku("ram-spot", Resource.RAM, "A3", 0.002, option=SPOT)
    assert composed(mixed) == []
    one_year = a3_parts(COMMITTED, 8760)
    one_year[1] = sku("ram-3y", Resource.RAM, "A3", 0.001, option=COMMITTED, term=26280)
    assert composed(one_year) == []


def test_parts_in_different_currencies_are_not_added() -> None:
    parts = a3_parts()
    parts[0] = sku("core-eur", Resource.CORE, "A3", 0.025, currency="EUR")
    assert composed(parts) == []


def test_committed_machines_use_committed_ssd_and_fall_back_to_on_demand_ssd() -> None:
    committed = a3_parts(COMMITTED, 8760)
    on_demand_ssd = a3_parts()[3]
    [with_ssd_commitment] = composed([*committed, on_demand_ssd])
    assert with_ssd_commitment.source["ssd_sku"] == "ssd-committed-8760"
    assert with_ssd_commitment.source["ssd_usage_type"] == "committed"
    [fallback] = composed([*committed[:3], on_demand_ssd])
    assert fallback.source["ssd_sku"] == "ssd-on_demand-0"
    assert fallback.source["ssd_usage_type"] == "on_demand"
    assert fallback.term_hours == 8760


def test_spot_machines_have_no_ssd_fallback() -> None:
    spot = a3_parts(SPOT)
    assert composed([*spot[:3], a3_parts()[3]]) == []


def test_a4_slices_include_the_host_and_its_local_ssd() -> None:
    # One "A4 Nvidia B200 (1 gpu slice)" SKU per GPU prices an eighth of the whole machine;
    # gpuhunt and SkyPilot, reading the same Billing API, add nothing to the 8 slices. Google:
    # accelerator-optimized machines are billed "for their attached GPUs, predefined vCPU,
    # memory, and bundled Local SSD (if applicable)", and for A4 none of those has a SKU of
    # its own. The 12,000 GiB on top overpriced A4 by ~1.33 USD/h on demand.
    parts = [
        sku("b200", Resource.GPU, "nvidia-b200", 11.0),
        sku("ssd", Resource.LOCAL_SSD, "local-ssd", 0.0001),
    ]
    [offer] = composed(parts, [A4_8G])
    assert offer.price_per_hour == pytest.approx(8 * 11.0)
    assert set(offer.source) == {"machine_type", "gpu_sku"}


def test_the_most_specific_sku_wins_and_equal_prices_are_duplicates() -> None:
    index = PriceIndex()
    americas = sku("AMER", Resource.GPU, "nvidia-h100-80gb", 10.0, ("us-central1", "us-east1"))
    iowa = sku("IOWA", Resource.GPU, "nvidia-h100-80gb", 9.0, ("us-central1",))
    twin = sku("IOWA2", Resource.GPU, "nvidia-h100-80gb", 9.0, ("us-central1",))
    for s in (americas, iowa, twin):
        index.add(s)
    assert index.resolve() == []
    assert index.get((Resource.GPU, "nvidia-h100-80gb", "us-central1", OD, 0)) is iowa
    assert index.get((Resource.GPU, "nvidia-h100-80gb", "us-east1", OD, 0)) is americas


def test_equally_specific_skus_at_different_prices_are_a_conflict() -> None:
    index = PriceIndex()
    for s in (
        sku("MEGA", Resource.GPU, "nvidia-h100-mega-80gb", 10.34),
        sku("PLUS", Resource.GPU, "nvidia-h100-mega-80gb", 11.0),
    ):
        index.add(s)
    [conflict] = index.resolve()
    assert [s.sku_id for s in conflict.skus] == ["MEGA", "PLUS"]
    assert "ambiguous gpu nvidia-h100-mega-80gb in us-central1" in conflict.describe()
    assert index.get((Resource.GPU, "nvidia-h100-mega-80gb", "us-central1", OD, 0)) is None


# --- the machine table ----------------------------------------------------------------------------


def test_machine_table_covers_the_required_machine_types() -> None:
    names = {m.instance_type for m in MACHINE_TYPES}
    required = {
        *(f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)),
        "a2-megagpu-16g",
        *(f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)),
        *(f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)),
        "a3-megagpu-8g",
        "a3-ultragpu-8g",
        "a4-highgpu-8g",
        *(f"g2-standard-{n}" for n in (4, 8, 12, 16, 24, 32, 48, 96)),
    }
    assert required <= names
    assert len(names) == len(MACHINE_TYPES)
    vocabulary = default_vocabulary()
    for machine in MACHINE_TYPES:
        spec = vocabulary.get(machine.gpu.canonical)
        assert spec is not None and machine.gpu.memory_gb in spec.memory_gb, machine
    assert {m.gpu.accelerator_type for m in MACHINE_TYPES} == set(GPU_MODELS)


def test_n1_hosts_carry_every_allowed_gpu_count_within_the_limits() -> None:
    n1 = [m for m in MACHINE_TYPES if m.host_family == "N1"]
    counts = {(m.gpu.accelerator_type, m.gpu_count) for m in n1}
    assert counts == {
        *(("nvidia-tesla-t4", n) for n in (1, 2, 4)),
        *(("nvidia-tesla-v100", n) for n in (1, 2, 4, 8)),
        *(("nvidia-tesla-p100", n) for n in (1, 2, 4)),
        *(("nvidia-tesla-p4", n) for n in (1, 2, 4)),
    }
    for m in n1:
        max_vcpus, max_gib = N1_GPU_LIMITS[m.gpu.accelerator_type][m.gpu_count]
        assert m.vcpus <= max_vcpus and m.memory_gib <= max_gib
        assert m.memory_gib == m.vcpus * 3.75
        assert m.instance_type == f"{m.machine_type}+{m.gpu_count}x{m.gpu.accelerator_type}"
    assert "n1-standard-8+1xnvidia-tesla-v100" in {m.instance_type for m in n1}
    assert "n1-standard-16+1xnvidia-tesla-v100" not in {m.instance_type for m in n1}  # > 12 vCPU
    assert "n1-standard-64+4xnvidia-tesla-p100" not in {m.instance_type for m in n1}  # > 208 GiB


def test_bundled_local_ssd_only_where_the_machine_type_has_it() -> None:
    ssd = {m.instance_type: m.local_ssd_gib for m in MACHINE_TYPES if m.local_ssd_gib}
    assert ssd == {
        "a2-ultragpu-1g": 375,
        "a2-ultragpu-2g": 750,
        "a2-ultragpu-4g": 1500,
        "a2-ultragpu-8g": 3000,
        "a3-highgpu-1g": 750,
        "a3-highgpu-2g": 1500,
        "a3-highgpu-4g": 3000,
        "a3-highgpu-8g": 6000,
        "a3-megagpu-8g": 6000,
        "a3-edgegpu-8g": 6000,
        "a3-ultragpu-8g": 12000,
    }


# --- every family and usage type, on the fixture pages ------------------------------------------

FAMILY_OFFERS = [
    # (instance type, region, option, term, expected gpu_sku)  real ids unless FIXT-
    ("a2-highgpu-1g", "us-central1", "on_demand", 0, "039F-D0DA-4055"),
    ("a2-megagpu-16g", "us-central1", "spot", 0, "FIXT-A100-SPOT-AMER"),
    ("a2-ultragpu-4g", "us-east5", "on_demand", 0, "FIXT-A100X80-OD-COLU"),
    ("a3-highgpu-1g", "us-east4", "spot", 0, "5034-88A0-BA40"),
    ("a3-highgpu-2g", "europe-west4", "committed", 8760, "4D6B-44A7-C581"),
    ("a3-highgpu-4g", "us-central1", "committed", 26280, "2C3A-BAB7-8C82"),
    ("a3-megagpu-8g", "us-central1", "on_demand", 0, "7CFD-81D6-E49C"),  # H100 Plus SKU
    ("a3-megagpu-8g", "us-east4", "committed", 26280, "CF2B-5A58-0C9B"),  # H100 Mega SKU
    ("a3-ultragpu-8g", "us-west1", "spot", 0, "FIXT-H200-SPOT-AMER"),
    ("a4-highgpu-8g", "us-central1", "spot", 0, "FIXT-B200-SPOT-AMER"),
    ("g2-standard-48", "us-central1", "on_demand", 0, "FIXT-L4-OD-AMER"),
    ("n1-standard-8+2xnvidia-tesla-t4", "me-west1", "committed", 8760, "FIXT-T4-1Y-ISRA"),
    ("n1-standard-96+8xnvidia-tesla-v100", "us-central1", "spot", 0, "FIXT-V100-SPOT-AMER"),
    ("n1-standard-32+4xnvidia-tesla-p100", "us-east1", "on_demand", 0, "FIXT-P100-OD-AMER"),
    ("n1-standard-16+1xnvidia-tesla-p4", "us-east4", "spot", 0, "FIXT-P4-SPOT-VIRG"),
]


@pytest.mark.parametrize(("instance_type", "region", "option", "term", "gpu_sku"), FAMILY_OFFERS)
def test_every_family_and_usage_type_is_composed(
    instance_type: str, region: str, option: str, term: int, gpu_sku: str
) -> None:
    offer = fixture_run().get(instance_type, region, option, term)
    assert offer.source["gpu_sku"] == gpu_sku
    assert offer.interruptible is (option == "spot")
    assert (offer.payment, offer.offering_class, offer.currency) == (None, None, "USD")


def test_commitments_are_committed_offers_of_one_or_three_years() -> None:
    committed = [o for o in fixture_run().offers if o.purchase_option is COMMITTED]
    assert {o.term_hours for o in committed} == {8760, 26280}
    assert {o.instance_type.split("-")[0] for o in committed} == {"a3", "n1"}
    one_year = fixture_run().get("a3-highgpu-8g", "us-central1", "committed", 8760)
    seen = {k: v for k, v in one_year.source.items() if k.endswith("_observed_at")}
    assert set(seen) == {
        "gpu_sku_observed_at",
        "core_sku_observed_at",
        "ram_sku_observed_at",
        "ssd_sku_observed_at",
    }
    assert one_year.observed_at is not None
    assert one_year.observed_at.isoformat() == min(seen.values())  # its oldest part
    assert {k: v for k, v in one_year.source.items() if k not in seen} == {
        "machine_type": "a3-highgpu-8g",
        "ssd_usage_type": "on_demand",  # no local SSD commitment SKU recorded for Americas
        "gpu_sku": "302A-B1A1-06DD",
        "core_sku": "5202-A7BE-41A2",
        "ram_sku": "6EAC-3BF8-CAE3",
        "ssd_sku": "62AF-A39E-269B",
    }
    # 208 x 0.017732476 + 1872 x 0.001544125 + 8 x 6.79880857 + 6000 x 0.08 / 720
    assert one_year.price_per_hour == pytest.approx(61.636092235, abs=1e-8)
    three_year = fixture_run().get("a3-highgpu-8g", "us-central1", "committed", 26280)
    assert three_year.price_per_hour < one_year.price_per_hour < 88.5


def test_machines_without_all_parts_in_a_region_are_absent() -> None:
    run = fixture_run()
    # H200 and A3Ultra host SKUs (constructed) exist only for Americas, which prices
    # us-central1, us-east1 and us-west1; A3 Ultra is not sold in us-east1.
    assert {o.region for o in run.offers if o.instance_type == "a3-ultragpu-8g"} == {
        "us-central1",
        "us-west1",
    }
    # G2 host SKUs exist only for Americas in the fixtures: no L4 machine in europe-west4.
    assert not run.has("g2-standard-4", "europe-west4")
    # Spot A3 commitments do not exist, and neither do A2 commitments in the fixtures.
    assert not any(o.instance_type.startswith("a2-") and o.term_hours for o in run.offers)


def test_variant_and_wrong_currency_skus_change_no_price() -> None:
    run = fixture_run()
    # the DWS H100 SKU (FIXT-DWS-OD-AMER, $4.20076) and the sole-tenancy core are ignored
    a3 = run.get("a3-highgpu-8g", "us-central1")
    assert a3.source["gpu_sku"] == "D4E2-451A-15B9" and a3.source["core_sku"] == "A9CB-099C-53ED"
    # the IDR copy of the A2 RAM SKU is rejected; the USD one prices the machine
    assert run.get("a2-highgpu-1g", "us-central1").source["ram_sku"] == "2390-DCAF-DA38"
    sources = {v for o in run.offers for v in o.source.values()}
    assert not {"FIXT-DWS-OD-AMER", "FIXT-SOLE-OD-AMER", "FIXT-IDR-A2R-OD-AMER"} & sources


@pytest.mark.parametrize("unpriced", ["core", "ram", "gpu", "ssd"])
def test_a_listed_part_without_a_usable_price_holds_the_offer_instead_of_dropping_it(
    unpriced: str,
) -> None:
    index = PriceIndex()
    for part in a3_parts():
        if part.sku_id.startswith(unpriced):
            index.add_unpriced(part.component, part.regions)
        else:
            index.add(part)
    index.resolve()
    stats = ComposeStats()
    assert list(compose(index, [A3_8G], stats)) == []
    assert stats.held == [
        {
            "region": "us-central1",
            "instance_type": "a3-highgpu-8g",
            "purchase_option": "on_demand",
            "term_hours": 0,
        }
    ]
    assert not stats.missing


def test_a_part_not_listed_at_all_is_missing_even_beside_an_unpriced_one() -> None:
    core, _ram, gpu, ssd = a3_parts()
    index = PriceIndex()
    index.add(gpu)
    index.add(ssd)
    index.add_unpriced(core.component, core.regions)  # and no RAM SKU at all
    index.resolve()
    stats = ComposeStats()
    assert list(compose(index, [A3_8G], stats)) == []
    assert stats.held == [] and stats.missing == {"ram": 1}


def test_a_composed_price_is_as_old_as_its_oldest_part() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    dates = [datetime(2024, 9, 16, tzinfo=UTC), datetime(2023, 3, 24, tzinfo=UTC)]
    parts = [replace(p, observed_at=dates[i % 2]) for i, p in enumerate(a3_parts())]
    [offer] = composed(parts)
    assert offer.observed_at == datetime(2023, 3, 24, tzinfo=UTC)
    assert offer.source["core_sku_observed_at"] == "2024-09-16T00:00:00+00:00"
    assert offer.source["ram_sku_observed_at"] == "2023-03-24T00:00:00+00:00"
    [undated] = composed(a3_parts())  # parts of a recording made before stamps: no date
    assert undated.observed_at is None and not any(
        k.endswith("_observed_at") for k in undated.source
    )
