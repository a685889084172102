"""Where each Compute Engine GPU machine can be launched: the regions Google lists it in.

A SKU's regions say where a price applies, not where a machine is sold (the recorded catalog
prices P4 GPUs for us-east1, where no P4 exists), so offers are made only where this table
lists the machine type (for N1, the attached GPU). Source: Compute Engine's own lists,
``gcloud compute machine-types list`` and ``gcloud compute accelerator-types list``, as saved
daily by github.com/Cyclenerd/google-cloud-pricing-cost-calculator
(``tools/machinetyperegion.csv``, last changed 2026-08-17; ``tools/acceleratortyperegion.csv``,
2026-08-10); Google's "GPU regions and zones availability" page is generated from them. Checked
2026-12-03 against SkyPilot's catalog v8 (``catalogs/v8/gcp/vms.csv``, built from the same API
per zone): they agree, except that SkyPilot lacks a3-highgpu in asia-northeast3 and
australia-southeast2, a3-edgegpu in australia-southeast2 and a4-highgpu in europe-west1.
"""

from __future__ import annotations

from plugins.gcp.machines import MachineType

__all__ = ["CHECKED", "N1_GPU_REGIONS", "regions_of"]

CHECKED = "2026-12-03"

_MACHINE_FAMILIES: dict[tuple[str, ...], frozenset[str]] = {
    (
        "a2-highgpu-1g",
        "a2-highgpu-2g",
        "a2-highgpu-4g",
        "a2-highgpu-8g",
    ): frozenset(
        (
            "asia-northeast1",
            "asia-northeast3",
            "asia-southeast1",
            "europe-west4",
            "me-west1",
            "us-central1",
            "us-east1",
            "us-west1",
            "us-west3",
            "us-west4",
        )
    ),
    ("a2-megagpu-16g",): frozenset(
        (
            "asia-southeast1",
            "europe-west4",
            "us-central1",
        )
    ),
    (
        "a2-ultragpu-1g",
        "a2-ultragpu-2g",
        "a2-ultragpu-4g",
        "a2-ultragpu-8g",
    ): frozenset(
        (
            "asia-southeast1",
            "europe-west4",
            "us-central1",
            "us-east4",
            "us-east5",
        )
    ),
    (
        "a3-highgpu-1g",
        "a3-highgpu-2g",
        "a3-highgpu-4g",
        "a3-highgpu-8g",
    ): frozenset(
        (
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
        )
    ),
    ("a3-megagpu-8g",): frozenset(
        (
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
        )
    ),
    ("a3-edgegpu-8g",): frozenset(
        (
            "asia-northeast1",
            "asia-northeast3",
            "asia-south1",
            "asia-southeast1",
            "australia-southeast2",
            "europe-west2",
            "europe-west3",
            "europe-west4",
            "europe-west9",
            "northamerica-northeast2",
            "us-central1",
            "us-east4",
            "us-east5",
            "us-west1",
            "us-west4",
        )
    ),
    ("a3-ultragpu-8g",): frozenset(
        (
            "asia-south1",
            "asia-south2",
            "europe-west1",
            "europe-west4",
            "us-central1",
            "us-east4",
            "us-east5",
            "us-south1",
            "us-west1",
        )
    ),
    ("a4-highgpu-8g",): frozenset(
        (
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
        )
    ),
    (
        "g2-standard-4",
        "g2-standard-8",
        "g2-standard-12",
        "g2-standard-16",
        "g2-standard-24",
        "g2-standard-32",
        "g2-standard-48",
        "g2-standard-96",
    ): frozenset(
        (
            "asia-east1",
            "asia-northeast1",
            "asia-northeast3",
            "asia-south1",
            "asia-southeast1",
            "europe-west1",
            "europe-west2",
            "europe-west3",
            "europe-west4",
            "europe-west6",
            "me-central2",
            "northamerica-northeast1",
            "northamerica-northeast2",
            "us-central1",
            "us-east1",
            "us-east4",
            "us-west1",
            "us-west4",
        )
    ),
}
N1_GPU_REGIONS: dict[str, frozenset[str]] = {
    "nvidia-tesla-t4": frozenset(
        (
            "asia-east1",
            "asia-east2",
            "asia-northeast1",
            "asia-northeast3",
            "asia-south1",
            "asia-southeast1",
            "asia-southeast2",
            "australia-southeast1",
            "europe-central2",
            "europe-west1",
            "europe-west2",
            "europe-west3",
            "europe-west4",
            "me-west1",
            "northamerica-northeast1",
            "southamerica-east1",
            "us-central1",
            "us-east1",
            "us-east4",
            "us-west1",
            "us-west2",
            "us-west3",
            "us-west4",
        )
    ),
    "nvidia-tesla-v100": frozenset(
        (
            "asia-east1",
            "europe-west4",
            "us-central1",
            "us-east1",
            "us-west1",
        )
    ),
    "nvidia-tesla-p100": frozenset(
        (
            "asia-east1",
            "australia-southeast1",
            "europe-west1",
            "europe-west4",
            "us-central1",
            "us-east1",
            "us-west1",
        )
    ),
    "nvidia-tesla-p4": frozenset(
        (
            "asia-southeast1",
            "australia-southeast1",
            "europe-west4",
            "northamerica-northeast1",
            "us-central1",
            "us-east4",
            "us-west2",
        )
    ),
}

_BY_MACHINE_TYPE: dict[str, frozenset[str]] = {
    name: regions for names, regions in _MACHINE_FAMILIES.items() for name in names
}


def regions_of(machine: MachineType) -> frozenset[str]:
    """The regions where ``machine`` can be launched (empty when the table lacks it)."""
    if machine.host_family == "N1":
        return N1_GPU_REGIONS.get(machine.gpu.accelerator_type, frozenset())
    return _BY_MACHINE_TYPE.get(machine.machine_type, frozenset())
