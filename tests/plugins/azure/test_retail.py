"""Classifying real Azure Retail Prices rows, parsing pages and building the first request."""

from __future__ import annotations

import copy
import json
import urllib.parse
from functools import cache
from typing import Any

import pytest

from aggregator.errors import ProviderResponseError
from aggregator.models import Offer
from plugins.azure.pages import first_urls, parse_page
from plugins.azure.retail import OfferSet, PricedOffer, classify
from tests import paths

FIXTURES = paths.FIXTURES / "azure"

# Published figure for the cross-check: SkyPilot's Azure catalog (catalogs/v6/azure/vms.csv,
# commit 098741e7), Standard_NC48ads_A100_v4 in eastus2, column Price.
SKYPILOT_NC48ADS_A100_V4_EASTUS2 = 7.346


@cache
def _items(name: str) -> tuple[dict[str, Any], ...]:
    document = json.loads((FIXTURES / name).read_text())
    if isinstance(document, list):  # azure_prices.json: a bare list of items
        return tuple(document)
    return tuple(document.get("Items") or document["items"])


def items(name: str) -> list[dict[str, Any]]:
    return copy.deepcopy(list(_items(name)))


EASTUS2 = "virtual_machines_eastus2.json"
MEXICO = "mexicocentral_virtual_machines_slice.json"
FRANCE = "francecentral_retail_prices_slice.json"
MIXED = "azure_prices_slice.json"
ALL = (EASTUS2, MEXICO, FRANCE, MIXED)
NCSV3 = "Virtual Machines NCSv3 Series"  # the Linux product of NCv3 in francecentral


def offers_of(rows: list[dict[str, Any]]) -> list[PricedOffer]:
    return [priced for row in rows for priced in classify(row).offers]


def find(name: str, **match: Any) -> dict[str, Any]:
    found = [i for i in items(name) if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, len(found))
    return found[0]


def by_key(priced: list[PricedOffer]) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    return {p.key: p.offer for p in priced}


# --- the pinned cross-check ------------------------------------------------------------------


def test_nc48ads_a100_v4_eastus2_matches_the_published_prices() -> None:
    offers = by_key(offers_of(items(EASTUS2)))
    on_demand = offers[("eastus2", "Standard_NC48ads_A100_v4", "on_demand", 0)]
    assert on_demand["price_per_hour"] == pytest.approx(SKYPILOT_NC48ADS_A100_V4_EASTUS2, rel=0.01)
    assert on_demand["price_per_hour"] == 7.346
    reserved = offers[("eastus2", "Standard_NC48ads_A100_v4", "reserved", 8760)]
    # The real row: type Reservation, reservationTerm "1 Year", retailPrice 42066.0 (whole term).
    assert reserved["price_per_hour"] == 42066.0 / 8760
    assert reserved["price_per_hour"] == pytest.approx(4.802055, abs=1e-6)
    assert reserved["source"]["term_price"] == "42066.0"
    offer = Offer.model_validate(reserved)
    assert offer.price_per_hour * offer.term_hours == pytest.approx(42066.0, rel=1e-12)
    assert offer.price_per_gpu_hour == pytest.approx(42066.0 / 8760 / 2)


# --- what becomes an offer ------------------------------------------------------------------


def test_reservation_rows_carry_the_whole_term_price() -> None:
    for term, hours in (("1 Year", 8760), ("3 Years", 26280)):
        row = find(FRANCE, armSkuName="Standard_NC6s_v3", type="Reservation", reservationTerm=term)
        (priced,) = classify(row).offers
        offer = Offer.model_validate(priced.offer)
        assert offer.purchase_option.value == "reserved"
        assert offer.term_hours == hours
        assert offer.price_per_hour == row["retailPrice"] / hours
        assert offer.payment is None and offer.upfront == 0 and offer.offering_class is None
        assert offer.source["reservation_term"] == term
        assert offer.source["meter_id"] == row["meterId"]
    # francecentral NC6s_v3: 1 year 19978 -> 2.2806/h against 3.58/h on demand.
    on_demand = find(
        FRANCE,
        armSkuName="Standard_NC6s_v3",
        type="Consumption",
        skuName="NC6s v3",
        productName=NCSV3,
    )
    one_year = find(FRANCE, armSkuName="Standard_NC6s_v3", reservationTerm="1 Year")
    assert one_year["retailPrice"] / 8760 < on_demand["retailPrice"]


def test_five_year_reservations_divide_by_43800_hours_and_unknown_terms_are_rejected() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", reservationTerm="3 Years")
    row["reservationTerm"] = "5 Years"  # the 5-year term is real (an HB row on the same page)
    (priced,) = classify(row).offers
    assert priced.key[3] == 43800 and priced.offer["price_per_hour"] == 71642.0 / 43800
    row["reservationTerm"] = "10 Years"  # published for non-VM services in azure_prices.json
    verdict = classify(row)
    assert not verdict.offers and verdict.rejected and "10 Years" in verdict.rejected


def test_savings_plan_array_becomes_hourly_savings_plan_offers() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    offers = by_key(classify(row).offers)
    three = offers[("eastus2", "Standard_NC48ads_A100_v4", "savings_plan", 26280)]
    one = offers[("eastus2", "Standard_NC48ads_A100_v4", "savings_plan", 8760)]
    assert three["price_per_hour"] == 4.5317474 and one["price_per_hour"] == 6.1148104
    assert three["source"]["savings_plan_term"] == "3 Years"
    assert one["source"]["savings_plan_term"] == "1 Year"
    assert len(offers) == 3  # on-demand + two plans
    for offer in offers.values():
        Offer.model_validate(offer)


def test_savings_plans_are_not_read_from_interruptible_rows_and_bad_entries_are_rejected() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    spot = copy.deepcopy(row)
    spot["skuName"] += " Spot"
    assert [p.key[2] for p in classify(spot).offers] == ["spot"]
    row["savingsPlan"].append({"unitPrice": 1.0, "retailPrice": 1.0, "term": "2 Years"})
    verdict = classify(row)
    assert len(verdict.offers) == 3 and verdict.rejected and "2 Years" in verdict.rejected


def test_spot_and_low_priority_come_from_name_suffixes_on_real_rows() -> None:
    seen = set()
    for name in ALL:
        for row in items(name):
            for priced in classify(row).offers:
                option = priced.key[2]
                seen.add(option)
                suffix = row["skuName"]
                if option == "spot":
                    assert suffix.endswith(" Spot")
                elif option == "low_priority":
                    assert suffix.endswith(" Low Priority")
                else:
                    assert not suffix.endswith((" Spot", " Low Priority"))
    assert seen == {"on_demand", "spot", "low_priority", "reserved", "savings_plan"}


def test_irregular_meter_names_are_read_by_arm_sku_name_and_suffix() -> None:
    t4 = find(
        EASTUS2,
        meterName="NC64asT4 v3 Low Priority",
        productName="Virtual Machines NCasT4 v3 Series",
    )
    (priced,) = classify(t4).offers
    assert priced.key == ("eastus2", "Standard_NC64as_T4_v3", "low_priority", 0)
    assert priced.offer["price_per_hour"] == 0.87 and priced.offer["gpu_count"] == 4.0

    h200 = find(MEXICO, meterName="ND96isrH200v5", productName="Virtual Machines NDsrH200v5 Series")
    (priced,) = classify(h200).offers
    assert priced.key == ("mexicocentral", "Standard_ND96isr_H200_v5", "on_demand", 0)
    assert (priced.offer["gpu"], priced.offer["gpu_count"]) == ("H200", 8.0)
    assert priced.offer["price_per_hour"] == 93.28

    # NG32adms V620 is published with armSkuName "Standard_NG32adms_V620" (no _v1): read as
    # the documented size (only its Windows rows are on the page, so they are skipped).
    v620 = find(EASTUS2, meterName="NG32adsV620 Low Priority")
    (priced,) = classify(v620).offers
    assert priced.key == ("eastus2", "Standard_NG32ads_V620_v1", "low_priority", 0)
    assert priced.offer["gpu_count"] == 1.0


def test_arm_sku_names_with_spaces_are_handled() -> None:
    spaced = [i for i in items(FRANCE) if " " in i["armSkuName"]]
    assert "Standard_E32-8as v5" in {i["armSkuName"] for i in spaced}
    for row in spaced:  # real rows: a memory-optimised size, not a GPU machine
        verdict = classify(row)
        assert not verdict.offers and not verdict.unknown and not verdict.rejected
    row = find(
        FRANCE,
        armSkuName="Standard_NC6s_v3",
        type="Consumption",
        skuName="NC6s v3",
        productName=NCSV3,
    )
    row["armSkuName"] = "Standard_NC6s v3"  # the same quirk on a GPU size
    (priced,) = classify(row).offers
    assert priced.offer["instance_type"] == "Standard_NC6s_v3"
    assert priced.offer["source"]["arm_sku_name"] == "Standard_NC6s v3"


def test_fractional_gpu_sizes_price_the_slice() -> None:
    row = find(
        MEXICO,
        armSkuName="Standard_NV6ads_A10_v5",
        type="Consumption",
        skuName="Standard_NV6ads_A10_v5",
        productName="Virtual Machines NVadsA10v5 Series",
    )
    offer = Offer.model_validate(classify(row).offers[0].offer)
    assert offer.gpu == "A10" and offer.gpu_count == pytest.approx(1 / 6)
    assert offer.gpu_memory_gb == 24 and offer.price_per_hour == 0.501
    assert offer.price_per_gpu_hour == pytest.approx(0.501 * 6)


# --- what is skipped ---------------------------------------------------------------------------


def test_windows_devtest_dedicated_host_and_cloud_services_rows_never_become_offers() -> None:
    reasons: dict[str, int] = {}
    for name in ALL:
        for row in items(name):
            verdict = classify(row)
            product = row.get("productName", "")
            if (
                product.endswith(" Windows")
                or row.get("type") == "DevTestConsumption"
                or "Dedicated" in product
                or "Cloud" in product
            ):
                assert not verdict.offers, row
                assert verdict.skipped, row
                reasons[verdict.skipped] = reasons.get(verdict.skipped, 0) + 1
    assert {"windows", "dedicated host", "cloud services"} <= set(reasons)
    assert "price type 'DevTestConsumption'" in reasons
    # A GPU dedicated host is on the real eastus2 page: the whole NVv3 host, not a VM.
    host = find(EASTUS2, armSkuName="NVsv3_Type1")
    assert host["productName"] == "NVSv3 Series Dedicated Host"
    assert classify(host).skipped == "dedicated host"


def test_non_hourly_and_volume_tier_rows_are_skipped() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    tiered = copy.deepcopy(row)
    row["unitOfMeasure"] = "1/Month"
    verdict = classify(row)
    assert not verdict.offers and verdict.skipped and "hourly" in verdict.skipped
    tiered["tierMinimumUnits"] = 100.0
    verdict = classify(tiered)
    assert not verdict.offers and verdict.skipped and "tier" in verdict.skipped


def test_mixed_services_and_items_without_arm_sku_name_are_skipped_silently() -> None:
    rows = items(MIXED)
    services = {r["serviceName"] for r in rows}
    assert len(services) > 10
    no_sku = [r for r in rows if not r.get("armSkuName")]
    assert no_sku
    for row in rows:
        verdict = classify(row)
        if row["serviceName"] != "Virtual Machines" or not row.get("armSkuName"):
            assert verdict.skipped and not verdict.offers and not verdict.unknown
    assert sorted(by_key(offers_of(rows))) == [
        ("eastus2", "Standard_NC48ads_A100_v4", "on_demand", 0),
        ("eastus2", "Standard_NC48ads_A100_v4", "reserved", 8760),
        ("eastus2", "Standard_NC48ads_A100_v4", "reserved", 26280),
        ("germanywestcentral", "Standard_NC80adis_H100_v5", "low_priority", 0),
        ("switzerlandwest", "Standard_ND96ams_A100_v4", "spot", 0),
        ("usgovarizona", "Standard_NV4as_v4", "spot", 0),
        ("usgovvirginia", "Standard_ND96isr_H200_v5", "on_demand", 0),
        ("usgovvirginia", "Standard_ND96isr_H200_v5", "reserved", 8760),
        ("usgovvirginia", "Standard_ND96isr_H200_v5", "reserved", 26280),
    ]


def test_gpu_sizes_the_table_does_not_know_are_unknown_not_guessed() -> None:
    unknown = {v.unknown for name in ALL for v in map(classify, items(name)) if v.unknown}
    assert unknown == {
        "Standard_ND96is_MI300X_v5",
        "Standard_ND128isr_GB300_v6",
        "Standard_NC320lds_xl_RTXPRO6000BSE_v6",
    }


def test_the_real_eastus2_page_yields_exactly_these_offers() -> None:
    offers = by_key(offers_of(items(EASTUS2)))
    assert sorted((k[1], k[2], k[3], round(o["price_per_hour"], 6)) for k, o in offers.items()) == [
        ("Standard_NC48ads_A100_v4", "on_demand", 0, 7.346),
        ("Standard_NC48ads_A100_v4", "reserved", 8760, 4.802055),
        ("Standard_NC48ads_A100_v4", "reserved", 26280, 2.726104),
        ("Standard_NC48ads_A100_v4", "savings_plan", 8760, 6.11481),
        ("Standard_NC48ads_A100_v4", "savings_plan", 26280, 4.531747),
        ("Standard_NC64as_T4_v3", "low_priority", 0, 0.87),
        ("Standard_NC6s_v3", "spot", 0, 0.565488),
        ("Standard_ND96ams_A100_v4", "spot", 0, 8.5202),  # the row the issue names
        ("Standard_NG32ads_V620_v1", "low_priority", 0, 0.508),
        ("Standard_NV12_Promo", "on_demand", 0, 1.442),
        ("Standard_NV12ads_A10_v5", "low_priority", 0, 0.182),
        ("Standard_NV32as_v4", "low_priority", 0, 0.373),
    ]


def test_every_offer_from_the_real_fixtures_is_a_valid_traceable_offer() -> None:
    count = 0
    for name in ALL:
        for priced in offers_of(items(name)):
            offer = Offer.model_validate(priced.offer)
            assert offer.provider == "azure" and offer.currency == "USD"
            assert {"meter_id", "sku_id", "product_id", "arm_sku_name"} <= set(offer.source)
            assert all(offer.source[k] for k in ("meter_id", "sku_id", "product_id"))
            count += 1
    assert count > 80


# --- malformed rows ----------------------------------------------------------------------------


@pytest.mark.parametrize("price", [0, -1.0, "7.346", None, float("nan"), True])
def test_rows_without_a_usable_price_are_rejected(price: object) -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    row["retailPrice"] = price
    verdict = classify(row)
    assert not verdict.offers and verdict.rejected and "retailPrice" in verdict.rejected


def test_contradictory_spot_and_low_priority_names_are_rejected() -> None:
    row = find(EASTUS2, meterName="NC6s v3 Spot")
    row["meterName"] = "NC6s v3 Low Priority"
    verdict = classify(row)
    assert not verdict.offers and verdict.rejected


def test_an_item_that_is_not_an_object_is_rejected() -> None:
    assert classify(["not", "an", "item"]).rejected
    assert classify({}).skipped


# --- pages and the first request -------------------------------------------------------------


def test_parse_page_reads_the_real_envelope() -> None:
    page = parse_page((FIXTURES / EASTUS2).read_bytes())
    assert len(page.items) == 1000
    assert page.next_link is not None and "$top=-980&$skip=1000" in page.next_link
    last = parse_page((FIXTURES / MEXICO).read_bytes())
    assert last.next_link is None and len(last.items) == 106


@pytest.mark.parametrize(
    "body",
    [b"<html>rate limited</html>", b'{"items": []}', b"[]", b'{"Items": [], "NextPageLink": 3}'],
)
def test_parse_page_refuses_anything_but_the_documented_envelope(body: bytes) -> None:
    with pytest.raises(ProviderResponseError):
        parse_page(body)


def test_first_url_encodes_the_filter_like_the_api_does() -> None:
    (url,) = first_urls("https://prices.azure.com/api/retail/prices")
    assert url.startswith(
        "https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&$filter="
    )
    expression = urllib.parse.unquote(url.split("$filter=", 1)[1])
    assert expression == (
        "serviceName eq 'Virtual Machines' and startswith(armSkuName, 'Standard_N')"
    )
    assert " " not in url and "'" not in url
    regional = first_urls("http://mirror.test/prices?x=1", ("eastus2", "westus"))
    assert [u.split("?")[1].split("&")[0] for u in regional] == ["x=1", "x=1"]
    assert urllib.parse.unquote(regional[1]).endswith("and armRegionName eq 'westus'")
    with pytest.raises(ValueError, match="armRegionName"):
        first_urls("https://prices.azure.com/api/retail/prices", ("eastus2' or '1",))


# --- one offer per key --------------------------------------------------------------------------


def _priced(price: float, effective: str) -> PricedOffer:
    key = ("eastus2", "Standard_NC6s_v3", "on_demand", 0)
    return PricedOffer(key, {"price_per_hour": price, "source": {"meter_id": effective}}, effective)


def test_duplicate_rows_keep_the_later_price_and_drop_unresolvable_conflicts() -> None:
    offers = OfferSet()
    assert offers.add(_priced(3.0, "2024-01-01T00:00:00Z")) == []
    assert offers.add(_priced(3.0, "2024-01-01T00:00:00Z")) == []  # same price: merged
    assert offers.add(_priced(2.5, "2025-01-01T00:00:00Z")) == []  # later: replaces
    assert offers.add(_priced(9.0, "2023-01-01T00:00:00Z")) == []  # older: ignored
    assert [o["price_per_hour"] for o in offers.offers()] == [2.5]
    dropped = offers.add(_priced(2.7, "2025-01-01T00:00:00Z"))  # same date, other price
    assert [d.price for d in dropped] == [2.5, 2.7] and offers.offers() == []
    assert [d.price for d in offers.add(_priced(2.5, "2026-01-01T00:00:00Z"))] == [2.5]


def _held_ids(verdict: Any) -> set[str]:
    from aggregator.models import natural_key_id_of

    return {natural_key_id_of(key, "azure") for key in verdict.unpriced} - {None}


def test_a_row_whose_price_is_unusable_names_the_offers_it_prices() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    good = {Offer.model_validate(p.offer).id for p in classify(row).offers}
    for bad in (0, -1.0, "7.346", None, float("nan")):
        row["retailPrice"] = bad
        verdict = classify(row)
        assert verdict.rejected and not verdict.offers
        # the on-demand offer and the two savings plans priced on the same row
        assert _held_ids(verdict) == good


def test_a_reservation_with_an_unusable_price_names_its_term() -> None:
    row = next(
        i
        for i in items(EASTUS2)
        if i["type"] == "Reservation" and i["armSkuName"] == "Standard_NC48ads_A100_v4"
    )
    good = {Offer.model_validate(p.offer).id for p in classify(row).offers}
    row["retailPrice"] = 0
    assert _held_ids(classify(row)) == good


def test_an_unusable_savings_plan_rate_names_that_plan_only() -> None:
    row = find(EASTUS2, armSkuName="Standard_NC48ads_A100_v4", type="Consumption")
    row["savingsPlan"][0]["retailPrice"] = 0
    verdict = classify(row)
    assert verdict.rejected and len(verdict.offers) == 2
    (key,) = verdict.unpriced
    assert key["purchase_option"] == "savings_plan"
    assert key["term_hours"] == {"1 Year": 8760, "3 Years": 26280}[row["savingsPlan"][0]["term"]]
