"""``gpuhours serve`` and ``gpuhours scheduler``: the HTTP API under uvicorn, optionally with
the sync scheduler in the same process, and the scheduler alone."""

from __future__ import annotations

import logging
import signal
from contextlib import ExitStack
from enum import StrEnum
from typing import Annotated, Any

import typer

from aggregator.cli.core import EXIT_NOTHING, errors, store_engine
from aggregator.errors import GpuhoursError

__all__ = ["LogLevel", "LogLevelOpt", "log", "register", "scheduler", "serve"]

log = logging.getLogger("aggregator.service")


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


LogLevelOpt = Annotated[
    LogLevel, typer.Option("--log-level", case_sensitive=False, help="How much to log.")
]


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``scheduler`` to ``app``."""
    app.command("serve")(serve)
    app.command("scheduler")(scheduler)


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    with_scheduler: Annotated[
        bool,
        typer.Option("--scheduler", help="Also run the sync scheduler in this process."),
    ] = False,
    log_level: LogLevelOpt = LogLevel.INFO,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs), optionally with the scheduler."""
    import uvicorn

    from aggregator.logs import configure_logging, logging_config

    level = _level(log_level)
    configure_logging(level)
    with ExitStack() as store:  # the scheduler's store, disposed once the scheduler stopped
        with errors(False):
            service = _prepare_serve(with_scheduler, store)
        stop = _install_stop_handlers(service.request_stop if service is not None else None)
        try:
            if service is not None:
                service.start_in_thread()
            log.info(
                "serving the API",
                extra={"host": host, "port": port, "workers": workers, "scheduler": with_scheduler},
            )
            uvicorn.run(
                "aggregator.api:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_config=logging_config(level),
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=10,
            )
        finally:
            stop()
            if service is not None:
                service.stop()


def _prepare_serve(with_scheduler: bool, store: ExitStack) -> Any:
    """The scheduler to run beside the API (its store entered on ``store``), or ``None``.

    Everything that would stop the API from working is read here, before any worker starts
    (``--workers`` processes, each its own app from :func:`aggregator.api.create_app`). A new
    local SQLite store is created and migrated; a store that is down or has an old schema is
    logged and the API still starts, answering 503 on ``/readyz`` until it is fixed. With the
    scheduler (which runs once, in the supervising process, however many workers) such a
    store stops start-up instead, as for ``gpuhours scheduler``.
    """
    from aggregator.api.cache import ApiSettings
    from aggregator.plugins import load_registry
    from aggregator.scheduler import SchedulerService
    from aggregator.settings import Settings

    settings = Settings()
    ApiSettings()  # read here too, so a bad value stops start-up (exit 2), not each worker
    sched = _scheduler_settings()
    registry = None
    if with_scheduler or settings.terms_file is not None:
        registry = load_registry(settings)
        registry.active_terms()  # a bad GPUHOURS_TERMS_FILE stops start-up here (exit 2)
    try:  # creates and migrates a new local SQLite store, once, before any worker starts
        with store_engine(settings):
            pass
    except GpuhoursError as exc:
        if with_scheduler:
            raise
        log.warning("the store is not usable yet; /readyz will say so: %s", exc)
    if not with_scheduler:
        return None
    assert registry is not None
    engine = store.enter_context(store_engine(settings))
    return SchedulerService(registry, engine, settings, sched)


def scheduler(log_level: LogLevelOpt = LogLevel.INFO) -> None:
    """Run the sync scheduler: one job per feed, one leader among all schedulers on a store."""
    from aggregator.logs import configure_logging
    from aggregator.plugins import load_registry
    from aggregator.scheduler import SchedulerService
    from aggregator.settings import Settings

    configure_logging(_level(log_level))
    with ExitStack() as store:
        with errors(False):
            settings = Settings()
            sched = _scheduler_settings()
            registry = load_registry(settings)
            if not registry.feeds:
                log.error("no provider feeds are loaded; `gpuhours providers` lists load errors")
                raise typer.Exit(EXIT_NOTHING)
            # an old schema stops it here (exit 2) rather than be written to
            engine = store.enter_context(store_engine(settings))
        service = SchedulerService(registry, engine, settings, sched)
        restore = _install_stop_handlers(service.request_stop)
        try:
            service.run()
        finally:
            restore()


def _scheduler_settings() -> Any:
    from aggregator.scheduler import SchedulerSettings

    return SchedulerSettings()  # a bad value raises ConfigurationError naming it (exit 2)


def _level(level: LogLevel) -> str:
    return level.value.upper()


def _install_stop_handlers(request_stop: Any) -> Any:
    """SIGTERM/SIGINT call ``request_stop``; returns a function restoring the old handlers.

    Stopping a scheduler starts no new syncs, gives running ones
    ``GPUHOURS_SHUTDOWN_GRACE_SECONDS`` to finish and releases the leader lock.

    uvicorn installs its own handlers while it serves and re-raises a caught signal after it
    shut down, which then lands here and stops the scheduler too.
    """
    signals = (signal.SIGTERM, signal.SIGINT)
    if request_stop is None:
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(signum: int, frame: Any) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        request_stop()

    for sig in signals:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
