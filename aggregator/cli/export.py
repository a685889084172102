"""``gpuhours export``: write the store's live offers in the export format, for another
gpuhours to mirror (docs/export.md)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aggregator.cli.core import emit_json, errors, say, store_reader
from aggregator.cli.options import JsonOpt
from aggregator.errors import InvalidInput

if TYPE_CHECKING:
    from aggregator.export import ExportSummary
    from db.reader import Reader

__all__ = ["STDOUT", "export", "register"]

STDOUT = "-"
"""The FILE that means standard output."""


def register(app: typer.Typer) -> None:
    """Add ``export`` to ``app``."""
    app.command("export")(export)


def export(
    file: Annotated[
        str,
        typer.Argument(help="File to write (gzip JSON Lines); '-' writes to standard output."),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Write the store's live offers and interruption rates for another gpuhours to mirror."""
    from aggregator.settings import Settings

    with errors(as_json):
        if file == STDOUT and as_json:
            raise InvalidInput(
                "--json prints a summary on standard output, where '-' writes the export: "
                "name a file instead",
                field="json",
            )
        if not file.strip():
            raise InvalidInput("FILE must name a file, or '-' for standard output", field="file")
        with store_reader(Settings()) as reader:
            summary = _write_stdout(reader) if file == STDOUT else _write_file(reader, Path(file))
        counts = summary.end
        if as_json:
            emit_json(
                {
                    "file": file,
                    "offers": counts.offers,
                    "interruption_rates": counts.interruption_rates,
                    "store_version": summary.header.store_version,
                    "etag": summary.tag,
                }
            )
        say(
            f"exported {counts.offers:,} offers and {counts.interruption_rates:,} interruption "
            f"rates (store version {summary.header.store_version}) to "
            f"{'standard output' if file == STDOUT else file}"
        )


def _write_stdout(reader: Reader) -> ExportSummary:
    from aggregator.export import write_export

    summary = write_export(reader, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return summary


def _write_file(reader: Reader, path: Path) -> ExportSummary:
    """Write to a temporary file beside ``path``, then rename: a failed export never leaves
    a cut file where a mirror would read it."""
    from aggregator.export import write_export

    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InvalidInput(f"FILE: the directory {directory} does not exist", field="file")
    if path.is_dir():
        raise InvalidInput(f"FILE: {path} is a directory", field="file")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise InvalidInput(
            f"FILE: cannot write in {directory}: {exc.strerror}", field="file"
        ) from None
    try:
        with os.fdopen(handle, "wb") as out:
            summary = write_export(reader, out)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return summary
