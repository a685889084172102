"""GCP offers exist only where the machine type is sold, whatever regions a SKU prices.

The region lists pinned here are Compute Engine's own (``gcloud compute machine-types list``
and ``accelerator-types list``, as saved by Cyclenerd/google-cloud-pricing-cost-calculator,
2026-08), the facts :mod:`plugins.gcp.locations` is built from.
"""

from __future__ import annotations

import pytest

from plugins.gcp.locations import regions_of
from plugins.gcp.machines import MACHINE_TYPES
from tests.plugins.gcp.test_fixtures import fixture_run

P4 = {
    "asia-southeast1",
    "australia-southeast1",
    "europe-west4",
    "northamerica-northeast1",
    "us-central1",
    "us-east4",
    "us-west2",
}
A3_HIGHGPU = {
    "asia-east1",
    "asia-northeast1",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "australia-southeast1",
    "australia-southeast2",
    "europe-north1",
    "europe-west1",
    "europe-west3",
    "europe-west4",
    "europe-west9",
    "us-central1",
    "us-east4",
    "us-east5",
    "us-west1",
    "us-west4",
}
A2_MEGAGPU = {"asia-southeast1", "europe-west4", "us-central1"}
A4 = {
    "asia-northeast1",
    "asia-southeast1",
    "europe-north1",
    "europe-west1",
    "europe-west4",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-south1",
    "us-west2",
    "us-west3",
}
A3_MEGAGPU = {
    "asia-east1",
    "asia-northeast1",
    "asia-southeast1",
    "australia-southeast1",
    "europe-north1",
    "europe-west1",
    "europe-west3",
    "europe-west4",
    "us-central1",
    "us-east4",
    "us-east5",
    "us-west1",
    "us-west4",
}


def _machine(instance_type: str) -> object:
    return next(m for m in MACHINE_TYPES if m.instance_type == instance_type)


@pytest.mark.parametrize(
    ("instance_type", "regions"),
    [
        ("n1-standard-16+4xnvidia-tesla-p4", P4),
        ("a2-megagpu-16g", A2_MEGAGPU),
        ("a4-highgpu-8g", A4),
        ("a3-megagpu-8g", A3_MEGAGPU),
        ("a3-highgpu-8g", A3_HIGHGPU),
    ],
)
def test_the_table_holds_googles_lists(instance_type: str, regions: set[str]) -> None:
    assert regions_of(_machine(instance_type)) == regions  # type: ignore[arg-type]


def test_every_machine_type_gpuhours_prices_has_its_regions() -> None:
    assert all(regions_of(m) for m in MACHINE_TYPES)


def test_an_americas_p4_price_makes_no_offer_where_p4_is_not_sold() -> None:
    # The fixtures price P4 for all of Americas (us-central1, us-east1, us-west1, and a
    # regional us-east4 SKU): us-east1 and us-west1 have no P4, so no N1 + P4 offer there.
    p4 = {o.region for o in fixture_run().offers if o.gpu == "P4"}
    assert p4 == {"us-central1", "us-east4"}


@pytest.mark.parametrize(
    ("prefix", "regions"),
    [("a2-megagpu-", A2_MEGAGPU), ("a4-highgpu-", A4), ("a3-megagpu-", A3_MEGAGPU)],
)
def test_machines_are_offered_only_where_sold(prefix: str, regions: set[str]) -> None:
    offered = {o.region for o in fixture_run().offers if o.instance_type.startswith(prefix)}
    assert offered and offered <= regions


def test_no_fixture_offer_is_outside_its_machine_types_regions() -> None:
    machines = {m.instance_type: m for m in MACHINE_TYPES}
    stray = [
        (o.instance_type, o.region)
        for o in fixture_run().offers
        if o.region not in regions_of(machines[o.instance_type])
    ]
    assert stray == []
