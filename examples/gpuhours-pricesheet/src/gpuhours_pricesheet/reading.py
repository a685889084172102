"""Reading a sheet's bytes into rows that remember their line numbers.

Both formats give the same thing, a list of :class:`RawRow`: the row's first line, its
fields (names lower-cased, spaces and dashes turned into underscores; an empty cell is
absent) and the line each field was written on.

* YAML: a list of mappings, or a mapping whose only key is ``rates`` holding that list. The
  document is composed into nodes first, so every row and field keeps the line it starts on;
  values are then read with PyYAML's safe constructor (``2026-01-01`` is a date, ``2.5`` a
  number). A key written twice in one row is a problem (plain YAML loading would keep the
  last one silently).
* CSV: comma-separated, a header row first, UTF-8 (a byte-order mark is fine). Line numbers
  are physical lines, the header's included, so they match what an editor shows even when a
  quoted cell spans lines. Blank lines, and rows whose first cell starts with ``#``, are
  skipped (comments).

Which fields exist and what their values mean is :mod:`gpuhours_pricesheet.rates`' job.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.nodes

from gpuhours_pricesheet.errors import Problem
from gpuhours_pricesheet.settings import SheetFormat

__all__ = ["Header", "RawRow", "Rows", "column_name", "decode", "read_rows"]


@dataclass
class RawRow:
    """One row as written: where it starts, its non-empty fields and where each one is.

    ``values`` are typed as the format reads them (YAML: numbers, dates, text; CSV: text);
    ``texts`` are the same values exactly as written (``2.10``, not ``2.1``). ``unreadable``
    names fields that were written but could not be read (the problem is already reported).
    """

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)

    def line_of(self, name: str) -> int:
        """The line a field was written on (the row's first line if it is absent)."""
        return self.lines.get(name, self.line)


@dataclass(frozen=True)
class Header:
    """A CSV's header row: its column names (normalized) and its line."""

    columns: tuple[str, ...]
    line: int


@dataclass
class Rows:
    """What reading found: the rows, any problems, and the header (CSV only)."""

    rows: list[RawRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    header: Header | None = None


_SEPARATORS = re.compile(r"[\s\-]+")


def column_name(text: str) -> str:
    """``"Price per GPU-hour"`` -> ``"price_per_gpu_hour"``."""
    return _SEPARATORS.sub("_", text.strip().lower())


def decode(data: bytes) -> tuple[str | None, list[Problem]]:
    """The sheet's text (UTF-8, a BOM dropped), or a problem naming the line of a bad byte."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line=line)]


def read_rows(data: bytes, fmt: SheetFormat) -> Rows:
    """The rows of a sheet and the problems met while reading it (rows may be partial then)."""
    text, problems = decode(data)
    if text is None:
        return Rows(problems=problems)
    if fmt == "yaml":
        rows, problems = _yaml_rows(text)
        return Rows(rows, problems)
    return _csv_rows(text)


# -- YAML -------------------------------------------------------------------------------------


def _yaml_rows(text: str) -> tuple[list[RawRow], list[Problem]]:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            return [], [_yaml_problem(exc)]
        except yaml.YAMLError as exc:
            return [], [Problem(f"not valid YAML: {exc}")]
        if root is None:
            return [], [Problem("the sheet is empty; it should be a list of rates")]
        return _yaml_document(loader, root)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return Problem(f"not valid YAML: {what}", line=mark.line + 1 if mark else None)


def _yaml_document(
    loader: yaml.SafeLoader, root: yaml.nodes.Node
) -> tuple[list[RawRow], list[Problem]]:
    items = root
    if isinstance(root, yaml.nodes.MappingNode):
        keys = {_scalar_text(k): (k, v) for k, v in root.value}
        other = [k for name, (k, _) in keys.items() if name != "rates"]
        if other:
            key = other[0]
            return [], [
                Problem(
                    f"unknown top-level key {_scalar_text(key)!r}; the sheet is a list of rates, "
                    "or a mapping with only the key 'rates'",
                    line=key.start_mark.line + 1,
                )
            ]
        if "rates" not in keys:
            return [], [Problem("the mapping has no 'rates' list", line=root.start_mark.line + 1)]
        items = keys["rates"][1]
    if not isinstance(items, yaml.nodes.SequenceNode):
        return [], [
            Problem(
                "the sheet should be a list of rates (each a mapping of field: value)",
                line=items.start_mark.line + 1,
            )
        ]
    rows: list[RawRow] = []
    problems: list[Problem] = []
    for item in items.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.nodes.MappingNode):
            problems.append(Problem("a rate must be a mapping of field: value", line=line))
            continue
        row = RawRow(line=line)
        for key_node, value_node in item.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.nodes.ScalarNode):
                problems.append(Problem("a field name must be plain text", line=key_line))
                continue
            name = column_name(str(key_node.value))
            if name in row.lines:
                problems.append(
                    Problem(
                        f"written twice in this rate (also on line {row.lines[name]})",
                        line=key_line,
                        field=name,
                    )
                )
                continue
            row.lines[name] = key_line
            if not isinstance(value_node, yaml.nodes.ScalarNode):
                row.unreadable.add(name)
                problems.append(
                    Problem("must be a single value, not a list or mapping", key_line, name)
                )
                continue
            try:
                value = loader.construct_object(value_node, deep=True)
            except (yaml.YAMLError, ValueError) as exc:
                # e.g. 2026-02-30: YAML takes it for a date, and there is no such day
                row.unreadable.add(name)
                problems.append(
                    Problem(f"{value_node.value!r} cannot be read: {exc}", key_line, name)
                )
                continue
            if value is not None and value != "":
                row.values[name] = value
                row.texts[name] = str(value_node.value).strip()
        rows.append(row)
    return rows, problems


def _scalar_text(node: yaml.nodes.Node) -> str:
    return str(node.value) if isinstance(node, yaml.nodes.ScalarNode) else "<not text>"


# -- CSV --------------------------------------------------------------------------------------


def _csv_rows(text: str) -> Rows:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[RawRow] = []
    problems: list[Problem] = []
    end = 0  # last physical line consumed
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"not valid CSV: {exc}", line=reader.line_num))
            break
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header, header_line = [column_name(cell) for cell in cells], line
            problems.extend(_header_problems(header, line))
            continue
        if len(cells) > len(header):
            extra = cells[len(header) :]
            if any(cell.strip() for cell in extra):
                problems.append(
                    Problem(
                        f"has {len(cells)} cells but the header (line {header_line}) names "
                        f"{len(header)} columns",
                        line=line,
                    )
                )
                continue
        row = RawRow(line=line)
        for name, cell in zip(header, cells, strict=False):
            row.lines[name] = line
            if cell.strip():
                row.values[name] = row.texts[name] = cell.strip()
        rows.append(row)
    if header is None and not problems:
        problems.append(Problem("the sheet is empty; it needs a header row and rates"))
    return Rows(rows, problems, Header(tuple(header), header_line) if header else None)


def _header_problems(header: list[str], line: int) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(Problem(f"column {position} has no name", line=line))
        elif name in seen:
            problems.append(Problem("column named twice in the header", line=line, field=name))
        seen.add(name)
    return problems
