"""Composing a machine's hourly price from the SKUs of its parts.

    price = vCPUs x core rate + GiB x RAM rate + GPUs x GPU rate (+ GiB x local SSD rate)

with every rate taken from the SKUs of the machine's family, in the same region, for the same
purchase option and term. What is promised:

* **All parts or nothing.** An offer is made only when every part the machine is billed for
  has a SKU for that (region, option, term). A missing part means no offer, never a partial
  price. The one exception is documented below (local SSD under a commitment).
* **One SKU per part, chosen the same way every time.** When several SKUs cover the same
  (part, region, option, term), e.g. a regional SKU and an "Americas" one, the one that
  covers the fewest regions (the most specific) wins; ties at the same price are duplicates
  (lowest sku id kept); ties at *different* prices are ambiguous: that part counts as
  missing there, and :meth:`PriceIndex.resolve` returns the conflict so the feed can reject
  it visibly instead of picking a price.
* **Traceable.** ``source`` names the machine type and the sku id of every part used.

Local SSD under a commitment: a resource-based commitment covers vCPUs, memory and GPUs;
local SSD is committed separately ("Commitment v1: Local SSD in <region> for <n> Year"), and
SSD that is not committed is billed at the on-demand rate. So a committed machine uses the
committed SSD SKU for its region and term when there is one and the on-demand SSD SKU
otherwise, and says which in ``source["ssd_usage_type"]``. Spot machines need the spot SSD
SKU ("... attached to Spot Preemptible VMs"); there is no fallback for spot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from aggregator.models import Billing, Offer, PurchaseOption
from plugins.gcp.machines import MACHINE_TYPES, MachineType
from plugins.gcp.skus import LOCAL_SSD_KEY, PricedSku, Resource

__all__ = ["BILLING", "PROVIDER", "ComposeStats", "Conflict", "PriceIndex", "compose"]

PROVIDER = "gcp"
#: Compute Engine bills vCPUs, memory and GPUs per second after a one-minute minimum.
BILLING = Billing(increment_seconds=1, minimum_seconds=60)

Slot = tuple[Resource, str, str, PurchaseOption, int]  # resource, key, region, option, term


@dataclass(frozen=True)
class Conflict:
    """SKUs equally specific for one part, region, option and term, at different prices."""

    slot: Slot
    skus: tuple[PricedSku, ...]

    def describe(self) -> str:
        resource, key, region, option, term = self.slot
        prices = ", ".join(f"{s.sku_id} {s.description!r} {s.price_per_hour:g}" for s in self.skus)
        return f"ambiguous {resource.value} {key} in {region} ({option.value}, {term} h): {prices}"


class PriceIndex:
    """The usable SKUs by (resource, key, region, option, term)."""

    def __init__(self) -> None:
        self._candidates: dict[Slot, list[PricedSku]] = defaultdict(list)
        self._chosen: dict[Slot, PricedSku] = {}

    def add(self, sku: PricedSku) -> None:
        part = sku.component
        for region in sku.regions:
            slot = (part.resource, part.key, region, part.option, part.term_hours)
            self._candidates[slot].append(sku)

    def resolve(self) -> list[Conflict]:
        """Choose one SKU per slot; return the slots left without one because of a conflict."""
        conflicts = []
        self._chosen = {}
        for slot, skus in self._candidates.items():
            if len(skus) == 1:
                self._chosen[slot] = skus[0]
                continue
            narrowest = min(len(s.regions) for s in skus)
            best = sorted((s for s in skus if len(s.regions) == narrowest), key=lambda s: s.sku_id)
            if len({s.price_per_hour for s in best}) > 1:
                conflicts.append(Conflict(slot, tuple(best)))
                continue
            self._chosen[slot] = best[0]
        return conflicts

    def get(
        self, resource: Resource, key: str, region: str, option: PurchaseOption, term: int
    ) -> PricedSku | None:
        return self._chosen.get((resource, key, region, option, term))

    def gpus(self) -> Iterator[tuple[Slot, PricedSku]]:
        """Every chosen GPU SKU with its slot, in a stable order."""
        for slot in sorted(s for s in self._chosen if s[0] is Resource.GPU):
            yield slot, self._chosen[slot]


@dataclass
class ComposeStats:
    """How many (machine, region, option, term) candidates lacked which part."""

    offers: int = 0
    missing: Counter[str] = field(default_factory=Counter)


def compose(
    index: PriceIndex,
    machines: Iterable[MachineType] = MACHINE_TYPES,
    stats: ComposeStats | None = None,
) -> Iterator[Offer]:
    """An offer for every machine type, region, option and term whose parts are all priced.

    Call :meth:`PriceIndex.resolve` first.
    """
    stats = stats if stats is not None else ComposeStats()
    by_gpu: dict[str, list[MachineType]] = defaultdict(list)
    for machine in machines:
        by_gpu[machine.gpu.accelerator_type].append(machine)

    for (_, accelerator, region, option, term), gpu_sku in index.gpus():
        for machine in by_gpu.get(accelerator, ()):
            parts: list[tuple[str, PricedSku, float]] = [("gpu_sku", gpu_sku, machine.gpu_count)]
            source = {"machine_type": machine.machine_type}
            family = machine.host_family
            if family is not None:
                core = index.get(Resource.CORE, family, region, option, term)
                ram = index.get(Resource.RAM, family, region, option, term)
                if core is None or ram is None:
                    stats.missing["core" if core is None else "ram"] += 1
                    continue
                parts += [("core_sku", core, machine.vcpus), ("ram_sku", ram, machine.memory_gib)]
            if machine.local_ssd_gib:
                ssd = index.get(Resource.LOCAL_SSD, LOCAL_SSD_KEY, region, option, term)
                if ssd is None and option is PurchaseOption.COMMITTED:
                    ssd = index.get(
                        Resource.LOCAL_SSD, LOCAL_SSD_KEY, region, PurchaseOption.ON_DEMAND, 0
                    )
                if ssd is None:
                    stats.missing["local_ssd"] += 1
                    continue
                parts.append(("ssd_sku", ssd, machine.local_ssd_gib))
                if option is PurchaseOption.COMMITTED:
                    source["ssd_usage_type"] = ssd.component.option.value
            if len({sku.currency for _, sku, _ in parts}) != 1:
                stats.missing["same_currency"] += 1
                continue
            if machine.machine_type != machine.instance_type:
                source["accelerator_type"] = accelerator
                source["accelerator_count"] = str(machine.gpu_count)
            source.update((name, sku.sku_id) for name, sku, _ in parts)
            price = sum(sku.price_per_hour * quantity for _, sku, quantity in parts)
            stats.offers += 1
            yield Offer(
                provider=PROVIDER,
                region=region,
                instance_type=machine.instance_type,
                gpu=machine.gpu.canonical,
                gpu_count=machine.gpu_count,
                gpu_memory_gb=machine.gpu.memory_gb,
                vcpus=machine.vcpus,
                memory_gb=machine.memory_gib,
                purchase_option=option,
                term_hours=term,
                price_per_hour=round(price, 9),
                currency=gpu_sku.currency,
                billing=BILLING,
                source=source,
            )
