"""The InfiniBand of Azure sizes: only the sizes whose Microsoft page gives a figure carry it,
and the offers made from real rows of those sizes do."""

from __future__ import annotations

from aggregator.limits import MAX_INTERCONNECT_GBPS
from aggregator.models import Offer
from plugins.azure.skus import FABRICS, FABRICS_CHECKED, GPU_SKUS, INFINIBAND, lookup
from tests.plugins.azure.test_retail import ALL, items, offers_of


def test_the_documented_infiniband_per_vm() -> None:
    assert {name: (f.name, f.gbps) for name, f in FABRICS.items()} == {
        "Standard_ND96isr_H100_v5": (INFINIBAND, 3200),  # 8 x 400 Gb/s NDR
        "Standard_ND96isr_H200_v5": (INFINIBAND, 3200),
        "Standard_ND96isr_MI300X_v5": (INFINIBAND, 3200),
        "Standard_ND96asr_v4": (INFINIBAND, 1600),  # 8 x 200 Gb/s HDR
        "Standard_ND96amsr_A100_v4": (INFINIBAND, 1600),
        "Standard_ND40rs_v2": (INFINIBAND, 100),  # EDR
    }
    assert FABRICS_CHECKED == "2026-12-03"


def test_every_fabric_is_a_size_of_the_table_with_its_page() -> None:
    names = {sku.name for sku in GPU_SKUS.values()}
    for name, fabric in FABRICS.items():
        assert name in names
        assert "learn.microsoft.com/azure/virtual-machines/sizes/" in fabric.source, name
        assert 0 < fabric.gbps <= MAX_INTERCONNECT_GBPS
    for undocumented in ("Standard_ND96ams_A100_v4", "Standard_NC24rs_v3", "Standard_NC6s_v3"):
        sku = lookup(undocumented)
        assert sku is not None and sku.fabric is None, undocumented


def test_offers_from_real_rows_carry_their_sizes_fabric() -> None:
    offers = [Offer.model_validate(p.offer) for name in ALL for p in offers_of(items(name))]
    h200 = [o for o in offers if o.instance_type == "Standard_ND96isr_H200_v5"]
    assert h200 and all((o.interconnect, o.interconnect_gbps) == (INFINIBAND, 3200) for o in h200)
    for offer in offers:
        fabric = FABRICS.get(offer.instance_type)
        expected = (fabric.name, fabric.gbps) if fabric else (None, None)
        assert (offer.interconnect, offer.interconnect_gbps) == expected, offer.instance_type
