"""Streaming the AWS price-list CSVs: preamble, chunk boundaries, truncation, the pre-filter."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aggregator.errors import ProviderResponseError
from plugins.aws.csv_stream import CsvStream, drive
from plugins.aws.offer_file import COLUMNS, linux_gpu_selector
from plugins.aws.savings_plans import SP_COLUMNS, compute_sp_selector
from tests import paths

FIXTURES = paths.FIXTURES / "aws"
SAMPLE = FIXTURES / "3-global-pricing-file-sample.csv"


def rows_of(data: bytes, chunk_size: int, required: tuple[bytes, ...] = ()) -> list[list[str]]:
    stream = CsvStream(required=required)
    chunks = (data[i : i + chunk_size] for i in range(0, len(data), chunk_size))
    return list(drive(stream, chunks))


def test_preamble_is_kept_as_metadata_and_the_header_found() -> None:
    stream = CsvStream()
    rows = list(drive(stream, [SAMPLE.read_bytes()]))
    assert stream.metadata == {
        "FormatVersion": "v1.0",
        "Disclaimer": stream.metadata["Disclaimer"],
        "Publication Date": "2025-09-12T22:53:08Z",
        "Version": "20250912225308",
        "OfferCode": "AmazonEC2",
    }
    assert stream.header is not None and len(stream.header) == 91
    assert stream.header[:3] == ("SKU", "OfferTermCode", "RateCode")
    assert len(rows) == 44 and all(len(r) == 91 for r in rows)
    # Quoted fields with commas inside stay one field.
    assert rows[0][4] == (
        "Windows with SQL Server Web (Amazon VPC), c6i.large reserved instance applied"
    )


@pytest.mark.parametrize("chunk_size", [1, 7, 1000, 1 << 20])
def test_chunk_boundaries_do_not_change_the_rows(chunk_size: int) -> None:
    data = SAMPLE.read_bytes()
    assert rows_of(data, chunk_size) == rows_of(data, len(data))


def test_a_body_cut_inside_a_row_raises() -> None:
    data = SAMPLE.read_bytes()
    cut = data[: data.rindex(b"\n", 0, len(data) - 1) + 400]  # 400 bytes into the last row
    with pytest.raises(ProviderResponseError, match="middle of a row"):
        rows_of(cut, 4096)


def test_a_complete_file_without_final_newline_is_fine() -> None:
    data = SAMPLE.read_bytes()
    assert rows_of(data.rstrip(b"\n"), 4096) == rows_of(data, 4096)


def test_crlf_line_endings_are_read() -> None:
    data = SAMPLE.read_bytes()
    assert rows_of(data.replace(b"\n", b"\r\n"), 333) == rows_of(data, 333)


@pytest.mark.parametrize("body", [b"", b'"FormatVersion","v1.0"\n', b"<html>oops</html>\n"])
def test_a_body_without_header_raises(body: bytes) -> None:
    with pytest.raises(ProviderResponseError, match="no header row"):
        rows_of(body, 64)


def test_missing_columns_are_named() -> None:
    stream = CsvStream(what="the file")
    stream.feed(b'"SKU","Unit"\n')
    with pytest.raises(ProviderResponseError, match="GPU Memory"):
        stream.column_index(COLUMNS)


def test_prefilter_skips_lines_without_parsing_them() -> None:
    stream = CsvStream(required=linux_gpu_selector().required)
    assert list(drive(stream, [SAMPLE.read_bytes()])) == []
    assert stream.candidates == 0 and stream.lines_read == 50


def _lines_and_rows(path: Path) -> list[tuple[bytes, dict[str, str]]]:
    lines = path.read_bytes().split(b"\n")
    header_at = next(i for i, line in enumerate(lines) if line.lstrip(b'"').startswith(b"SKU"))
    header = next(csv.reader([lines[header_at].decode()]))
    return [
        (line, dict(zip(header, next(csv.reader([line.decode()])), strict=True)))
        for line in lines[header_at + 1 :]
        if line
    ]


@pytest.mark.parametrize(
    "name",
    [
        "3-global-pricing-file-sample.csv",
        "ec2-us-east-1-gpu.csv",
        "ec2-cn-north-1-gpu.csv",
        "ec2-us-east-1-20240528-opencost-p4d.csv",
    ],
)
def test_prefilter_never_drops_a_row_the_full_filter_keeps(name: str) -> None:
    selector = linux_gpu_selector()
    kept = 0
    for line, row in _lines_and_rows(FIXTURES / name):
        if selector.keep({c: row[c] for c in COLUMNS}):
            kept += 1
            assert all(marker in line for marker in selector.required), line[:200]
    assert kept or name.startswith("3-")


@pytest.mark.parametrize(
    "name", ["5-ap-east-2-savingsplan-pricing.csv", "savingsplan-us-east-1-gpu.csv"]
)
def test_savings_plan_prefilter_never_drops_a_kept_row(name: str) -> None:
    selector = compute_sp_selector()
    for line, row in _lines_and_rows(FIXTURES / name):
        if selector.keep({c: row[c] for c in SP_COLUMNS}):
            assert all(marker in line for marker in selector.required), line[:200]
