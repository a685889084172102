"""``gpuhours sync``: fetch the providers' current prices into the store, with a progress bar
on stderr and a summary table (or one JSON document) at the end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aggregator.cli.core import (
    EXIT_SYNC_FAILED,
    consoles,
    context,
    emit_json,
    errors,
    nothing,
    say,
    store_engine,
)
from aggregator.cli.options import JsonOpt
from aggregator.errors import InvalidInput

if TYPE_CHECKING:
    from aggregator.plugins import FeedRef, Registry
    from aggregator.settings import Settings
    from aggregator.sync import SyncOutcome

__all__ = ["BUNDLED", "register", "sync"]

BUNDLED = "bundled"


def register(app: typer.Typer) -> None:
    """Add ``sync`` to ``app``."""
    app.command("sync")(sync)


def sync(
    feeds: Annotated[
        list[str] | None,
        typer.Argument(help="Providers (aws) or feeds (aws/spot) to sync; default: all."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a result far smaller than the last one.")
    ] = False,
    record: Annotated[
        Path | None, typer.Option("--record", help="Save every response received to DIR.")
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="Answer requests from responses recorded in DIR "
            "('bundled': the offline snapshot shipped with gpuhours).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch current prices from the providers' price APIs into the store."""
    with errors(as_json):
        if record and replay:
            raise InvalidInput("--record and --replay cannot be used together", field="record")
        note = None
        bundled = replay is not None and str(replay) == BUNDLED and not replay.exists()
        if bundled:
            from plugins.snapshot import AGE_NOTE, SNAPSHOT_DIR

            replay, note = SNAPSHOT_DIR, AGE_NOTE
        if replay is not None and not replay.is_dir():
            raise InvalidInput(f"--replay: {replay} is not a directory", field="replay")
        settings, registry = context()
        refs = registry.select_feeds(feeds or [])
        if bundled and not feeds:
            refs, left_out = _in_snapshot(refs, registry)
            if left_out:
                note = (
                    f"{note}; not in the snapshot, so not synced: {', '.join(left_out)} "
                    "(sync them by name, without --replay)"
                )
        if not refs:
            nothing(
                "no provider feeds are loaded; `gpuhours providers` shows plugins and load errors",
                as_json,
                {"runs": []},
            )
        with store_engine(settings, writable=True) as engine:
            outcomes = _run_sync(
                refs, registry, engine, settings, force, record, replay, show=not as_json
            )
        if as_json:
            emit_json({"runs": [o.run for o in outcomes], "note": note})
        else:
            _print_sync_summary(outcomes)
            if note:
                say(f"note: {note}")
        if any(o.failed for o in outcomes):
            raise typer.Exit(EXIT_SYNC_FAILED)


def _in_snapshot(refs: Sequence[FeedRef], registry: Registry) -> tuple[list[FeedRef], list[str]]:
    """The feeds of ``refs`` a bundled sync runs, and the ids of those it leaves out: built-in
    feeds the snapshot has no recordings of. Other plugins' feeds run (one may read a file)."""
    from plugins.snapshot import bundled_feeds

    covered, built_in = bundled_feeds(), registry.built_in_providers()
    skipped = {r.id for r in refs if r.provider.name in built_in and r.id not in covered}
    return [r for r in refs if r.id not in skipped], [r.id for r in refs if r.id in skipped]


def _run_sync(
    refs: Sequence[FeedRef],
    registry: Registry,
    engine: Any,
    settings: Settings,
    force: bool,
    record: Path | None,
    replay: Path | None,
    *,
    show: bool,
) -> list[SyncOutcome]:
    import asyncio

    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from aggregator.sync import load_observed_at, sync_feeds

    def run(factory: Callable[[FeedRef], Any] | None) -> list[SyncOutcome]:
        return asyncio.run(
            sync_feeds(
                refs,
                registry,
                engine,
                settings,
                force=force,
                record_dir=record,
                replay_dir=replay,
                progress_factory=factory,
                observed_at=load_observed_at(replay) if replay else None,
            )
        )

    if not show:
        return run(None)
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.completed:>8,.0f} {task.fields[note]}"),
        TimeElapsedColumn(),
        console=consoles.err,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def factory(ref: FeedRef) -> Any:
            tasks[ref.id] = bar.add_task(ref.id, total=None, note="")

            def report(*, advance: int = 0, total: int | None = None, note: str = "") -> None:
                bar.update(tasks[ref.id], advance=advance, total=total, note=note)

            return report

        outcomes = run(factory)
        for outcome in outcomes:
            bar.update(tasks[outcome.feed.id], total=1, completed=1, note=outcome.run.status.value)
        return outcomes


def _print_sync_summary(outcomes: Sequence[SyncOutcome]) -> None:
    from rich.table import Table

    table = Table(title="sync")
    for column in ("feed", "status", "seen", "new", "changed", "withdrawn", "rejected", "unknown"):
        table.add_column(column, justify="left" if column in ("feed", "status") else "right")
    table.add_column("seconds", justify="right")
    for outcome in outcomes:
        run = outcome.run
        style = {"failed": "red", "not_configured": "yellow"}.get(run.status.value, "")
        table.add_row(
            run.feed,
            f"[{style}]{run.status.value}[/]" if style else run.status.value,
            *(
                f"{n:,}"
                for n in (run.seen, run.new, run.changed, run.withdrawn, run.rejected, run.unknown)
            ),
            f"{outcome.seconds:.1f}",
        )
    consoles.out.print(table)
    rejected = sum(o.run.rejected for o in outcomes)
    unknown = sum(o.run.unknown for o in outcomes)
    if rejected or unknown:
        rows = "row" if rejected == 1 else "rows"
        say(
            f"{rejected:,} {rows} rejected and {unknown:,} unknown to gpuhours' tables were "
            "skipped; `gpuhours -v sync` lists each"
        )
    for outcome in outcomes:
        if outcome.run.error:
            level = "error" if outcome.failed else "note"
            say(f"{level}: {outcome.run.feed}: {outcome.run.error}")
