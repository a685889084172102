"""The export format: what a store's export holds, its JSON Schema, and what a reader refuses."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine

from aggregator.errors import ExportFormatError
from aggregator.export import FORMAT_VERSION, ExportHeader, export_json_schema, write_export
from aggregator.export.format import MAX_LINE_BYTES
from aggregator.export.read import read_export
from aggregator.models import Offer, PurchaseOption
from db import store
from tests.offers import OfferFactory, save_offers
from tests.paths import REPO
from tests.rates import build_rate

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
SEEN = datetime(2026, 4, 30, 8, tzinfo=UTC)
SCHEMA_FILE = REPO / "docs" / "export.schema.json"


def export_bytes(engine: Engine) -> bytes:
    buffer = io.BytesIO()
    write_export(engine, buffer, now=NOW)
    return buffer.getvalue()


def lines_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def packed(lines: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read_all(data: bytes, size: int = 7) -> list[Any]:
    async def run() -> list[Any]:
        return [item async for item in read_export(_chunks(data, size), "test.jsonl.gz")]

    return asyncio.run(run())


@pytest.fixture
def filled(engine: Engine, make_offer: OfferFactory) -> Engine:
    offers = [
        make_offer(observed_at=SEEN, interconnect="EFA", interconnect_gbps=3200),
        make_offer(
            purchase_option=PurchaseOption.SPOT, price_per_hour=30.0, observed_at=SEEN,
            billing={"increment_seconds": 1, "minimum_seconds": 60},
        ),
        make_offer(region="eu-west-1", observed_at=SEEN, available_in=("eu-west-1a",)),
    ]  # fmt: skip
    save_offers(engine, offers, now=NOW)
    withdrawn = make_offer(region="ap-south-1", observed_at=SEEN)
    save_offers(engine, [withdrawn], now=NOW)  # withdraws the other aws/test offers ...
    save_offers(engine, offers, now=NOW)  # ... and this withdraws it again
    snapshot = store.InterruptionSnapshot(
        feed="aws/advisor", provider="aws", rates=[build_rate(observed_at=SEEN)], unchanged=[],
        state={}, started_at=NOW,
    )  # fmt: skip
    store.replace_interruption_rates(engine, snapshot, now=NOW)
    return engine


def test_an_export_holds_every_live_offer_and_rate_with_its_source_and_age(filled: Engine) -> None:
    header, *items, end = lines_of(export_bytes(filled))
    assert header["kind"] == "header" and header["format"] == "gpuhours-export"
    assert header["format_version"] == FORMAT_VERSION
    assert header["store_version"] == store.data_version(filled)
    assert header["feeds"]["aws/test"]["last_success_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert header["schema_version"]
    offers = [i for i in items if i["kind"] == "offer"]
    rates = [i for i in items if i["kind"] == "interruption_rate"]
    stored = {o.id: o for o in store.query_offers(filled, store.OfferQuery(limit=100))}
    assert [o["id"] for o in offers] == sorted(stored)  # live ones only, by id
    assert {o["region"] for o in offers} == {"us-east-1", "eu-west-1"}
    for line in offers:
        offer = stored[line["id"]]
        assert line["source"] == offer.source and line["observed_at"] == SEEN.isoformat()
        assert line["price_per_hour"] == offer.price_per_hour
    fabric = next(o for o in offers if o["interconnect"])
    assert (fabric["interconnect"], fabric["interconnect_gbps"]) == ("EFA", 3200)
    assert {o["region"]: o["available_in"] for o in offers if o["purchase_option"] != "spot"} == {
        "us-east-1": None,
        "eu-west-1": ["eu-west-1a"],
    }
    spot = next(o for o in offers if o["purchase_option"] == "spot")
    assert spot["billing"] == {"increment_seconds": 1, "minimum_seconds": 60}
    assert [r["instance_type"] for r in rates] == ["p5.48xlarge"]
    assert end == {"kind": "end", "offers": 3, "interruption_rates": 1}


def test_the_same_snapshot_exports_to_the_same_bytes(filled: Engine) -> None:
    assert export_bytes(filled) == export_bytes(filled)


def test_the_committed_json_schema_is_the_one_the_code_builds() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json.loads(json.dumps(export_json_schema()))


def test_every_line_of_an_export_validates_against_the_json_schema(filled: Engine) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    lines = lines_of(export_bytes(filled))
    for line in lines:
        validator.validate(line)
    broken = {**lines[1], "price_per_hour": "cheap"}
    assert not validator.is_valid(broken)
    assert not validator.is_valid({**lines[1], "kind": "surprise"})


def test_a_reader_gets_the_header_then_each_line(filled: Engine) -> None:
    data = export_bytes(filled)
    for size in (1, 7, 1 << 20):  # however the bytes arrive
        header, *items = read_all(data, size)
        assert isinstance(header, ExportHeader) and header.exported_at == NOW
        assert [i["kind"] for i in items] == ["offer"] * 3 + ["interruption_rate"]


def _header(**changes: Any) -> dict[str, Any]:
    header = {
        "kind": "header", "format": "gpuhours-export", "format_version": FORMAT_VERSION,
        "gpuhours_version": "9.9", "schema_version": "0006", "store_version": 3,
        "exported_at": NOW.isoformat(), "feeds": {},
    }  # fmt: skip
    return {**header, **changes}


END = {"kind": "end", "offers": 0, "interruption_rates": 0}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(packed([_header()]), "truncated", id="no-end-line"),
        pytest.param(packed([_header(), END])[:-9], "truncated", id="cut-gzip"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b'{"kind": "header"}\n', "not valid gzip", id="not-gzip"),
        pytest.param(packed([{"kind": "offer"}]), "not a gpuhours export", id="no-header"),
        pytest.param(
            packed([_header(format_version=FORMAT_VERSION + 1), END]),
            f"format version {FORMAT_VERSION + 1}",
            id="newer-format",
        ),
        pytest.param(packed([_header(store_version=-1), END]), "store_version", id="bad-header"),
        pytest.param(
            packed([_header(), {"kind": "offer"}, END]), "counts 0 offers", id="count-mismatch"
        ),
        pytest.param(packed([_header(), {"kind": "bonus"}, END]), "unknown kind", id="odd-kind"),
        pytest.param(packed([_header(), END, END]), "follow the end", id="after-end"),
        pytest.param(
            gzip.compress(json.dumps(_header()).encode() + b"\n[1, 2]\n"),
            "not a JSON object",
            id="not-an-object",
        ),
        pytest.param(
            gzip.compress(json.dumps(_header()).encode() + b"\n{oops\n"), "not JSON", id="bad-json"
        ),
        pytest.param(
            gzip.compress(json.dumps(_header()).encode() + b"\n" + b" " * (MAX_LINE_BYTES + 5)),
            "longer than",
            id="endless-line",
        ),
        pytest.param(packed([_header(), END]) + b"junk", "after the gzip", id="trailing-bytes"),
    ],
)
def test_a_reader_refuses_what_is_not_a_whole_export_it_knows(data: bytes, words: str) -> None:
    with pytest.raises(ExportFormatError, match=words) as caught:
        read_all(data)
    assert "test.jsonl.gz" in str(caught.value)


def test_a_corrupted_byte_is_caught_by_the_gzip_check(filled: Engine) -> None:
    data = bytearray(export_bytes(filled))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ExportFormatError, match=r"corrupted|truncated|not JSON"):
        read_all(bytes(data))


def test_the_newer_format_message_says_what_to_do() -> None:
    with pytest.raises(ExportFormatError) as caught:
        read_all(packed([_header(format_version=FORMAT_VERSION + 1), END]))
    assert "upgrade gpuhours" in str(caught.value) and "9.9" in str(caught.value)


def test_the_schema_file_is_in_the_docs() -> None:
    assert Path(SCHEMA_FILE).name in (REPO / "docs" / "export.md").read_text()


def test_a_version_1_export_without_capacity_is_still_read(filled: Engine) -> None:
    header, *items, end = lines_of(export_bytes(filled))
    offers = [{k: v for k, v in i.items() if k != "available_in"} for i in items]
    old = packed([{**header, "format_version": 1}, *offers, end])
    read_header, *read = read_all(old)
    assert read_header.format_version == 1 and len(read) == len(items)
    fields = {k: v for k, v in read[0].items() if k not in ("kind", "id", "first_seen", "history")}
    assert Offer.model_validate(fields).available_in is None
