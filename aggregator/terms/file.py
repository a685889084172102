"""Reading your negotiated price terms from a TOML file (``GPUHOURS_TERMS_FILE``).

The file is a list of ``[[term]]`` tables, each one :class:`~aggregator.terms.PriceTerm`
(docs/plugins.md, "Your own prices", shows the format). It is read once, when the plugins
load (:func:`aggregator.plugins.load_registry`), so a server reads it at start-up.

Every mistake is an :class:`~aggregator.errors.InvalidInput` (``field="terms_file"``) whose
message names the file, the term (its number, its ``[[term]]`` line and its name when it has
one), the key at fault and what to do: TOML syntax (with tomllib's line and column), an
unknown key (with the nearest known one), a bad value, no effect or more than one, an unknown
GPU, an unknown purchase option. A file with a mistake contributes no terms at all: a plan is
never computed with half of someone's contract.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aggregator.errors import InvalidInput, UnknownGpu
from aggregator.gpus import GpuVocabulary
from aggregator.limits import MAX_TERMS_FILE_BYTES, validation_message
from aggregator.terms.apply import ActiveTerm
from aggregator.terms.model import PriceTerm

__all__ = ["FIELD", "TABLE", "load_terms_file", "parse_terms"]

TABLE = "term"
"""The name of the TOML array of tables that holds the terms: ``[[term]]``."""

FIELD = "terms_file"
_HOW_TO_FIX = "fix the file, or unset GPUHOURS_TERMS_FILE to plan at list prices"
_HEADER = re.compile(rf"^\s*\[\[\s*(?:{TABLE}|\"{TABLE}\"|'{TABLE}')\s*\]\]")


def load_terms_file(path: Path, vocabulary: GpuVocabulary) -> list[ActiveTerm]:
    """The terms in the TOML file at ``path``, in file order, GPU names resolved by
    ``vocabulary``; :class:`InvalidInput` for a file that is missing, unreadable or wrong."""
    where = f"terms file {path} (GPUHOURS_TERMS_FILE)"
    try:
        text = _read_regular_file(path, where).decode("utf-8")
    except FileNotFoundError:
        raise InvalidInput(
            f"{where} does not exist; create it or unset GPUHOURS_TERMS_FILE", field=FIELD
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{where} is not UTF-8 text (byte {exc.start}); save it as UTF-8", field=FIELD
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"{where} cannot be read: {exc.strerror or exc}; {_HOW_TO_FIX}", field=FIELD
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = f"{where} is not valid TOML: {exc}; {_HOW_TO_FIX}"
        raise InvalidInput(message, field=FIELD) from None
    return parse_terms(document, vocabulary, source=f"terms file {path}", text=text)


def _read_regular_file(path: Path, where: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most :data:`MAX_TERMS_FILE_BYTES`.

    Opened without blocking and checked on the open descriptor, so a FIFO, a device such as
    ``/dev/zero`` or a file swapped in after a check is refused instead of hanging the command
    or filling memory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(
                f"{where} is not a regular file; point GPUHOURS_TERMS_FILE at a TOML file",
                field=FIELD,
            )
        data = file.read(MAX_TERMS_FILE_BYTES + 1)
    if len(data) > MAX_TERMS_FILE_BYTES:
        raise InvalidInput(
            f"{where} is larger than {MAX_TERMS_FILE_BYTES:,} bytes, far more than any "
            f"contract's terms; {_HOW_TO_FIX}",
            field=FIELD,
        )
    return data


def parse_terms(
    document: Mapping[str, Any],
    vocabulary: GpuVocabulary,
    *,
    source: str,
    text: str | None = None,
) -> list[ActiveTerm]:
    """The terms of a parsed TOML ``document`` (``text``, when given, locates each term's
    ``[[term]]`` line for messages). ``source`` starts every message."""
    unknown = [key for key in document if key != TABLE]
    if unknown:
        raise InvalidInput(
            f"{source}: unknown top-level key {unknown[0]!r}; every term goes in its own "
            f"[[{TABLE}]] table; {_HOW_TO_FIX}",
            field=FIELD,
        )
    tables = document.get(TABLE, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InvalidInput(
            f"{source}: {TABLE!r} must be a list of [[{TABLE}]] tables (write [[{TABLE}]], "
            f"with double brackets, above each term); {_HOW_TO_FIX}",
            field=FIELD,
        )
    lines = _header_lines(text, len(tables))
    terms: list[ActiveTerm] = []
    for index, table in enumerate(tables):
        position = f"term #{index + 1}"
        details = [f"line {lines[index]}"] if lines else []
        if isinstance(table.get("name"), str) and table["name"].strip():
            details.append(repr(table["name"].strip()))
        if details:
            position += f" ({', '.join(details)})"
        try:
            term = PriceTerm.model_validate(table)
            terms.append(ActiveTerm.of(term, vocabulary, origin=f"{source}, {position}"))
        except ValidationError as exc:
            problem = _describe(exc)
            joint = ", " if problem.startswith("field ") else ": "
            raise InvalidInput(
                f"{source}, {position}{joint}{problem}; {_HOW_TO_FIX}", field=FIELD
            ) from None
        except UnknownGpu as exc:
            raise InvalidInput(
                f"{source}, {position}, field gpu: {exc}; {_HOW_TO_FIX}", field=FIELD
            ) from None
    return terms


def _header_lines(text: str | None, count: int) -> list[int]:
    """The line number of each ``[[term]]`` header, or ``[]`` when they cannot be told apart
    (headers inside multi-line strings, inline ``term = [{...}]`` arrays)."""
    if text is None:
        return []
    found = [number for number, line in enumerate(text.splitlines(), 1) if _HEADER.match(line)]
    return found if len(found) == count else []


def _describe(exc: ValidationError) -> str:
    """The first problem of a term, naming its key (pydantic's wording, made specific)."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    message = validation_message(str(error["msg"]))
    if not loc:  # a rule across keys: the message names the keys itself
        return message
    key = loc[0]
    if error["type"] == "extra_forbidden":
        known = list(PriceTerm.model_fields)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"field {key}: unknown key; {hint}a term takes {', '.join(known)}"
    if error["type"] == "enum":
        return f"field {key}: {error['input']!r} is not allowed; {message.lower()}"
    return f"field {'.'.join(loc)}: {message}"
