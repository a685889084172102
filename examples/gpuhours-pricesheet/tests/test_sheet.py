"""Reading sheets: pricing, GPUs, terms, validity, and an error naming line and field for each
kind of mistake."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

import httpx
import pytest
from aggregator.errors import ProviderResponseError
from aggregator.gpus import default_vocabulary
from aggregator.models import Offer, PurchaseOption
from aggregator.providers import FetchContext
from helpers import EXAMPLE_CSV, EXAMPLE_YAML, TODAY, at, parse

from gpuhours_pricesheet import PriceSheetProvider, PriceSheetSettings, SheetError, parse_sheet
from gpuhours_pricesheet.rates import parse_term

ROW = """\
- region: us-east
  instance_type: hgx-h100-8x
  gpu: H100
  gpus_per_node: 8
  purchase_option: on_demand
  price_per_hour: 16.80
"""
HEADER = "region,instance_type,gpu,gpus_per_node,purchase_option,price_per_hour"


def yaml_rate(**fields: object) -> str:
    """A one-rate YAML sheet: :data:`ROW` with ``fields`` replaced (None removes one)."""
    values: dict[str, object] = {
        "region": "us-east",
        "instance_type": "hgx-h100-8x",
        "gpu": "H100",
        "gpus_per_node": 8,
        "purchase_option": "on_demand",
        "price_per_hour": "16.80",
    }
    values.update(fields)
    lines = [f"{name}: {value}" for name, value in values.items() if value is not None]
    return "- " + "\n  ".join(lines) + "\n"


def problem(text: str, fmt: str = "yaml") -> SheetError:
    with pytest.raises(SheetError) as raised:
        parse(text, "csv" if fmt == "csv" else "yaml")
    return raised.value


# -- prices -----------------------------------------------------------------------------------


def test_price_per_hour_is_per_node_hour() -> None:
    [rate] = parse(ROW)
    assert rate.offer.price_per_hour == 16.8
    assert rate.offer.price_per_gpu_hour == 2.1
    assert rate.offer.source == {"sheet": "rates.yaml", "line": "1", "price_per_hour": "16.80"}


def test_price_per_gpu_hour_is_multiplied_by_the_gpus_per_node() -> None:
    [rate] = parse(yaml_rate(price_per_hour=None, price_per_gpu_hour="2.10"))
    assert rate.offer.price_per_hour == 16.8  # exactly, not 16.800000000000001
    assert rate.offer.gpu_count == 8
    assert rate.offer.source["price_per_gpu_hour"] == "2.10"  # as written


def test_a_fraction_of_a_gpu_per_node() -> None:
    [rate] = parse(
        yaml_rate(gpu="A10", gpus_per_node=0.5, price_per_hour=None, price_per_gpu_hour=1.2)
    )
    assert (rate.offer.gpu_count, rate.offer.price_per_hour) == (0.5, 0.6)


def test_optional_fields_reach_the_offer() -> None:
    [rate] = parse(
        yaml_rate(id="'C-7'", vcpus=208, memory_gb=1800, currency="eur", notes="'text: ignored'")
    )
    offer = rate.offer
    assert (offer.vcpus, offer.memory_gb, offer.currency) == (208, 1800, "EUR")
    assert offer.source["row_id"] == "C-7"


def test_text_fields_are_kept_as_written() -> None:
    [rate] = parse(yaml_rate(id="007", region=2026, instance_type="1.10"))
    assert (rate.offer.source["row_id"], rate.offer.region) == ("007", "2026")
    assert rate.offer.instance_type == "1.10"


def test_yaml_as_a_mapping_with_rates() -> None:
    [rate] = parse("rates:\n" + "\n".join("  " + line for line in ROW.splitlines()) + "\n")
    assert rate.line == 2


def test_csv_with_comments_blank_lines_and_header_spelling() -> None:
    [rate] = parse(
        "# our chargeback rates\n"
        "\n"
        "Region, Instance Type, GPU, GPUs per node, Purchase-Option, Price per GPU-hour\n"
        "on-prem,dgx,a100:80,8,On Demand,1.35\n",
        "csv",
    )
    offer = rate.offer
    assert rate.line == 4
    assert (offer.gpu, offer.gpu_memory_gb, offer.purchase_option) == (
        "A100",
        80.0,
        PurchaseOption.ON_DEMAND,
    )
    assert offer.price_per_hour == 10.8


# -- GPUs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpu", "memory", "expected"),
    [
        ("H100", None, ("H100", 80.0)),  # one size: taken from the GPU vocabulary
        ("nvidia-h100-80gb", None, ("H100", 80.0)),
        ("A100-40GB", None, ("A100", 40.0)),
        ("a100:80", None, ("A100", 80.0)),
        ("NVIDIA A100", 80, ("A100", 80.0)),
        ("A100", "40.0", ("A100", 40.0)),
        ("l40s", None, ("L40S", 48.0)),
    ],
)
def test_gpu_spellings_resolve_to_canonical_names(
    gpu: str, memory: object, expected: tuple[str, float]
) -> None:
    [rate] = parse(yaml_rate(gpu=f"'{gpu}'", gpu_memory_gb=memory))
    assert (rate.offer.gpu, rate.offer.gpu_memory_gb) == expected


# -- terms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("1y", 8760),
        ("3 years", 26280),
        ("1 Year", 8760),
        ("36mo", 26280),
        ("6 months", 4380),
        ("8760h", 8760),
        ("1.5y", 13140),
    ],
)
def test_terms(text: str, hours: int) -> None:
    assert parse_term(text) == hours


@pytest.mark.parametrize("text", ["1", "1 decade", "0y", "y", "0.0001h", "-1y"])
def test_bad_terms(text: str) -> None:
    with pytest.raises(ValueError, match=r"term|whole number"):
        parse_term(text)


def test_a_commitment_with_its_term() -> None:
    [rate] = parse(yaml_rate(purchase_option="reserved", term="1y"))
    assert (rate.offer.purchase_option, rate.offer.term_hours) == (PurchaseOption.RESERVED, 8760)


# -- validity ---------------------------------------------------------------------------------


def test_validity_dates_are_inclusive_utc_days() -> None:
    [rate] = parse(yaml_rate(valid_from="2026-07-01", valid_until="2027-06-30"))
    assert rate.not_in_force(date(2026, 6, 30)) == "starts 2026-07-01"
    assert rate.not_in_force(date(2026, 7, 1)) is None
    assert rate.not_in_force(date(2027, 6, 30)) is None
    assert rate.not_in_force(date(2027, 7, 1)) == "ended 2027-06-30"


def test_open_ended_rates() -> None:
    [rate] = parse(yaml_rate(valid_from="2026-07-01"))
    assert rate.not_in_force(date(2099, 1, 1)) is None
    [rate] = parse(yaml_rate(valid_until="2026-07-01"))
    assert rate.not_in_force(date(2000, 1, 1)) is None


def test_consecutive_rates_for_the_same_offer_are_fine() -> None:
    rates = parse(
        yaml_rate(valid_until="2026-12-31")
        + yaml_rate(valid_from="2027-01-01", price_per_hour=15.0)
    )
    assert [r.line for r in rates] == [1, 8]


def _fetch(sheet: Path, day: date) -> list[float]:
    provider = PriceSheetProvider(clock=at(day))
    [feed] = provider.feeds()
    settings = PriceSheetSettings(path=str(sheet))

    async def run() -> list[float]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_no_requests)) as client:
            ctx = FetchContext(client=client, feed_id="pricesheet/sheet", settings=settings)
            return [
                offer.price_per_hour async for offer in feed.fetch(ctx) if isinstance(offer, Offer)
            ]

    return asyncio.run(run())


def _no_requests(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a local sheet was fetched over HTTP: {request.url}")


def test_the_feed_offers_only_rates_in_force_and_logs_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sheet = tmp_path / "rates.yaml"
    sheet.write_text(
        yaml_rate(price_per_hour=10, valid_until="2026-06-30")
        + yaml_rate(price_per_hour=11, valid_from="2026-07-01", valid_until="2026-12-31")
        + yaml_rate(price_per_hour=12, valid_from="2027-01-01")
    )
    with caplog.at_level(logging.WARNING):
        assert _fetch(sheet, date(2026, 11, 28)) == [11.0]
    [record] = caplog.records
    assert "2 of 3 rates" in record.getMessage()
    assert "line 1 (ended 2026-06-30); line 16 (starts 2027-01-01)" in record.getMessage()
    caplog.clear()
    assert _fetch(sheet, date(2027, 1, 1)) == [12.0]
    assert _fetch(sheet, date(2026, 6, 30)) == [10.0]


def test_the_examples_on_the_test_day() -> None:
    assert _fetch(EXAMPLE_YAML, TODAY) == [16.8, 14.4, 22.0]
    assert _fetch(EXAMPLE_CSV, TODAY) == [10.8, 4.8, 7.6, 3.2]


def test_a_missing_file_is_a_sheet_error(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match=r"nope\.csv: cannot be read: No such file"):
        _fetch(tmp_path / "nope.csv", TODAY)


# -- settings ---------------------------------------------------------------------------------


def test_format_from_the_name_or_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PriceSheetSettings(path="a/b.YML").sheet_format == "yaml"
    assert PriceSheetSettings(path="https://x.example/r.csv?token=s3cret").sheet_format == "csv"
    with pytest.raises(ValueError, match="GPUHOURS_PRICESHEET_FORMAT"):
        PriceSheetSettings(path="https://x.example/export?format=csv")
    monkeypatch.setenv("GPUHOURS_PRICESHEET_FORMAT", "CSV")
    assert PriceSheetSettings(path="https://x.example/export").sheet_format == "csv"


def test_urls_are_named_without_credentials_or_query() -> None:
    settings = PriceSheetSettings(path="https://me:pw@x.example/r.yaml?token=s3cret#top")
    assert settings.is_url
    assert settings.display_name == "https://x.example/r.yaml"


def test_the_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_PRICESHEET_PATH", "  ")
    assert PriceSheetSettings().path is None
    monkeypatch.setenv("GPUHOURS_PRICESHEET_PATH", "/srv/rates.csv")
    assert PriceSheetSettings().path == "/srv/rates.csv"


# -- bad sheets: each problem names its line and field ----------------------------------------

BAD_YAML = [
    # (sheet, line, field, part of the message)
    ("- region: us-east\n  gpu: [H100\n", 3, None, "not valid YAML"),
    ("- region: us-east\n   gpu: H100\n", 2, None, "not valid YAML"),
    ("region: us-east\n", 1, None, "unknown top-level key 'region'"),
    ("rates: 3\n", 1, None, "should be a list of rates"),
    ("", None, None, "the sheet is empty"),
    ("[]\n", None, None, "the sheet has no rates"),
    ("- just text\n", 1, None, "a rate must be a mapping"),
    (yaml_rate(gpu=None), 1, "gpu", "missing; every rate needs it"),
    (yaml_rate(price_per_gpu_hr=2.1), 7, "price_per_gpu_hr", "unknown field"),
    (yaml_rate(price_per_hour="$16.80"), 6, "price_per_hour", "'$16.80' is not a number"),
    (yaml_rate(price_per_hour="16,80"), 6, "price_per_hour", "is not a number"),
    (yaml_rate(price_per_hour=0), 6, "price_per_hour", "greater than 0"),
    (yaml_rate(price_per_hour=".nan"), 6, "price_per_hour", "greater than 0"),
    (yaml_rate(gpus_per_node=-8), 4, "gpus_per_node", "greater than 0"),
    (yaml_rate(gpus_per_node="eight"), 4, "gpus_per_node", "is not a number"),
    (yaml_rate(gpu="H10"), 3, "gpu", "unknown GPU 'H10'; did you mean H100"),
    (yaml_rate(gpu="A100"), 1, "gpu_memory_gb", "A100 comes with 40 or 80 GB per GPU"),
    (yaml_rate(gpu="A100", gpu_memory_gb=48), 7, "gpu_memory_gb", "not 48"),
    (yaml_rate(gpu="a100:80", gpu_memory_gb=40), 7, "gpu_memory_gb", "contradicts"),
    (yaml_rate(gpu="A100-48GB"), 3, "gpu", "did you mean A100-40GB, A100-80GB"),
    (yaml_rate(purchase_option="monthly"), 5, "purchase_option", "'monthly' is not one of"),
    (yaml_rate(purchase_option="reserved"), 1, "term", "a reserved rate needs a term"),
    (yaml_rate(term="1y"), 7, "term", "pay-as-you-go and has no term"),
    (yaml_rate(purchase_option="committed", term=1), 7, "term", "with a unit"),
    (yaml_rate(price_per_hour=None), 1, "price_per_hour", "give price_per_hour"),
    (yaml_rate(price_per_gpu_hour=2.1), 7, "price_per_gpu_hour", "not both"),
    (yaml_rate(currency="usd$"), 7, "currency", "not an ISO 4217 code"),
    (yaml_rate(currency="XYZ"), 7, "currency", "'XYZ' is not an ISO 4217 currency code"),
    (yaml_rate(valid_from="2026-02-30"), 7, "valid_from", "day is out of range for month"),
    (yaml_rate(valid_from="'2026-02-30'"), 7, "valid_from", "is not a date"),
    (yaml_rate(valid_from="next week"), 7, "valid_from", "write it YYYY-MM-DD"),
    (yaml_rate(valid_from="2026-01-01 10:00:00"), 7, "valid_from", "is not a date"),
    (
        yaml_rate(valid_from="2026-07-01", valid_until="2026-06-30"),
        8,
        "valid_until",
        "2026-06-30 is before valid_from (2026-07-01)",
    ),
    (yaml_rate(region="no"), 1, "region", "put the value in quotes"),
    (yaml_rate(region="[a, b]"), 1, "region", "must be a single value"),
    (ROW + "  gpu: H200\n", 7, "gpu", "written twice in this rate (also on line 3)"),
    (ROW + ROW, 7, None, "same region, instance_type, purchase_option and term as line 1"),
    (
        yaml_rate(valid_until="2026-12-31") + yaml_rate(valid_from="2026-12-31"),
        8,
        None,
        "in force on the same days",
    ),
    (
        ROW + yaml_rate(purchase_option="spot", gpus_per_node=4),
        7,
        "gpus_per_node",
        "instance type 'hgx-h100-8x' in region 'us-east' has gpus_per_node 8 on line 1, 4 here",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), BAD_YAML)
def test_bad_yaml(text: str, line: int | None, field: str | None, message: str) -> None:
    error = problem(text)
    assert (error.line, error.field) == (line, field), str(error)
    assert message in str(error)
    where = ", ".join(
        part
        for part in (f"line {line}" if line else "", f"field {field!r}" if field else "")
        if part
    )
    assert str(error).startswith(f"price sheet rates.yaml: {where}{': ' if where else ''}")


BAD_CSV = [
    ("region,gpu\n", 1, "gpus_per_node", "missing column"),
    (HEADER.replace(",price_per_hour", "") + "\n", 1, "price_per_hour", "missing column"),
    (HEADER + ",price_per_gpu_hr\n", 1, "price_per_gpu_hr", "unknown column"),
    (HEADER + ",gpu\n", 1, "gpu", "column named twice"),
    (HEADER + ",\n", 1, None, "column 7 has no name"),
    ("", None, None, "the sheet is empty"),
    (HEADER + "\n", None, None, "the sheet has no rates"),
    (HEADER + "\nus-east,n1,H100,8,on_demand,16.80,extra\n", 2, None, "has 7 cells"),
    (HEADER + "\nus-east,n1,,8,on_demand,16.80\n", 2, "gpu", "missing; every rate needs it"),
    (HEADER + '\nus-east,"n1\nsecond line",H100,8,on_demand,1O\n', 2, "price_per_hour", "'1O'"),
    (
        HEADER + '\nus-east,"n1\nsecond line",H100,8,on_demand,16\nus-east,n2,H100,8,x,16\n',
        4,
        "purchase_option",
        "'x' is not one of",
    ),
    (
        "# comment, with a comma\n\n" + HEADER + "\nus-east,n1,H100,8,on_demand,16\n,,,,,\n"
        "us-east,n1,H100,8,on_demand,17\n",
        6,
        None,
        "same region, instance_type, purchase_option and term as line 4",
    ),
    (HEADER + '\nus-east,"n1,H100\n', 2, None, "not valid CSV"),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), BAD_CSV)
def test_bad_csv(text: str, line: int | None, field: str | None, message: str) -> None:
    error = problem(text, "csv")
    assert (error.line, error.field) == (line, field), str(error)
    assert message in str(error)


def test_not_utf8_names_the_line() -> None:
    data = (HEADER + "\nus-east,n\xe4,H100,8,on_demand,16\n").encode("latin-1")
    with pytest.raises(SheetError, match=r"line 2: not UTF-8 text \(byte 0xe4\)"):
        parse_sheet(data, "csv", sheet="x.csv", vocabulary=default_vocabulary(), provider="p")


def test_every_problem_is_listed_in_line_order() -> None:
    error = problem(
        HEADER
        + "\nus-east,n1,H10,8,on_demand,16\n"
        + "us-east,n2,H100,8,reserved,16\n"
        + "us-east,n3,H100,0,on_demand,$1\n",
        "csv",
    )
    assert [(p.line, p.field) for p in error.problems] == [
        (2, "gpu"),
        (3, "term"),
        (4, "gpus_per_node"),
        (4, "price_per_hour"),
    ]
    assert str(error).startswith(
        "price sheet rates.csv has 4 problems, so none of its rates were used: "
        "line 2, field 'gpu': unknown GPU 'H10'"
    )


def test_long_lists_of_problems_are_cut() -> None:
    rows = "".join(f"us-east,n{i},H10,8,on_demand,16\n" for i in range(25))
    error = problem(HEADER + "\n" + rows, "csv")
    assert len(error.problems) == 25
    assert str(error).endswith("; and 15 more")


def test_a_sheet_error_is_a_provider_response_error() -> None:
    """So the sync engine records the run as failed with its message and stores nothing."""
    assert issubclass(SheetError, ProviderResponseError)
    error = problem(yaml_rate(gpu="H10"))
    assert (error.sheet, error.provider) == ("rates.yaml", "pricesheet")
