"""Reading one Cloud Billing SKU: names, usage types, variants, units + nanos, tiers, units of
measure, regions and currency. Real recorded SKUs wherever one exists (``real(...)``); where the
recordings have none, the test says so and uses a constructed SKU or description.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aggregator.models import PurchaseOption
from plugins.gcp.skus import (
    Component,
    PricedSku,
    Resource,
    SkipKind,
    Skipped,
    classify,
    hours_per_usage_unit,
    money,
    ordinary_rate,
    parse_sku,
)
from tests.plugins.gcp.test_fixtures import constructed, real

OD, SPOT, COMMITTED = PurchaseOption.ON_DEMAND, PurchaseOption.SPOT, PurchaseOption.COMMITTED
CORE, RAM, GPU, SSD = Resource.CORE, Resource.RAM, Resource.GPU, Resource.LOCAL_SSD


def parsed(raw: dict[str, Any]) -> PricedSku:
    result = parse_sku(raw)
    assert isinstance(result, PricedSku), result
    return result


def skipped(raw: dict[str, Any]) -> Skipped:
    result = parse_sku(raw)
    assert isinstance(result, Skipped), result
    return result


# --- units + nanos -------------------------------------------------------------------------------


def test_units_plus_nanos_of_the_real_a100_sku() -> None:
    a100 = real("Nvidia Tesla A100 GPU running in Americas")
    unit_price = a100["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]
    assert (unit_price["units"], unit_price["nanos"]) == ("2", 933908000)
    assert money(unit_price) == 2.933908
    assert parsed(a100).price_per_hour == 2.933908


@pytest.mark.parametrize(
    ("units", "nanos", "expected"),
    [
        ("0", 4237000, 0.004237),  # real A2 RAM, Americas
        ("9", 796550569, 9.796550569),  # real H100, Americas
        ("0", 0, 0.0),
        ("-1", -750000000, -1.75),  # google.type.Money: nanos carry the sign of units
        (None, 500000000, 0.5),  # units may be omitted
    ],
)
def test_money_is_units_plus_nanos(units: str | None, nanos: int, expected: float) -> None:
    unit_price: dict[str, Any] = {"currencyCode": "USD", "nanos": nanos}
    if units is not None:
        unit_price["units"] = units
    assert money(unit_price) == expected


@pytest.mark.parametrize(("units", "nanos"), [("1", -5), ("-1", 5), ("0", 1_000_000_000)])
def test_money_refuses_inconsistent_values(units: str, nanos: int) -> None:
    with pytest.raises(ValueError):
        money({"units": units, "nanos": nanos})


# --- tiers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "expected"),
    [("Storage PD Capacity", 0.04), ("Storage PD Capacity in Columbus", 0.04)],
)
def test_real_two_tier_skus_price_the_tier_after_the_free_allowance(
    description: str, expected: float
) -> None:
    tiers = real(description)["pricingInfo"][0]["pricingExpression"]["tieredRates"]
    assert [(t["startUsageAmount"], money(t["unitPrice"])) for t in tiers] == [
        (0, 0.0),
        (30, expected),
    ]
    assert ordinary_rate(tiers) == (expected, "USD")
    assert ordinary_rate(list(reversed(tiers))) == (expected, "USD")  # order by start amount


def test_volume_discount_tiers_are_not_assumed() -> None:
    # Constructed: no Compute Engine SKU in the recordings has cheaper tiers for large usage.
    tiers = [
        {
            "startUsageAmount": 0,
            "unitPrice": {"currencyCode": "USD", "units": "0", "nanos": 120000000},
        },
        {"startUsageAmount": 1024, "unitPrice": {"currencyCode": "USD", "nanos": 110000000}},
        {"startUsageAmount": 10240, "unitPrice": {"currencyCode": "USD", "nanos": 80000000}},
    ]
    assert ordinary_rate(tiers) == (0.12, "USD")


def test_a_sku_whose_every_tier_is_free_is_rejected() -> None:
    core = copy.deepcopy(real("A3 Instance Core running in Americas"))
    core["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]["nanos"] = 0
    assert ordinary_rate(core["pricingInfo"][0]["pricingExpression"]["tieredRates"])[0] == 0.0
    assert skipped(core).kind is SkipKind.MALFORMED


# --- units of measure ----------------------------------------------------------------------------


def test_conversion_factors_of_real_skus() -> None:
    def expression(description: str) -> dict[str, Any]:
        return real(description)["pricingInfo"][0]["pricingExpression"]  # type: ignore[no-any-return]

    assert hours_per_usage_unit(expression("A3 Instance Core running in Americas")) == 1.0
    assert hours_per_usage_unit(expression("A3 Instance Ram running in Americas")) == 1.0
    ssd = expression("SSD backed Local Storage")
    assert (ssd["usageUnit"], ssd["baseUnitConversionFactor"]) == ("GiBy.mo", 2783138807808000.0)
    assert hours_per_usage_unit(ssd) == 720.0  # 2^30 bytes x 2,592,000 s: a 30-day month
    assert parsed(real("SSD backed Local Storage")).price_per_hour == pytest.approx(0.08 / 720)


@pytest.mark.parametrize(
    "expression",
    [
        {"usageUnit": "h", "baseUnit": "s", "baseUnitConversionFactor": 60},
        {"usageUnit": "GiBy.h", "baseUnit": "By.s", "baseUnitConversionFactor": 3600},
        {"usageUnit": "GiBy.mo", "baseUnit": "By.s"},
        {"usageUnit": "mo", "baseUnit": "s", "baseUnitConversionFactor": 2592000},
        {"usageUnit": "GiBy.d"},
    ],
)
def test_units_we_cannot_convert_for_sure_are_refused(expression: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        hours_per_usage_unit(expression)


def test_the_opencost_struct_without_conversion_factor_still_parses() -> None:
    # Real item written by OpenCost's Go struct: IDR, capitalised "EffectiveTime", extra
    # "node"/"pv" keys and no baseUnitConversionFactor. Renamed to a RAM SKU we use so that
    # parse_sku reads its price (the only change).
    sku = copy.deepcopy(real("T2D AMD Instance Ram running in Singapore"))
    assert "EffectiveTime" in sku["pricingInfo"][0] and sku["node"] is None
    assert "baseUnitConversionFactor" not in sku["pricingInfo"][0]["pricingExpression"]
    sku["description"] = "N1 Predefined Instance Ram running in Singapore"
    result = parse_sku(sku, currency="IDR")
    assert isinstance(result, PricedSku)
    assert (result.price_per_hour, result.currency, result.regions) == (
        68.204999658,
        "IDR",
        ("asia-southeast1",),
    )


# --- names, usage types and variants: real SKUs ---------------------------------------------------

REAL_COMPONENTS = [
    ("Nvidia Tesla A100 GPU running in Americas", "OnDemand", GPU, "nvidia-tesla-a100", OD, 0),
    ("A2 Instance Core running in Americas", "OnDemand", CORE, "A2", OD, 0),
    ("A2 Instance Ram running in Americas", "OnDemand", RAM, "A2", OD, 0),
    ("Nvidia H100 80GB GPU running in Americas", "OnDemand", GPU, "nvidia-h100-80gb", OD, 0),
    (
        "Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in Virginia",
        "Preemptible",
        GPU,
        "nvidia-h100-80gb",
        SPOT,
        0,
    ),
    (
        "Commitment v1: Nvidia H100 80GB GPU running in Americas for 1 Year",
        "Commit1Yr",
        GPU,
        "nvidia-h100-80gb",
        COMMITTED,
        8760,
    ),
    (
        "Commitment v1: Nvidia H100 80GB GPU running in Netherlands for 3 Years",
        "Commit3Yr",
        GPU,
        "nvidia-h100-80gb",
        COMMITTED,
        26280,
    ),
    (
        "Nvidia H100 80GB Mega GPU running in Virginia",
        "OnDemand",
        GPU,
        "nvidia-h100-mega-80gb",
        OD,
        0,
    ),
    (
        "Nvidia H100 80GB Plus GPU running in Americas",
        "OnDemand",
        GPU,
        "nvidia-h100-mega-80gb",
        OD,
        0,
    ),
    (
        "Nvidia H100 80GB Plus GPU attached to Spot Preemptible VMs running in Americas",
        "Preemptible",
        GPU,
        "nvidia-h100-mega-80gb",
        SPOT,
        0,
    ),
    (
        "Commitment v1: Nvidia H100 80GB Mega GPU running in Virginia for 3 Years",
        "Commit3Yr",
        GPU,
        "nvidia-h100-mega-80gb",
        COMMITTED,
        26280,
    ),
    ("A3 Instance Core running in Americas", "OnDemand", CORE, "A3", OD, 0),
    ("A3 Instance Ram running in Netherlands", "OnDemand", RAM, "A3", OD, 0),
    ("Spot Preemptible A3 Instance Core running in Americas", "Preemptible", CORE, "A3", SPOT, 0),
    ("Spot Preemptible A3 Instance Ram running in Virginia", "Preemptible", RAM, "A3", SPOT, 0),
    ("Commitment v1: A3 Cpu in Americas for 1 Year", "Commit1Yr", CORE, "A3", COMMITTED, 8760),
    ("Commitment v1: A3 Ram in Virginia for 3 Years", "Commit3Yr", RAM, "A3", COMMITTED, 26280),
    ("A3Plus Instance Core running in Americas", "OnDemand", CORE, "A3Plus", OD, 0),
    (
        "Spot Preemptible A3Plus Instance Ram running in Netherlands",
        "Preemptible",
        RAM,
        "A3Plus",
        SPOT,
        0,
    ),
    (
        "Commitment v1: A3Plus Cpu in Virginia for 1 Year",
        "Commit1Yr",
        CORE,
        "A3Plus",
        COMMITTED,
        8760,
    ),
    ("N1 Predefined Instance Core running in Americas", "OnDemand", CORE, "N1", OD, 0),
    ("N1 Predefined Instance Ram running in Israel", "OnDemand", RAM, "N1", OD, 0),
    (
        "Spot Preemptible N1 Predefined Instance Core running in Virginia",
        "Preemptible",
        CORE,
        "N1",
        SPOT,
        0,
    ),
    ("Commitment v1: N1 Cpu in Israel for 1 Year", "Commit1Yr", CORE, "N1", COMMITTED, 8760),
    ("Commitment v1: N1 Ram in Israel for 3 Years", "Commit3Yr", RAM, "N1", COMMITTED, 26280),
    ("SSD backed Local Storage", "OnDemand", SSD, "local-ssd", OD, 0),
    (
        "SSD backed Local Storage attached to Spot Preemptible VMs",
        "Preemptible",
        SSD,
        "local-ssd",
        SPOT,
        0,
    ),
    ("SSD backed Local Storage in Netherlands", "OnDemand", SSD, "local-ssd", OD, 0),
    (
        "SSD backed Local Storage attached to Spot Preemptible VMs in Columbus",
        "Preemptible",
        SSD,
        "local-ssd",
        SPOT,
        0,
    ),
]


@pytest.mark.parametrize(
    ("description", "usage_type", "resource", "key", "option", "term"), REAL_COMPONENTS
)
def test_real_skus_are_the_components_they_name(
    description: str,
    usage_type: str,
    resource: Resource,
    key: str,
    option: PurchaseOption,
    term: int,
) -> None:
    sku = parsed(real(description, usage_type))
    assert sku.component == Component(resource, key, option, term)
    assert sku.sku_id == real(description, usage_type)["skuId"]


REAL_VARIANTS = [
    ("Custom Instance Core running in Americas", "custom"),
    ("Custom Extended Instance Ram running in Americas", "custom"),
    ("G2 Custom Instance Core running in Americas", "custom"),
    ("Spot Preemptible G2 Custom Instance Ram running in Americas", "custom"),
    ("E2 Custom Instance Core running in Delhi", "custom"),
    ("Reserved N2 Custom Core in Milan", "reservation"),
    ("Committed Use Discount Premium for G2 Custom Instance Core running in Americas", "premium"),
]


@pytest.mark.parametrize(("description", "marker"), REAL_VARIANTS)
def test_real_variant_skus_are_never_used(description: str, marker: str) -> None:
    result = skipped(real(description))
    assert result.kind is SkipKind.VARIANT
    assert marker in result.reason


CONSTRUCTED_VARIANTS = [
    # Constructed: the recordings hold no SKU of these kinds (descriptions as other public
    # catalogs quote them; the flex-start wording is our own).
    ("FIXT-SOLE-OD-AMER", "sole-tenant"),
    ("FIXT-DWS-OD-AMER", "Dynamic Workload Scheduler"),
    ("FIXT-DWSM-OD-AMER", "Dynamic Workload Scheduler"),
    ("FIXT-CAL-OD-AMER", "calendar-mode"),
    ("FIXT-FLEX-OD-AMER", "flex-start"),
    ("FIXT-VWS-OD-AMER", "virtual workstation"),
    ("FIXT-A2CSPOT-1Y-AMER", "commitment on spot"),
]


@pytest.mark.parametrize(("sku_id", "reason"), CONSTRUCTED_VARIANTS)
def test_constructed_variant_skus_are_never_used(sku_id: str, reason: str) -> None:
    result = skipped(constructed(sku_id))
    assert result.kind is SkipKind.VARIANT
    assert reason in result.reason


@pytest.mark.parametrize(
    "description",
    [
        # Constructed descriptions: the variant markers win over a name that would match.
        "Nvidia H100 80GB GPU running in Americas in Calendar Mode",
        "Reserved A2 Ram in Netherlands",
        "Nvidia L4 GPU attached to DWS Defined Duration VMs running in Frankfurt",
        "Nvidia Tesla P100 Virtual Workstation GPU running in Americas",
        "Nvidia L4 Flex Start GPU running in Americas",
        "Sole Tenancy Instance Ram running in Americas",
        "Memory Optimized Upgrade Premium for Memory-optimized Instance Core running in Americas",
    ],
)
def test_variant_words_are_caught_in_any_position(description: str) -> None:
    for usage_type in ("OnDemand", "Preemptible", "Commit1Yr"):
        result = classify(description, usage_type, "GPU")
        assert isinstance(result, Skipped) and result.kind is SkipKind.VARIANT, result


def test_names_are_matched_exactly_not_by_prefix() -> None:
    # Constructed descriptions around real names.
    a100 = classify("Nvidia Tesla A100 GPU running in Las Vegas", "OnDemand", "GPU")
    a100_80 = classify("Nvidia Tesla A100 80GB GPU running in Las Vegas", "OnDemand", "GPU")
    assert isinstance(a100, Component) and a100.key == "nvidia-tesla-a100"
    assert isinstance(a100_80, Component) and a100_80.key == "nvidia-a100-80gb"
    for description in (
        "Nvidia L40 GPU running in Netherlands",
        "Nvidia H100 NVL GPU running in Americas",
        "Nvidia Tesla A100 GPU (spare) running in Americas",
    ):
        result = classify(description, "OnDemand", "GPU")
        assert isinstance(result, Skipped) and result.kind is SkipKind.UNKNOWN_GPU
    families = {
        f"{family} Instance Core running in Americas": family
        for family in ("A2", "A3", "A3Plus", "A3Ultra", "G2")
    }
    for description, family in families.items():
        result = classify(description, "OnDemand", "CPU")
        assert isinstance(result, Component) and result.key == family
    for description in (
        "A3Mega Instance Core running in Americas",
        "N1 Instance Core running in X",
    ):
        result = classify(description, "OnDemand", "CPU")
        assert isinstance(result, Skipped) and result.kind is SkipKind.IRRELEVANT


def test_constructed_skus_of_families_the_recordings_lack() -> None:
    expected = {
        "FIXT-A100X80-OD-COLU": (GPU, "nvidia-a100-80gb", OD),
        "FIXT-L4-SPOT-AMER": (GPU, "nvidia-l4", SPOT),
        "FIXT-T4-OD-VIRG": (GPU, "nvidia-tesla-t4", OD),
        "FIXT-V100-SPOT-AMER": (GPU, "nvidia-tesla-v100", SPOT),
        "FIXT-P100-OD-AMER": (GPU, "nvidia-tesla-p100", OD),
        "FIXT-P4-SPOT-VIRG": (GPU, "nvidia-tesla-p4", SPOT),
        "FIXT-H200-OD-AMER": (GPU, "nvidia-h200-141gb", OD),
        "FIXT-B200-OD-AMER": (GPU, "nvidia-b200", OD),
        "FIXT-G2C-OD-AMER": (CORE, "G2", OD),
        "FIXT-G2R-SPOT-AMER": (RAM, "G2", SPOT),
        "FIXT-A3UC-OD-AMER": (CORE, "A3Ultra", OD),
        "FIXT-A3UR-SPOT-AMER": (RAM, "A3Ultra", SPOT),
        "FIXT-A2C-SPOT-LASV": (CORE, "A2", SPOT),
    }
    for sku_id, (resource, key, option) in expected.items():
        component = parsed(constructed(sku_id)).component
        assert (component.resource, component.key, component.option) == (resource, key, option)
    t4 = parsed(constructed("FIXT-T4-3Y-ISRA")).component
    assert (t4.option, t4.term_hours) == (COMMITTED, 26280)
    ssd = parsed(constructed("FIXT-LSSD-1Y-VIRG")).component
    assert (ssd.resource, ssd.option, ssd.term_hours) == (SSD, COMMITTED, 8760)


def test_a_spot_b200_slice_tagged_on_demand_is_spot() -> None:
    sku = constructed("FIXT-B200-SPOT-AMER")  # constructed after the real A4 SKUs' quirk
    assert sku["category"]["usageType"] == "OnDemand"
    assert parsed(sku).component == Component(GPU, "nvidia-b200", SPOT)


@pytest.mark.parametrize(
    ("description", "usage_type", "kind"),
    [
        # Constructed combinations of real names with usage types that contradict them.
        ("Nvidia L4 GPU running in Americas", "Preemptible", SkipKind.MALFORMED),
        ("Nvidia L4 GPU running in Americas", "Commit1Yr", SkipKind.MALFORMED),
        ("Commitment v1: A3 Cpu in Americas for 1 Year", "Commit3Yr", SkipKind.MALFORMED),
        ("Commitment v1: A3 Cpu in Americas for 1 Year", "OnDemand", SkipKind.MALFORMED),
        (
            "Nvidia Tesla T4 GPU attached to Spot Preemptible VMs running in Americas",
            "Commit1Yr",
            SkipKind.VARIANT,
        ),
        (
            "Commitment v1: Spot Preemptible A3 Cpu in Americas for 1 Year",
            "Commit1Yr",
            SkipKind.VARIANT,
        ),
        ("Commitment v1: A3 Cpu in Americas for 5 Years", "Commit5Yr", SkipKind.USAGE_TYPE),
        ("Nvidia L4 GPU running in Americas", "CmtCudPremium", SkipKind.USAGE_TYPE),
        ("Commitment v1: E2 Cpu in Americas for 1 Year", "Commit3Yr", SkipKind.IRRELEVANT),
    ],
)
def test_usage_type_and_description_must_agree(
    description: str, usage_type: str, kind: SkipKind
) -> None:
    result = classify(description, usage_type, "CPU")
    assert isinstance(result, Skipped) and result.kind is kind, result


def test_a_sku_in_the_wrong_resource_group_is_rejected() -> None:
    sku = copy.deepcopy(real("Nvidia H100 80GB GPU running in Americas"))
    sku["category"]["resourceGroup"] = "CPU"
    assert skipped(sku).kind is SkipKind.MALFORMED


def test_a_sku_sold_by_someone_else_is_irrelevant() -> None:
    sku = copy.deepcopy(real("Nvidia H100 80GB GPU running in Americas"))
    sku["serviceProviderName"] = "Partner Corp"
    assert skipped(sku).kind is SkipKind.IRRELEVANT


# --- regions: serviceRegions vs geoTaxonomy -------------------------------------------------------


def test_service_regions_win_over_geo_taxonomy() -> None:
    a3plus = real("A3Plus Instance Core running in Americas")
    assert a3plus["geoTaxonomy"]["type"] == "MULTI_REGIONAL"
    assert "us-central2" in a3plus["geoTaxonomy"]["regions"]
    assert "us-central2" not in a3plus["serviceRegions"]
    assert parsed(a3plus).regions == ("us-central1", "us-east1", "us-west1")


def test_a_multi_regional_sku_applies_to_every_region_it_lists() -> None:
    ssd = real("SSD backed Local Storage")
    assert ssd["geoTaxonomy"]["type"] == "MULTI_REGIONAL"
    assert parsed(ssd).regions == (
        "us-central1",
        "us-east1",
        "us-west1",
        "asia-east1",
        "europe-west1",
    )
    h100 = real("Nvidia H100 80GB GPU running in Virginia")
    assert h100["geoTaxonomy"] == {"type": "REGIONAL", "regions": ["us-east4"]}
    assert parsed(h100).regions == ("us-east4",)


def test_a_global_sku_takes_its_service_regions() -> None:
    # The real GLOBAL SKU (custom, so never used itself) renamed to a name we use.
    sku = copy.deepcopy(real("E2 Custom Instance Core running in Delhi"))
    assert sku["geoTaxonomy"] == {"type": "GLOBAL", "regions": []}
    assert sku["serviceRegions"] == ["asia-south2"]
    sku["description"] = "N1 Predefined Instance Core running in Delhi"
    assert parsed(sku).regions == ("asia-south2",)


def test_geo_taxonomy_is_the_fallback_and_no_region_is_a_reject() -> None:
    sku = copy.deepcopy(real("Nvidia H100 80GB GPU running in Netherlands"))
    sku["serviceRegions"] = []
    assert parsed(sku).regions == ("europe-west4",)
    sku["geoTaxonomy"] = {"type": "GLOBAL"}
    assert skipped(sku).kind is SkipKind.MALFORMED


# --- currency ------------------------------------------------------------------------------------


def test_real_idr_skus_of_other_families_are_just_irrelevant() -> None:
    for description in (
        "T2D AMD Instance Core running in Singapore",
        "E2 Instance Ram running in Americas",
    ):
        sku = real(description)
        assert (
            sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"][
                "currencyCode"
            ]
            == "IDR"
        )
        assert skipped(sku).kind is SkipKind.IRRELEVANT


def test_a_usable_sku_in_another_currency_is_rejected_not_converted() -> None:
    idr = constructed("FIXT-IDR-A2R-OD-AMER")  # the real A2 RAM SKU, priced in IDR
    result = skipped(idr)
    assert (result.kind, result.is_reject) == (SkipKind.CURRENCY, True)
    assert "IDR" in result.reason
    kept = parse_sku(idr, currency="IDR")  # had we asked for IDR, it would be the price
    assert isinstance(kept, PricedSku) and kept.currency == "IDR"


def test_the_newest_pricing_info_is_used() -> None:
    sku = copy.deepcopy(real("Nvidia H100 80GB GPU running in Americas"))
    older = copy.deepcopy(sku["pricingInfo"][0])
    older["effectiveTime"] = "2023-01-01T00:00:00Z"
    older["pricingExpression"]["tieredRates"][0]["unitPrice"]["units"] = "1"
    sku["pricingInfo"] = [sku["pricingInfo"][0], older]
    assert parsed(sku).price_per_hour == 9.796550569


def test_service_regions_must_be_a_list() -> None:
    sku = copy.deepcopy(real("Nvidia H100 80GB GPU running in Netherlands"))
    sku["serviceRegions"] = "europe-west4"
    assert skipped(sku).kind is SkipKind.MALFORMED
