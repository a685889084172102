"""The CLI: --json prints one document that matches the store; bad input exits 2, no traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aggregator.cli import app
from aggregator.settings import Settings
from db import store
from db.engine import make_engine
from tests.fake_plugins import offer_row

Catalog = Callable[[list[dict[str, Any]]], Path]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run the CLI in-process against a fresh SQLite store in the default location."""
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.setenv("GPUHOURS_PLUGINS", "fakecloud,broken,misbehaving")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def _catalog_rows() -> list[dict[str, Any]]:
    return [
        offer_row(),
        offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=12.0),
        offer_row(instance_type="fk.8xa100", gpu="A100", gpu_memory_gb=40, price_per_hour=32.77),
        offer_row(
            instance_type="fk.8xa100",
            purchase_option="spot",
            price_per_hour=9.8,
            gpu="A100",
            gpu_memory_gb=40,
            region="eu-west-1",
        ),
    ]


def test_sync_then_offers_json_matches_the_store(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_catalog_rows())
    result = cli("sync", "fakecloud/static", "--json")
    assert result.exit_code == 0, result.output
    runs = _json(result)["runs"]
    assert [(r["feed"], r["status"], r["seen"], r["new"]) for r in runs] == [
        ("fakecloud/static", "ok", 4, 4)
    ]

    result = cli("offers", "--json", "--limit", "100")
    assert result.exit_code == 0
    document = _json(result)
    engine = make_engine(settings=Settings())
    try:
        stored = store.query_offers(engine, store.OfferQuery())
    finally:
        engine.dispose()
    assert document["count"] == 4
    assert [o["id"] for o in document["offers"]] == [o.id for o in stored]
    assert document["offers"][0]["price_per_gpu_hour"] == stored[0].price_per_gpu_hour


def test_offers_filters(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_catalog_rows())
    cli("sync", "fakecloud/static", "--json")
    a100 = _json(cli("offers", "--gpu", "nvidia-tesla-a100", "--json"))["offers"]
    assert {o["gpu"] for o in a100} == {"A100"} and len(a100) == 2
    spot = _json(cli("offers", "--spot", "--json"))["offers"]
    assert [o["purchase_option"] for o in spot] == ["spot"]
    no_spot = _json(cli("offers", "--no-spot", "--json"))["offers"]
    assert len(no_spot) == 3 and not any(o["interruptible"] for o in no_spot)
    eu = _json(cli("offers", "--region", "eu-*", "--json"))["offers"]
    assert [o["region"] for o in eu] == ["eu-west-1"]
    big = _json(cli("offers", "--min-gpu-memory", "80", "--json"))["offers"]
    assert {o["gpu"] for o in big} == {"H100"}
    by_hour = _json(cli("offers", "--sort", "hour", "--limit", "2", "--json"))["offers"]
    assert [o["price_per_hour"] for o in by_hour] == [9.8, 12.0]
    table = cli("offers", "--gpu", "h100")
    assert table.exit_code == 0 and "fk.8xh100" in table.stdout and "12.2900" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["offers", "--limit", "many"], "Invalid value for '--limit'"),
        (["offers", "--gpu", "Q9000"], "unknown GPU 'Q9000'"),
        (["offers", "--purchase-option", "forever"], "unknown purchase option 'forever'"),
        (["offers", "--sort", "cheap"], "--sort must be gpu-hour or hour"),
        (["offers", "--limit", "0"], "Input should be greater than or equal to 1"),
        (["sync", "nosuchcloud"], "no provider or feed named 'nosuchcloud'"),
        (["sync", "--record", "a", "--replay", "b"], "cannot be used together"),
        (["offers", "--no-such-flag"], "No such option"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    cli: Any, fake_plugins: None, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_bad_input_with_json_still_prints_one_json_document(cli: Any) -> None:
    result = cli("offers", "--gpu", "Q9000", "--json")
    assert result.exit_code == 2
    assert _json(result)["error"] == {
        "type": "UnknownGpu",
        "message": _json(result)["error"]["message"],
        "field": "gpu",
    }


def test_nothing_found_exits_1(cli: Any) -> None:
    result = cli("offers", "--gpu", "H100", "--json")
    assert result.exit_code == 1
    assert _json(result) == {"offers": [], "count": 0}


def test_failed_sync_exits_3(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row(), {"__raise__": "upstream went away"}])
    result = cli("sync", "fakecloud/static", "--json")
    assert result.exit_code == 3
    (run,) = _json(result)["runs"]
    assert run["status"] == "failed" and "upstream went away" in run["error"]
    table = cli("sync", "fakecloud/static")
    assert table.exit_code == 3 and "upstream went away" in table.output


def test_providers_shows_feeds_last_sync_and_broken_plugins(
    cli: Any, fake_catalog: Catalog
) -> None:
    fake_catalog(_catalog_rows())
    cli("sync", "fakecloud/static")
    report = _json(cli("providers", "--json"))
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["fakecloud"]["errors"] == []
    assert "broken on purpose" in plugins["broken"]["errors"][0]
    feeds = {f["id"]: f for f in report["feeds"]}
    static = feeds["fakecloud/static"]
    assert static["last_run"]["status"] == "ok" and static["live_offers"] == 4
    assert static["stale"] is False and static["age_seconds"] < 60
    assert feeds["fakecloud/http"]["last_run"] is None and feeds["fakecloud/http"]["stale"]
    text = cli("providers")
    assert text.exit_code == 0 and "broken on purpose" in text.stdout


def test_gpus_lists_the_vocabulary(cli: Any) -> None:
    names = {g["name"]: g for g in _json(cli("gpus", "--json"))["gpus"]}
    assert {"H100", "A100", "L4", "T4"} <= set(names)
    assert 80 in names["A100"]["memory_gb"]


def test_history_shows_price_intervals(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row()])
    cli("sync", "fakecloud/static")
    fake_catalog([offer_row(price_per_hour=88.0)])
    cli("sync", "fakecloud/static")
    (item,) = _json(cli("history", "--gpu", "H100", "--json"))["offers"]
    assert [i["price_per_hour"] for i in item["intervals"]] == [98.32, 88.0]
    by_id = _json(cli("history", item["offer"]["id"], "--json"))["offers"]
    assert by_id == [item]


def _store_at_first_revision(path: Path) -> str:
    """A SQLite store migrated only to the first schema revision: an older gpuhours' store."""
    from alembic import command

    from db.engine import write_transaction
    from db.migrate import alembic_config

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    config = alembic_config()
    with write_transaction(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    engine.dispose()
    return url


def test_a_new_sqlite_file_named_by_the_database_url_is_created_on_first_use(
    cli: Any, fake_catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere" / "new.db"
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", f"sqlite:///{path}")
    assert cli("offers").exit_code == 1  # "no offers match": a usable, empty store
    assert path.exists()
    report = _json(cli("providers", "--json"))
    assert report["store_error"] is None and report["feeds"]


def test_an_outdated_schema_is_refused_until_db_upgrade(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _store_at_first_revision(tmp_path / "shared.db")
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", url)
    result = cli("offers")
    assert result.exit_code == 2 and "gpuhours db upgrade" in result.output
    upgraded = _json(cli("db", "upgrade", "--json"))
    assert upgraded["from_revision"] == "0001" and upgraded["revision"]
    assert cli("offers").exit_code == 1


def test_providers_reports_plugins_and_feeds_whatever_state_the_store_is_in(
    cli: Any, fake_catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", _store_at_first_revision(tmp_path / "old.db"))
    result = cli("providers", "--json")
    assert result.exit_code == 0
    report = _json(result)
    assert "gpuhours db upgrade" in report["store_error"]
    assert {p["name"] for p in report["plugins"]} >= {"fakecloud", "broken"}
    assert any(p["errors"] for p in report["plugins"])  # load errors still shown
    feeds = report["feeds"]
    assert feeds and all(f["last_run"] is None for f in feeds)
    table = cli("providers")
    assert table.exit_code == 0
    (line,) = [ln for ln in table.stderr.splitlines() if ln.startswith("store: ")]
    assert "gpuhours db upgrade" in line
    assert "fakecloud" in table.stdout


@pytest.mark.parametrize(("timeout", "shown"), [("60", "interrupted"), ("7200", "running")])
def test_providers_shows_a_sync_that_died_by_the_configured_feed_timeout(
    cli: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch, timeout: str, shown: str
) -> None:
    from datetime import timedelta

    from aggregator.models import SyncRun, SyncStatus, utcnow
    from aggregator.store_access import open_store

    fake_catalog(_catalog_rows())
    engine = open_store(Settings())  # a new store, created on first use
    try:  # its first sync started an hour ago and its process died before it finished
        started = utcnow() - timedelta(hours=1)
        running = SyncRun(
            feed="fakecloud/static",
            provider="fakecloud",
            started_at=started,
            status=SyncStatus.RUNNING,
        )
        store.start_run(engine, running, lifetime=store.running_lifetime(7200))
    finally:
        engine.dispose()
    monkeypatch.setenv("GPUHOURS_SYNC_FEED_TIMEOUT", timeout)
    feeds = {f["id"]: f for f in _json(cli("providers", "--json"))["feeds"]}
    assert feeds["fakecloud/static"]["last_run"]["status"] == shown
    table = cli("providers")
    row = next(line for line in table.stdout.splitlines() if "fakecloud/static" in line)
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[4] == "1h" and cells[5].startswith(shown)  # last sync: when it started


def _fabric_rows() -> list[dict[str, Any]]:
    return [
        offer_row(interconnect="EFA", interconnect_gbps=3200),  # 24 vCPUs per GPU
        offer_row(instance_type="fk.8xh100.lean", vcpus=4, memory_gb=15, price_per_hour=40.0),
        offer_row(instance_type="fk.1xh100", gpu_count=1, interconnect_gbps=25, price_per_hour=12),
    ]


def test_offers_show_and_filter_on_host_and_fabric(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_fabric_rows())
    cli("sync", "fakecloud/static", "--json")
    fabric = _json(cli("offers", "--min-interconnect-gbps", "400", "--json"))["offers"]
    assert [(o["interconnect"], o["interconnect_gbps"]) for o in fabric] == [("EFA", 3200)]
    documented = _json(cli("offers", "--min-interconnect-gbps", "0", "--json"))["offers"]
    assert {o["instance_type"] for o in documented} == {"fk.8xh100", "fk.1xh100"}
    fed = _json(cli("offers", "--min-vcpus-per-gpu", "8", "--json"))["offers"]
    assert {o["instance_type"] for o in fed} == {"fk.8xh100", "fk.1xh100"}
    roomy = _json(cli("offers", "--min-memory-per-gpu", "100", "--json"))["offers"]
    assert {o["instance_type"] for o in roomy} == {"fk.8xh100", "fk.1xh100"}
    table = cli("offers", "--gpu", "H100")
    assert table.exit_code == 0 and "EFA 3200G" in table.stdout and "25G" in table.stdout


def test_cheapest_leaves_starved_hosts_out_unless_told(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_fabric_rows())
    cli("sync", "fakecloud/static", "--json")
    base = ["cheapest", "--gpu", "H100", "--gpu-hours", "800", "--gpus-per-node", "8", "--json"]

    def used(*args: str) -> list[str]:
        result = cli(*base, *args)
        assert result.exit_code == 0, result.output
        return [line["instance_type"] for line in _json(result)["lines"]]

    assert used() == ["fk.8xh100"]
    lowered = ("--min-vcpus-per-gpu", "0", "--min-memory-per-gpu", "0")
    assert used(*lowered) == ["fk.8xh100.lean"]
    assert used(*lowered, "--min-interconnect-gbps", "400") == ["fk.8xh100"]
    result = cli(*base, "--min-interconnect-gbps", "6400")
    assert result.exit_code == 1
    assert "at least 6400 Gbit/s between instances" in _json(result)["error"]["message"]


def _capacity_rows() -> list[dict[str, Any]]:
    return [
        offer_row(price_per_hour=40.0),  # the fake seller lists no capacity here
        offer_row(instance_type="fk.8xh100.gone", price_per_hour=50.0, available_in=[]),
        offer_row(instance_type="fk.8xh100.now", price_per_hour=60.0,
                  available_in=["us-east-1a", "us-east-1b"]),
    ]  # fmt: skip


def test_offers_and_cheapest_take_available_now(cli: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_capacity_rows())
    cli("sync", "fakecloud/static", "--json")
    (listed,) = _json(cli("offers", "--available-now", "--json"))["offers"]
    assert (listed["instance_type"], listed["available_in"]) == (
        "fk.8xh100.now",
        ["us-east-1a", "us-east-1b"],
    )
    assert listed["available_now"] is True
    table = cli("offers", "--gpu", "H100")
    assert "us-east-1a +1" in table.stdout and "none" in table.stdout
    base = ["cheapest", "--gpu", "H100", "--gpu-hours", "800", "--json"]
    assert [ln["instance_type"] for ln in _json(cli(*base))["lines"]] == ["fk.8xh100"]
    plan = _json(cli(*base, "--available-now"))
    assert [ln["instance_type"] for ln in plan["lines"]] == ["fk.8xh100.now"]
    assert any(note.startswith("capacity: fakecloud fk.8xh100.now") for note in plan["notes"])
    shown = cli("cheapest", "--gpu", "H100", "--gpu-hours", "800", "--available-now")
    assert shown.exit_code == 0 and "us-east-1a, us-east-1b" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-vcpus-per-gpu", "-1"], "--min-vcpus-per-gpu: Input should be greater than"),
        (["--min-memory-per-gpu", "inf"], "--min-memory-per-gpu: Input should be a finite"),
        (["--min-interconnect-gbps", "1e9"], "--min-interconnect-gbps: Input should be less"),
        (["--min-vcpus-per-gpu", "many"], "Invalid value for '--min-vcpus-per-gpu'"),
    ],
)
def test_bad_host_and_fabric_bounds_exit_2_naming_the_flag(
    cli: Any, fake_plugins: None, args: list[str], message: str
) -> None:
    result = cli("cheapest", "--gpu-hours", "10", *args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-vcpus-per-gpu", "-1"], "min_vcpus_per_gpu: Input should be greater than"),
        (["--min-interconnect-gbps", "nan"], "min_interconnect_gbps: Input should be a finite"),
    ],
)
def test_bad_offer_host_and_fabric_filters_exit_2(
    cli: Any, fake_plugins: None, args: list[str], message: str
) -> None:
    result = cli("offers", *args)
    assert result.exit_code == 2
    assert message in result.output
