"""The ``gpuhours`` command line: thin commands over :mod:`aggregator.catalog` and the sync engine.

Conventions every command keeps:

* ``--json`` prints exactly one JSON document on stdout and nothing else (progress, logs and
  warnings go to stderr).
* Exit codes: 0 ok, 1 nothing found, 2 bad input or setup (including a database whose schema
  is older than this code), 3 a sync failed, 4 the store could not be used.
* Errors are one clear line naming what failed and what to do; no traceback unless
  ``GPUHOURS_DEBUG=1``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from aggregator.cli_options import GpuOpt, JsonOpt, LimitOpt, ProviderOpt, RegionOpt
from aggregator.cli_plan import add_commands as add_plan_commands
from aggregator.cli_service import add_commands as add_service_commands
from aggregator.errors import (
    ConfigurationError,
    GpuhoursError,
    InvalidInput,
    SchemaOutdated,
    StoreError,
)
from aggregator.json_text import NonFiniteNumber, dumps

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from aggregator import catalog
    from aggregator.models import StoredOffer
    from aggregator.plugins import FeedRef, Registry
    from aggregator.settings import Settings
    from aggregator.sync import SyncOutcome
    from db.reader import Reader

# Commands import what they use inside their bodies: `gpuhours --help` and the light commands
# would otherwise pay for SQLAlchemy, pydantic, httpx, rich and highspy (about a second here).

EXIT_OK, EXIT_NOTHING, EXIT_INPUT, EXIT_SYNC_FAILED, EXIT_STORE = 0, 1, 2, 3, 4
BUNDLED = "bundled"

app = typer.Typer(
    name="gpuhours",
    help="The cheapest way to buy N GPU-hours across AWS, Google Cloud and Azure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Manage the price store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class _Consoles:
    """Rich consoles made on use, bound to the current stdout/stderr.

    Output that is not a terminal (a pipe, a file) gets a wide fixed width so tables are not
    cut to 80 columns.
    """

    @property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    @property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


consoles = _Consoles()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more detail.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# -- plumbing -----------------------------------------------------------------------------------


def _emit_json(document: Any) -> None:
    sys.stdout.write(dumps(_jsonable(document), indent=2) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # a pydantic model (pydantic is not imported to check)
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _exit_code_for(exc: GpuhoursError) -> int:
    if isinstance(exc, InvalidInput | ConfigurationError | SchemaOutdated):
        return EXIT_INPUT
    if isinstance(exc, StoreError | NonFiniteNumber):  # the store, or a bug: not the user's input
        return EXIT_STORE
    return EXIT_NOTHING


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Turn gpuhours errors into one message and an exit code; never a traceback."""
    try:
        yield
    except GpuhoursError as exc:
        _fail(exc, _exit_code_for(exc), as_json)
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("GPUHOURS_DEBUG"):
            raise
        wrapped = StoreError(
            f"unexpected {type(exc).__name__}: {exc} (rerun with GPUHOURS_DEBUG=1 for details)"
        )
        _fail(wrapped, EXIT_STORE, as_json)


def _fail(exc: GpuhoursError, code: int, as_json: bool) -> NoReturn:
    field = getattr(exc, "field", None)
    if as_json:
        _emit_json({"error": {"type": type(exc).__name__, "message": str(exc), "field": field}})
    _say(f"error: {exc}")
    raise typer.Exit(code)


def _nothing(message: str, as_json: bool, document: dict[str, Any]) -> NoReturn:
    if as_json:
        _emit_json(document)
    _say(message)
    raise typer.Exit(EXIT_NOTHING)


def _say(message: str) -> None:
    """One plain line on stderr (rich is not needed, nor imported, to print it)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _age(when: datetime | None, now: datetime | None = None) -> str:
    from aggregator.models import utcnow

    if when is None:
        return "never"
    return _duration(((now or utcnow()) - when).total_seconds())


def _context(*, providers: bool = True) -> tuple[Settings, Registry]:
    """Settings and loaded plugins; ``providers=False`` for commands that only read the store
    (their providers' feed modules are then never imported)."""
    from aggregator.plugins import load_registry
    from aggregator.settings import Settings

    settings = Settings()
    return settings, load_registry(settings, providers=providers)


@contextmanager
def _store_reader(settings: Settings) -> Iterator[Reader]:
    """A read-only view of the store for one command, on the stdlib driver for SQLite.

    A current store is read without SQLAlchemy or Alembic (0.4 s of imports here). Only a store
    that is not (a new SQLite file to create, an empty one, a schema to refuse) goes through
    :func:`aggregator.catalog.open_store`, which creates it or raises what is wrong.
    """
    from db.read import check_schema_version
    from db.reader import open_reader, sqlite_path

    url = settings.store_url()
    path = sqlite_path(url)
    current = path is None or path == ":memory:" or Path(path).exists()
    if current:
        with open_reader(url) as reader:
            try:
                check_schema_version(reader)
            except SchemaOutdated:
                if path is None:
                    raise
                current = False
    if not current:
        from aggregator import catalog

        catalog.open_store(settings).dispose()
    with open_reader(url) as reader:
        yield reader


# -- sync ---------------------------------------------------------------------------------------


@app.command()
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
    from aggregator import catalog

    with _errors(as_json):
        if record and replay:
            raise InvalidInput("--record and --replay cannot be used together", field="record")
        note = None
        if replay is not None and str(replay) == BUNDLED and not replay.exists():
            from plugins.snapshot import AGE_NOTE, SNAPSHOT_DIR

            replay, note = SNAPSHOT_DIR, AGE_NOTE
        if replay is not None and not replay.is_dir():
            raise InvalidInput(f"--replay: {replay} is not a directory", field="replay")
        settings, registry = _context()
        refs = registry.select_feeds(feeds or [])
        if not refs:
            _nothing(
                "no provider feeds are loaded; `gpuhours providers` shows plugins and load errors",
                as_json,
                {"runs": []},
            )
        engine = catalog.open_store(settings, writable=True)
        try:
            outcomes = _run_sync(
                refs, registry, engine, settings, force, record, replay, show=not as_json
            )
        finally:
            engine.dispose()
        if as_json:
            _emit_json({"runs": [o.run for o in outcomes], "note": note})
        else:
            _print_sync_summary(outcomes)
            if note:
                _say(f"note: {note}")
        if any(o.failed for o in outcomes):
            raise typer.Exit(EXIT_SYNC_FAILED)


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
        _say(
            f"{rejected:,} {rows} rejected and {unknown:,} unknown to gpuhours' tables were "
            "skipped; `gpuhours -v sync` lists each"
        )
    for outcome in outcomes:
        if outcome.run.error:
            level = "error" if outcome.failed else "note"
            _say(f"{level}: {outcome.run.feed}: {outcome.run.error}")


# -- offers ---------------------------------------------------------------------------------------

OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--purchase-option",
        "-o",
        help="on-demand, spot, low-priority, reserved, savings-plan, committed; repeatable.",
    ),
]


@app.command()
def offers(
    gpu: GpuOpt = None,
    min_gpu_memory: Annotated[
        float | None, typer.Option("--min-gpu-memory", help="Minimum GB per GPU.")
    ] = None,
    provider: ProviderOpt = None,
    region: RegionOpt = None,
    purchase_option: OptionOpt = None,
    spot: Annotated[
        bool | None,
        typer.Option(
            "--spot/--no-spot", help="Only interruptible (spot, low priority) offers, or none."
        ),
    ] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="gpu-hour (price per GPU-hour) or hour.")
    ] = "gpu-hour",
    limit: LimitOpt = 20,
    include_withdrawn: Annotated[
        bool, typer.Option("--include-withdrawn", help="Also offers no longer published.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List stored offers, cheapest first."""
    from aggregator import catalog

    with _errors(as_json):
        sort_key = _sort_key(sort)
        settings, registry = _context(providers=False)
        query = catalog.build_offer_query(
            registry,
            gpus=gpu or [],
            min_gpu_memory_gb=min_gpu_memory,
            providers=provider or [],
            regions=region or [],
            purchase_options=purchase_option or [],
            interruptible=spot,
            include_withdrawn=include_withdrawn,
            sort=sort_key,
            limit=limit,
        )
        with _store_reader(settings) as reader:
            found = catalog.find_offers(reader, query)
        if not found:
            _nothing(
                "no offers match; widen the filters or run `gpuhours sync`",
                as_json,
                {"offers": [], "count": 0},
            )
        if as_json:
            _emit_json({"offers": found, "count": len(found)})
        else:
            consoles.out.print(_offers_table(found))


def _sort_key(text: str) -> catalog.SortKey:
    from aggregator import catalog

    if text not in catalog.SORT_KEYS:
        raise InvalidInput(f"--sort must be gpu-hour or hour, not {text!r}", field="sort")
    return catalog.SORT_KEYS[text]


def _option_label(offer: StoredOffer) -> str:
    from aggregator.cli_format import option_text

    label = option_text(offer.purchase_option, offer.term_hours)
    if offer.payment:
        label += f" {offer.payment.value}"
    if offer.offering_class:
        label += f" {offer.offering_class.value}"
    return label


def _offers_table(found: Sequence[StoredOffer]) -> Table:
    from rich.table import Table

    from aggregator.cli_format import money
    from aggregator.models import utcnow

    table = Table()
    for column in ("id", "provider", "region", "instance type", "GPUs", "option"):
        table.add_column(column)
    for column in ("$/hour", "$/GPU-hour", "cur", "seen"):
        table.add_column(column, justify="right")
    now = utcnow()
    for offer in found:
        table.add_row(
            offer.id,
            offer.provider,
            offer.region + (f" ({offer.zone})" if offer.zone else ""),
            offer.instance_type,
            f"{offer.gpu_count:g}x {offer.gpu} {offer.gpu_memory_gb:g}GB",
            _option_label(offer) + (" [withdrawn]" if offer.withdrawn_at else ""),
            money(offer.price_per_hour),
            money(offer.price_per_gpu_hour),
            offer.currency,
            _age(offer.observed_at, now),
        )
    return table


# -- history --------------------------------------------------------------------------------------


@app.command()
def history(
    offer_ids: Annotated[
        list[str] | None, typer.Argument(help="Offer ids (from `gpuhours offers`).")
    ] = None,
    gpu: GpuOpt = None,
    provider: ProviderOpt = None,
    region: RegionOpt = None,
    purchase_option: OptionOpt = None,
    limit: LimitOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Show the price intervals of matching offers (withdrawn ones included)."""
    from aggregator import catalog

    with _errors(as_json):
        settings, registry = _context(providers=False)
        query = catalog.build_offer_query(
            registry,
            gpus=gpu or [],
            providers=provider or [],
            regions=region or [],
            purchase_options=purchase_option or [],
            ids=offer_ids or [],
            include_withdrawn=True,
            limit=limit,
        )
        with _store_reader(settings) as reader:  # one snapshot: offers and their intervals agree
            found = catalog.offer_history(reader, query)
        if not found:
            _nothing("no offers match", as_json, {"offers": []})
        if as_json:
            _emit_json({"offers": found})
            return
        from rich.table import Table

        from aggregator.cli_format import money

        table = Table()
        for column in ("id", "offer", "from", "to"):
            table.add_column(column)
        table.add_column("$/hour", justify="right")
        table.add_column("upfront", justify="right")
        for item in found:
            o = item.offer
            label = f"{o.provider} {o.region} {o.instance_type} {_option_label(o)}"
            for interval in item.intervals:
                table.add_row(
                    o.id,
                    label,
                    interval.valid_from.isoformat(timespec="seconds"),
                    interval.valid_to.isoformat(timespec="seconds") if interval.valid_to else "now",
                    f"{money(interval.price_per_hour)} {interval.currency}",
                    money(interval.upfront) if interval.upfront else "",
                )
        consoles.out.print(table)


# -- gpus, providers ------------------------------------------------------------------------------


@app.command()
def gpus(as_json: JsonOpt = False) -> None:
    """List the GPU names gpuhours knows, with memory variants and aliases."""
    from aggregator.gpus import gpu_listing
    from aggregator.plugins import load_registry

    with _errors(as_json):
        registry = load_registry(providers=False, price_terms=False)
        specs = registry.gpus.specs()
        if as_json:
            _emit_json({"gpus": gpu_listing(registry.gpus)})
            return
        from rich.table import Table

        table = Table()
        for column in ("name", "vendor", "memory GB", "BF16 TFLOPS", "aliases"):
            table.add_column(column)
        for s in specs:
            table.add_row(
                s.name,
                s.vendor,
                ", ".join(f"{m:g}" for m in s.memory_gb),
                f"{s.bf16_tflops:g}" if s.bf16_tflops else "?",
                ", ".join(s.aliases),
            )
        consoles.out.print(table)


@app.command()
def providers(as_json: JsonOpt = False) -> None:
    """List plugins (and their load errors), feeds, last sync and how old the data is."""
    from aggregator import catalog

    with _errors(as_json):
        settings, registry = _context()
        try:
            engine = catalog.open_store(settings)
        except GpuhoursError as exc:  # still list plugins and feeds: this is the debugging view
            report = catalog.providers_report(
                registry,
                None,
                store_error=str(exc),
                feed_timeout=settings.sync_feed_timeout,
            )
        else:
            try:
                report = catalog.providers_report(
                    registry, engine, feed_timeout=settings.sync_feed_timeout
                )
            finally:
                engine.dispose()
        if as_json:
            _emit_json(report)
            return
        if report.store_error:
            _say(f"store: {report.store_error}")
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
                _duration(f.interval_seconds),
                f"{f.live_offers:,}",
                _age(run.finished_at or run.started_at) if run else "never",
                status,
                _age(f.last_success_at),
                note,
            )
        consoles.out.print(feeds_table)
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


# -- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Create or migrate the store's schema to the version this gpuhours needs."""
    from aggregator import catalog
    from aggregator.settings import Settings
    from db.engine import redacted_url
    from db.migrate import current_revision, upgrade

    with _errors(as_json):
        settings = Settings()
        engine = catalog.open_store(settings, check=False)
        try:
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
            url = redacted_url(engine)
        finally:
            engine.dispose()
        if as_json:
            _emit_json({"database": url, "from_revision": before, "revision": after})
        else:
            consoles.out.print(f"{url}: schema {before or 'empty'} -> {after}", markup=False)


add_plan_commands(app)
add_service_commands(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
