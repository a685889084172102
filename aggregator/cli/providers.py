"""``gpuhours providers``: the debugging view of plugins (and their load errors), feeds, their
last sync and data age, and the price terms plans apply; it still lists what it can when the
store cannot be opened."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer

from aggregator.cli.core import consoles, context, emit_json, errors, say, store_engine
from aggregator.cli.format import age, duration
from aggregator.cli.options import JsonOpt
from aggregator.errors import GpuhoursError

if TYPE_CHECKING:
    from aggregator.catalog import ProvidersReport
    from aggregator.export.origin import MirrorOrigin
    from aggregator.plugins import Registry
    from aggregator.settings import Settings

__all__ = ["providers", "register"]


def register(app: typer.Typer) -> None:
    """Add ``providers`` to ``app``."""
    app.command("providers")(providers)


def providers(as_json: JsonOpt = False) -> None:
    """List plugins (and their load errors), feeds, last sync and how old the data is."""
    with errors(as_json):
        settings, registry = context()
        report = _report(settings, registry)
        if as_json:
            emit_json(report)
            return
        if report.store_error:
            say(f"store: {report.store_error}")
        from rich.markup import escape
        from rich.table import Table

        from aggregator.models import SyncStatus

        plugins_table = Table(title="plugins")
        for column in ("plugin", "package", "providers", "status"):
            plugins_table.add_column(column)
        for p in report.plugins:
            plugins_table.add_row(
                p.name,
                f"{p.distribution or '-'} {p.version or ''}".strip(),
                ", ".join(p.providers) or "-",
                "ok" if not p.errors else "[red]" + "; ".join(p.errors) + "[/]",
            )
        consoles.out.print(plugins_table)
        feeds_table = Table(title="feeds")
        for column in ("feed", "every", "offers", "last sync", "status", "data age", "note"):
            feeds_table.add_column(column)
        for f in report.feeds:
            run = f.last_run
            status = run.status.value if run else "never synced"
            if f.stale:
                status += " (stale)"
            note = (run.error or "") if run and run.status is not SyncStatus.OK else ""
            feeds_table.add_row(
                f.id,
                duration(f.interval_seconds),
                _held(f.live_offers, f.interruption_rates),
                age(run.finished_at or run.started_at) if run else "never",
                status,
                age(f.last_success_at),
                note,
            )
        consoles.out.print(feeds_table)
        for f in report.feeds:
            if f.mirrored_from is not None:
                consoles.out.print(_mirror_line(f.id, f.mirrored_from), markup=False)
        for f in report.feeds:
            if f.unknown_names:
                names = ", ".join(f.unknown_names)
                consoles.out.print(
                    f"{f.id}: not in gpuhours' tables, skipped (last good sync): {escape(names)}"
                )
        terms = report.price_terms
        if terms.error:
            consoles.err.print(f"[red]price terms not usable:[/] {escape(terms.error)}")
        elif terms.terms:
            consoles.out.print(f"price terms applied to plans, in order ({len(terms.terms)}):")
            for term in terms.terms:
                consoles.out.print(f"  {escape(term.label)}  [dim]({escape(term.origin)})[/]")
        if not report.plugins:
            consoles.err.print("no provider plugins are installed")


def _held(offers: int, rates: int) -> str:
    """``1,101``, ``682 rates`` or ``1,101 + 682 rates``: what a feed holds."""
    if not rates:
        return f"{offers:,}"
    return f"{offers:,} + {rates:,} rates" if offers else f"{rates:,} rates"


def _mirror_line(feed: str, origin: MirrorOrigin) -> str:
    """Where a mirror feed's prices come from, and how old its source's syncs are."""
    feeds = ", ".join(f"{name} {age(when)} ago" for name, when in sorted(origin.feeds.items()))
    return (
        f"{feed}: mirrors {origin.url} (gpuhours {origin.gpuhours_version}, store version "
        f"{origin.store_version}, exported {age(origin.exported_at)} ago); its feeds last "
        f"synced: {feeds or 'none'}"
    )


def _report(settings: Settings, registry: Registry) -> ProvidersReport:
    """The report, read from the store; without it (naming why) when the store cannot be opened,
    so plugins and feeds are still listed: this is the debugging view."""
    from aggregator import catalog

    with ExitStack() as store:
        try:
            engine = store.enter_context(store_engine(settings))
        except GpuhoursError as exc:
            return catalog.providers_report(
                registry, None, store_error=str(exc), feed_timeout=settings.sync_feed_timeout
            )
        return catalog.providers_report(registry, engine, feed_timeout=settings.sync_feed_timeout)
