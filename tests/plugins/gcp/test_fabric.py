"""The fabric of GCP machines: only the 8-GPU A3 and A4 types document one, and their offers
carry it; every other machine's offers name none."""

from __future__ import annotations

from aggregator.limits import MAX_INTERCONNECT_GBPS
from plugins.gcp.machines import FABRICS, FABRICS_CHECKED, FABRICS_SOURCE, MACHINE_TYPES, Fabric
from tests.plugins.gcp.test_fixtures import fixture_run


def test_the_documented_fabrics() -> None:
    assert dict(FABRICS) == {
        "a3-highgpu-8g": Fabric("GPUDirect-TCPX", 1000),
        "a3-megagpu-8g": Fabric("GPUDirect-TCPXO", 1600),
        "a3-edgegpu-8g": Fabric("GPUDirect-TCPX", 600),
        "a3-ultragpu-8g": Fabric("GPUDirect-RDMA", 3200),
        "a4-highgpu-8g": Fabric("GPUDirect-RDMA", 3200),
    }
    assert "gpu-network-bandwidth" in FABRICS_SOURCE and FABRICS_CHECKED == "2026-12-03"


def test_fabrics_name_machine_types_of_the_table_with_plausible_bandwidths() -> None:
    names = {machine.machine_type for machine in MACHINE_TYPES}
    assert set(FABRICS) <= names
    assert all(0 < fabric.gbps <= MAX_INTERCONNECT_GBPS for fabric in FABRICS.values())


def test_offers_carry_their_machines_fabric_and_no_other() -> None:
    offers = fixture_run().offers
    with_fabric = {o.instance_type for o in offers if o.interconnect is not None}
    assert with_fabric and with_fabric <= set(FABRICS)
    for offer in offers:
        fabric = FABRICS.get(offer.instance_type)
        expected = (fabric.name, fabric.gbps) if fabric else (None, None)
        assert (offer.interconnect, offer.interconnect_gbps) == expected, offer.instance_type
    assert any(o.instance_type == "a3-highgpu-1g" and o.interconnect is None for o in offers)
