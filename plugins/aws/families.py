"""Which GPU an EC2 instance family carries, and how many per size.

The offer file names no GPU model and the spot feed no GPU count, so both come from this table.
Source: AWS's instance-type documentation ("Accelerated computing" instance types). Checked
2026-12-03: the GPU model and count of the 10 p-family sizes in SkyPilot's AWS catalog (v8,
built from DescribeInstanceTypes) agree. ``memory_gb`` is per GPU, in the vendor's marketing
GB, and one of the memory variants the core vocabulary lists for that GPU (a test checks this).
Only families whose GPU is known for certain are listed; a row of any other GPU family is
reported as unknown, and :data:`NOT_GPU_FAMILIES` are skipped quietly. Which families are
absent and why: docs/providers/aws.md.

Which sizes of a family support EFA (Elastic Fabric Adapter) is not in any price list either:
each row names its sizes and the source they were read from (:data:`EFA_SOURCES`), checked
2026-12-03 (:data:`EFA_CHECKED`). A family without EFA sizes has none in either source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "EFA",
    "EFA_CHECKED",
    "EFA_SOURCES",
    "GPU_FAMILIES",
    "NOT_GPU_FAMILIES",
    "GpuFamily",
    "fabric_of",
    "family_of",
    "lookup",
    "split_instance_type",
]


EFA = "EFA"
EFA_CHECKED = "2026-12-03"
EFA_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "user-guide": 'AWS EC2 User Guide, Elastic Fabric Adapter, "Supported instance types" '
        "(docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html#efa-instance-types), read in "
        "its last revision on GitHub: awsdocs/amazon-ec2-user-guide doc_source/efa.md @ "
        "d289961 (2023-05-11), which also lists the metal sizes the API source leaves out",
        "describe-instance-types": "EC2 DescribeInstanceTypes, NetworkInfo.EfaSupported in "
        "us-east-1, us-east-2 and us-west-2 (bare metal excluded), as eksctl records it: "
        "eksctl-io/eksctl pkg/utils/instance/instance_types.go @ 8b75484 (2026-08-12)",
    }
)


@dataclass(frozen=True)
class GpuFamily:
    """The GPU of one instance family, the GPU count of each size AWS sells, and which sizes
    support EFA (``efa_source``: a key of :data:`EFA_SOURCES`)."""

    family: str
    gpu: str
    memory_gb: float
    counts: Mapping[str, float] = field(default_factory=dict)
    efa_sizes: frozenset[str] = frozenset()
    efa_source: str = ""

    def count_for(self, size: str) -> float | None:
        """GPUs in ``<family>.<size>``, or ``None`` when this table does not list the size."""
        return self.counts.get(size)


def _family(
    family: str,
    gpu: str,
    memory_gb: float,
    *,
    efa: tuple[str, tuple[str, ...]] = ("", ()),
    **counts: float,
) -> GpuFamily:
    # Sizes are keyword arguments with a leading underscore removed where Python needs one
    # ("_2xlarge"); keeps the table below compact and readable. ``efa`` is (source, sizes).
    sizes = {name.removeprefix("_"): count for name, count in counts.items()}
    source, efa_sizes = efa
    return GpuFamily(family, gpu, memory_gb, MappingProxyType(sizes), frozenset(efa_sizes), source)


_GUIDE, _API = "user-guide", "describe-instance-types"


_ONE_PER_SIZE = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
_EFA_SIZES_G = ("8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")  # g5, g6, g6e

GPU_FAMILIES: Mapping[str, GpuFamily] = MappingProxyType(
    {
        f.family: f
        for f in (
            # --- P: training ---
            _family("p2", "K80", 12, xlarge=1, _8xlarge=8, _16xlarge=16),
            _family("p3", "V100", 16, _2xlarge=1, _8xlarge=4, _16xlarge=8),
            _family("p3dn", "V100", 32, _24xlarge=8, efa=(_GUIDE, ("24xlarge",))),
            _family("p4d", "A100", 40, _24xlarge=8, efa=(_GUIDE, ("24xlarge",))),
            _family("p4de", "A100", 80, _24xlarge=8, efa=(_GUIDE, ("24xlarge",))),
            _family("p5", "H100", 80, _4xlarge=1, _48xlarge=8, efa=(_API, ("4xlarge", "48xlarge"))),
            _family("p5e", "H200", 141, _48xlarge=8, efa=(_API, ("48xlarge",))),
            _family("p5en", "H200", 141, _48xlarge=8, efa=(_API, ("48xlarge",))),
            _family("p6-b200", "B200", 180, _48xlarge=8, efa=(_API, ("48xlarge",))),
            _family("p6-b300", "B300", 288, _48xlarge=8, efa=(_API, ("48xlarge",))),
            # --- G: graphics and inference ---
            _family("g3", "M60", 8, _4xlarge=1, _8xlarge=2, _16xlarge=4),
            _family("g3s", "M60", 8, xlarge=1),
            _family(
                "g4dn",
                "T4",
                16,
                **dict.fromkeys(_ONE_PER_SIZE, 1),
                _12xlarge=4,
                metal=8,
                efa=(_GUIDE, ("8xlarge", "12xlarge", "16xlarge", "metal")),
            ),
            _family("g4ad", "V520", 8, xlarge=1, _2xlarge=1, _4xlarge=1, _8xlarge=2, _16xlarge=4),
            _family(
                "g5",
                "A10G",
                24,
                **dict.fromkeys(_ONE_PER_SIZE, 1),
                _12xlarge=4,
                _24xlarge=4,
                _48xlarge=8,
                efa=(_GUIDE, _EFA_SIZES_G),
            ),
            _family(
                "g5g", "T4G", 16, xlarge=1, _2xlarge=1, _4xlarge=1, _8xlarge=1, _16xlarge=2, metal=2
            ),
            _family(
                "g6",
                "L4",
                24,
                **dict.fromkeys(_ONE_PER_SIZE, 1),
                _12xlarge=4,
                _24xlarge=4,
                _48xlarge=8,
                efa=(_API, _EFA_SIZES_G),
            ),
            _family("gr6", "L4", 24, _4xlarge=1, _8xlarge=1, efa=(_API, ("8xlarge",))),
            _family(
                "g6e",
                "L40S",
                48,
                **dict.fromkeys(_ONE_PER_SIZE, 1),
                _12xlarge=4,
                _24xlarge=4,
                _48xlarge=8,
                efa=(_API, _EFA_SIZES_G),
            ),
        )
    }
)

#: Accelerator families that are not GPUs (Inferentia, Trainium, Gaudi, FPGAs, video
#: transcoders): skipped without a report.
NOT_GPU_FAMILIES: frozenset[str] = frozenset(
    {"inf1", "inf2", "trn1", "trn1n", "trn2", "dl1", "dl2q", "f1", "f2", "vt1"}
)


def split_instance_type(instance_type: str) -> tuple[str, str]:
    """``"p6-b200.48xlarge"`` -> ``("p6-b200", "48xlarge")``; no dot -> ``(text, "")``."""
    family, _, size = instance_type.strip().partition(".")
    return family, size


def family_of(instance_type: str) -> str:
    """The family part of an instance type (``"g5.xlarge"`` -> ``"g5"``)."""
    return split_instance_type(instance_type)[0]


def fabric_of(instance_type: str) -> str | None:
    """:data:`EFA` when the table lists ``instance_type``'s size among its family's EFA
    sizes, else ``None`` (no EFA documented)."""
    family_name, size = split_instance_type(instance_type)
    family = GPU_FAMILIES.get(family_name)
    return EFA if family is not None and size in family.efa_sizes else None


def lookup(instance_type: str) -> GpuFamily | None:
    """The table entry for ``instance_type``'s family, or ``None`` if the table lacks it."""
    return GPU_FAMILIES.get(family_of(instance_type))
