"""The provider as gpuhours sees it: the test kit, the entry point, and the CLI end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aggregator.cli import app
from aggregator.errors import ConfigurationError
from aggregator.plugins import load_registry
from aggregator.providers import Provider
from aggregator.settings import Settings
from aggregator.testing import ProviderCheckFailed, ProviderReport
from helpers import EXAMPLE_CSV, EXAMPLE_YAML, RECORDED_URL, RECORDINGS
from typer.testing import CliRunner

from gpuhours_pricesheet import PriceSheetProvider, PriceSheetSettings, register_providers
from gpuhours_pricesheet.settings import NOT_CONFIGURED

Check = Callable[..., ProviderReport]
FEED = "pricesheet/sheet"


# -- the test kit -----------------------------------------------------------------------------


def test_yaml_example_passes_the_kit(gpuhours_check: Check, provider: PriceSheetProvider) -> None:
    report = gpuhours_check(provider, settings=PriceSheetSettings(path=str(EXAMPLE_YAML)))
    # Four rates; the renewal starting 2027-07-01 is not in force on the test's day.
    assert report.feeds[FEED].offers == 3
    assert report.feeds[FEED].requests == 0  # a local file is read, not fetched


def test_csv_example_passes_the_kit(gpuhours_check: Check, provider: PriceSheetProvider) -> None:
    report = gpuhours_check(provider, settings=PriceSheetSettings(path=str(EXAMPLE_CSV)))
    # Five rates; last year's L40S rate (ended 2025-12-31) is not offered.
    assert report.feeds[FEED].offers == 4


def test_url_sheet_is_fetched_through_the_client_and_replays(
    gpuhours_check: Check, provider: PriceSheetProvider
) -> None:
    report = gpuhours_check(
        provider, responses=RECORDINGS, settings=PriceSheetSettings(path=RECORDED_URL)
    )
    assert report.feeds[FEED].offers == 3
    assert report.feeds[FEED].requests == 1


def test_url_sheet_without_a_recording_fails_the_kit(
    gpuhours_check: Check, provider: PriceSheetProvider
) -> None:
    settings = PriceSheetSettings(path="https://rates.example.com/gpu/other.yaml")
    with pytest.raises(ProviderCheckFailed) as failed:
        gpuhours_check(provider, responses=RECORDINGS, settings=settings)
    assert "replays-offline" in failed.value.report.failed_checks


def test_bad_sheet_fails_the_kit_naming_line_and_field(
    gpuhours_check: Check, provider: PriceSheetProvider, tmp_path: Path
) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "region,instance_type,gpu,gpus_per_node,purchase_option,price_per_hour\n"
        "us-east,n1,H100,8,on_demand,16.80\n"
        "us-east,n2,H10,8,on_demand,16.80\n"
    )
    with pytest.raises(ProviderCheckFailed) as failed:
        gpuhours_check(provider, settings=PriceSheetSettings(path=str(sheet)))
    assert failed.value.report.failed_checks == ["fetch-completes"]
    assert "line 3, field 'gpu': unknown GPU 'H10'" in str(failed.value)


def test_without_a_path_the_provider_is_not_configured(gpuhours_check: Check) -> None:
    provider = PriceSheetProvider()
    reason = provider.not_configured_reason(PriceSheetSettings())
    assert reason == NOT_CONFIGURED
    assert "GPUHOURS_PRICESHEET_PATH" in reason
    with pytest.raises(ConfigurationError, match="GPUHOURS_PRICESHEET_PATH"):
        gpuhours_check(provider)  # settings read from the (empty) environment


# -- registration -----------------------------------------------------------------------------


def test_hook_registers_the_provider() -> None:
    registered: list[Provider] = []
    register_providers(register=registered.append)
    assert [type(p) for p in registered] == [PriceSheetProvider]
    assert [f.name for f in registered[0].feeds()] == ["sheet"]


def test_found_through_its_entry_point() -> None:
    """Needs the package installed (``pip install``), as any gpuhours plugin does."""
    registry = load_registry(Settings(plugins="pricesheet"))
    [info] = registry.plugins
    assert (info.name, info.distribution, info.errors) == ("pricesheet", "gpuhours-pricesheet", [])
    assert list(registry.feeds) == [FEED]


# -- the gpuhours CLI, end to end -------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run ``gpuhours`` in-process on a fresh SQLite store, with only this plugin loaded."""
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.setenv("GPUHOURS_PLUGINS", "pricesheet")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, [*args, "--json"])
        assert "Traceback" not in result.output, result.output
        return result.exit_code, json.loads(result.stdout)

    return invoke


def _sheet(rows: str) -> str:
    header = "region,instance_type,gpu,gpus_per_node,purchase_option,price_per_gpu_hour,"
    return header + "valid_from,valid_until\n" + rows


def test_sync_offers_and_cheapest_through_the_cli(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = datetime.now(UTC).date()
    sheet = tmp_path / "rates.csv"
    sheet.write_text(
        _sheet(
            f"us-east,hgx-h100-8x,H100,8,on_demand,2.10,{today - timedelta(days=30)},\n"
            f"us-east,hgx-h100-8x,H100,8,spot,0.90,,{today - timedelta(days=1)}\n"
            f"eu-west,hgx-h100-8x,H100,8,on_demand,2.50,{today + timedelta(days=1)},\n"
        )
    )
    monkeypatch.setenv("GPUHOURS_PRICESHEET_PATH", str(sheet))

    code, document = cli("sync", "pricesheet")
    assert code == 0, document
    [run] = document["runs"]
    assert (run["feed"], run["status"], run["seen"], run["new"]) == (FEED, "ok", 1, 1)

    code, document = cli("offers")
    [offer] = document["offers"]
    assert (offer["provider"], offer["region"], offer["price_per_hour"]) == (
        "pricesheet",
        "us-east",
        16.8,
    )
    assert offer["source"]["line"] == "2"

    code, plan = cli("cheapest", "--gpu", "H100", "--gpu-hours", "1000")
    assert code == 0, plan
    assert [line["instance_type"] for line in plan["lines"]] == ["hgx-h100-8x"]
    assert plan["total_cost"] == pytest.approx(2100.0)  # 125 node-hours x 16.80


def test_a_bad_sheet_fails_the_sync_and_keeps_the_stored_prices(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = tmp_path / "rates.csv"
    monkeypatch.setenv("GPUHOURS_PRICESHEET_PATH", str(sheet))
    sheet.write_text(_sheet("us-east,hgx-h100-8x,H100,8,on_demand,2.10,,\n"))
    assert cli("sync", "pricesheet")[0] == 0

    sheet.write_text(
        _sheet(
            "us-east,hgx-h100-8x,H100,8,on_demand,1.90,,\n"
            "us-east,hgx-h200-8x,H200,8,on-demand,2.9O,,\n"  # the letter O, not a zero
        )
    )
    code, document = cli("sync", "pricesheet")
    assert code == 3
    [run] = document["runs"]
    assert run["status"] == "failed"
    assert "line 3, field 'price_per_gpu_hour': '2.9O' is not a number" in run["error"]
    assert run["error"].endswith("nothing was changed")

    code, document = cli("offers")
    assert [o["price_per_hour"] for o in document["offers"]] == [16.8]  # not 15.2
