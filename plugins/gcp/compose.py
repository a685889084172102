"""Composing a machine's hourly price from the SKUs of its parts.

    price = vCPUs x core rate + GiB x RAM rate + GPUs x GPU rate (+ GiB x local SSD rate)

with every rate from the machine family's SKUs in the same region, purchase option and term.
All parts or nothing: a missing part means no offer, and a listed part without a usable price
holds the offer at its last good price. Of several SKUs for one part the most specific wins;
equally specific ones at different prices are a :class:`Conflict`, never a pick. Offers are
made only where :mod:`plugins.gcp.locations` sells the machine, and a committed machine falls
back to on-demand local SSD (a spot one has no fallback). See docs/providers/gcp.md,
"Composing a machine's price".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from aggregator.models import Billing, Offer, PurchaseOption
from plugins.gcp.locations import regions_of
from plugins.gcp.machines import MACHINE_TYPES, MachineType
from plugins.gcp.skus import LOCAL_SSD_KEY, Component, PricedSku, Resource

__all__ = ["BILLING", "PROVIDER", "ComposeStats", "Conflict", "PriceIndex", "Slot", "compose"]

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
        self._unpriced: set[Slot] = set()

    def add(self, sku: PricedSku) -> None:
        part = sku.component
        for region in sku.regions:
            slot = (part.resource, part.key, region, part.option, part.term_hours)
            self._candidates[slot].append(sku)

    def add_unpriced(self, part: Component, regions: Iterable[str]) -> None:
        """Note a SKU for ``part`` whose price could not be used (a zero rate, say).

        Where no usable SKU covers the same slot, the offers needing that part are *held*
        (kept at their last good price) rather than left out as not sold there.
        """
        for region in regions:
            self._unpriced.add((part.resource, part.key, region, part.option, part.term_hours))

    def unpriced(self, slot: Slot) -> bool:
        """Whether ``slot`` has a listed SKU but no usable price (unpriced or in conflict)."""
        return slot not in self._chosen and slot in self._unpriced

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
                self._unpriced.add(slot)
                continue
            self._chosen[slot] = best[0]
        return conflicts

    def get(self, slot: Slot) -> PricedSku | None:
        return self._chosen.get(slot)

    def gpus(self) -> Iterator[tuple[Slot, PricedSku | None]]:
        """Every GPU slot with its chosen SKU (``None`` if only unpriced), in a stable order."""
        slots = {s for s in self._chosen if s[0] is Resource.GPU}
        slots.update(s for s in self._unpriced if s[0] is Resource.GPU)
        for slot in sorted(slots):
            yield slot, self._chosen.get(slot)


@dataclass
class ComposeStats:
    """How many (machine, region, option, term) candidates lacked which part."""

    offers: int = 0
    not_sold: int = 0  # candidates in a region the machine type is not offered in
    missing: Counter[str] = field(default_factory=Counter)
    held: list[dict[str, object]] = field(default_factory=list)
    """Natural keys of offers whose parts are all listed but one has no usable price."""


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

    for (_, accelerator, region, option, term), _gpu_sku in index.gpus():
        for machine in by_gpu.get(accelerator, ()):
            if region not in regions_of(machine):  # priced there, but not sold there
                stats.not_sold += 1
                continue
            slots = _part_slots(index, machine, accelerator, region, option, term)
            found = [(name, index.get(slot), quantity) for name, slot, quantity in slots]
            lacking = [
                slot for (_, slot, _), (_, sku, _) in zip(slots, found, strict=True) if sku is None
            ]
            if lacking:
                absent = [slot for slot in lacking if not index.unpriced(slot)]
                if not absent:
                    stats.held.append(
                        {
                            "region": region,
                            "instance_type": machine.instance_type,
                            "purchase_option": option.value,
                            "term_hours": term,
                        }
                    )
                else:
                    stats.missing[str(absent[0][0])] += 1
                continue
            parts = [(name, sku, quantity) for name, sku, quantity in found if sku is not None]
            source = {"machine_type": machine.machine_type}
            ssd_part = next((sku for name, sku, _ in parts if name == "ssd_sku"), None)
            if ssd_part is not None and option is PurchaseOption.COMMITTED:
                source["ssd_usage_type"] = ssd_part.component.option.value
            if len({sku.currency for _, sku, _ in parts}) != 1:
                stats.missing["same_currency"] += 1
                continue
            if machine.machine_type != machine.instance_type:
                source["accelerator_type"] = accelerator
                source["accelerator_count"] = str(machine.gpu_count)
            source.update((name, sku.sku_id) for name, sku, _ in parts)
            seen = [sku.observed_at for _, sku, _ in parts if sku.observed_at is not None]
            source.update(
                (f"{name}_observed_at", sku.observed_at.isoformat())
                for name, sku, _ in parts
                if sku.observed_at is not None
            )
            price = sum(sku.price_per_hour * quantity for _, sku, quantity in parts)
            fabric = machine.fabric
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
                interconnect=fabric.name if fabric else None,
                interconnect_gbps=fabric.gbps if fabric else None,
                purchase_option=option,
                term_hours=term,
                price_per_hour=round(price, 9),
                currency=parts[0][1].currency,
                billing=BILLING,
                source=source,
                observed_at=min(seen) if seen else None,  # a price is as old as its oldest part
            )


def _part_slots(
    index: PriceIndex,
    machine: MachineType,
    accelerator: str,
    region: str,
    option: PurchaseOption,
    term: int,
) -> list[tuple[str, Slot, float]]:
    """The (source name, slot, quantity) of every part ``machine`` is billed for there."""
    slots: list[tuple[str, Slot, float]] = [
        ("gpu_sku", (Resource.GPU, accelerator, region, option, term), machine.gpu_count)
    ]
    family = machine.host_family
    if family is not None:
        slots.append(("core_sku", (Resource.CORE, family, region, option, term), machine.vcpus))
        slots.append(("ram_sku", (Resource.RAM, family, region, option, term), machine.memory_gib))
    if machine.local_ssd_gib:
        ssd: Slot = (Resource.LOCAL_SSD, LOCAL_SSD_KEY, region, option, term)
        if (
            option is PurchaseOption.COMMITTED
            and index.get(ssd) is None
            and not index.unpriced(ssd)
        ):
            ssd = (Resource.LOCAL_SSD, LOCAL_SSD_KEY, region, PurchaseOption.ON_DEMAND, 0)
        slots.append(("ssd_sku", ssd, machine.local_ssd_gib))
    return slots
