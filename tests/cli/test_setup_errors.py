"""Bad settings and out-of-range options: exit 2 and one line naming the variable or flag;
a non-finite number never reaches JSON output; the terms file is read only when it is a
regular file of sane size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aggregator.cli import app
from aggregator.cli import core as cli_module
from aggregator.errors import ConfigurationError, InvalidInput
from aggregator.gpus import default_vocabulary
from aggregator.json_text import NonFiniteNumber, dumps
from aggregator.limits import MAX_OFFER_LIMIT, MAX_TERMS_FILE_BYTES
from aggregator.settings import Settings
from aggregator.terms.file import load_terms_file


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.delenv("GPUHOURS_TERMS_FILE", raising=False)

    def invoke(*args: str, **env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "GPUHOURS_HTTP_RETRIES",
            "abc",
            "GPUHOURS_HTTP_RETRIES='abc': Input should be a valid int",
        ),
        ("GPUHOURS_HTTP_RETRIES", "-1", "greater than or equal to 0"),
        (
            "GPUHOURS_HTTP_READ_TIMEOUT",
            "nan",
            "GPUHOURS_HTTP_READ_TIMEOUT='nan': Input should be a",
        ),
        ("GPUHOURS_HTTP_TOTAL_TIMEOUT", "inf", "finite number"),
        ("GPUHOURS_SYNC_FEED_TIMEOUT", "0", "GPUHOURS_SYNC_FEED_TIMEOUT='0'"),
        ("GPUHOURS_SYNC_PRICE_JUMP_SHARE", "2", "less than or equal to 1"),
        ("GPUHOURS_DATABASE_URL", "garbage", "is not a database URL; gpuhours stores prices in"),
        ("GPUHOURS_DATABASE_URL", "mysql://x/y", "names a 'mysql' database"),
    ],
)
@pytest.mark.parametrize("command", [["offers", "--gpu", "H100"], ["cheapest", "-n", "10"]])
def test_a_bad_setting_is_exit_2_and_one_line_naming_it(
    run: Any, command: list[str], variable: str, value: str, says: str
) -> None:
    result = run(*command, **{variable: value})
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + variable), result.output
    assert says in lines[0]
    assert "errors.pydantic.dev" not in result.output


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        (["scheduler"], "GPUHOURS_SCHEDULE", "abc", "GPUHOURS_SCHEDULE: not valid JSON"),
        (
            ["scheduler"],
            "GPUHOURS_SCHEDULE",
            '{"aws": "fortnight"}',
            "GPUHOURS_SCHEDULE: ['aws']: 'fortnight' is not a duration",
        ),
        (["scheduler"], "GPUHOURS_SCHEDULE_JITTER", "inf", "Input should be a finite number"),
        (["serve"], "GPUHOURS_API_CACHE_SECONDS", "abc", "Input should be a valid number"),
        (["serve"], "GPUHOURS_API_CACHE_SECONDS", "nan", "Input should be a finite number"),
        (["serve"], "GPUHOURS_API_CACHE_ENTRIES", "0", "greater than or equal to 1"),
        (["serve", "--scheduler"], "GPUHOURS_LEADER_POLL_SECONDS", "-1", "greater than 0"),
    ],
)
def test_a_bad_service_setting_stops_start_up_with_exit_2_naming_it(
    run: Any, command: list[str], variable: str, value: str, says: str
) -> None:
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # the service commands send logs to the runner's stream, closed after the run
        result = run(*command, **{variable: value})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: " + variable), result.output
    assert says in errors[0]
    assert "errors.pydantic.dev" not in result.output


def test_a_bad_setting_with_json_is_one_json_error(run: Any) -> None:
    result = run("offers", "--json", GPUHOURS_HTTP_RETRIES="many")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfigurationError"
    assert error["message"].startswith("GPUHOURS_HTTP_RETRIES='many'")


def test_settings_never_echo_what_may_be_a_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(database_url="mysql://admin:hunter2@db/prices")
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith("GPUHOURS_DATABASE_URL: names a 'mysql' database")


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(http_retries="9" * 10_000 + "x")
    assert len(str(caught.value)) < 300


def test_supported_database_urls_are_accepted() -> None:
    for url in ("sqlite:///x.db", "postgresql://u@h/d", "postgres://u@h/d",
                "postgresql+psycopg://u@h/d"):  # fmt: skip
        assert Settings(database_url=url).database_url == url
    assert Settings(database_url="  ").database_url is None


@pytest.mark.parametrize("limit", ["0", "-5", str(MAX_OFFER_LIMIT + 1), "99999999999999999999"])
@pytest.mark.parametrize("command", ["offers", "history"])
def test_an_out_of_range_limit_is_exit_2_naming_the_flag(
    run: Any, command: str, limit: str
) -> None:
    result = run(command, "--limit", limit)
    assert result.exit_code == 2
    bound = (
        "greater than or equal to 1"
        if int(limit) < 1
        else f"less than or equal to {MAX_OFFER_LIMIT}"
    )
    assert "--limit" in result.output and f"Input should be {bound}" in result.output
    assert "OverflowError" not in result.output


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("3.5", "Input should be a valid integer"),
        ("abc", "Input should be a valid integer"),
        ("1e400", "Input should be a finite number"),
        ("nan", "Input should be a finite number"),
    ],
)
@pytest.mark.parametrize("flag", ["--top", "--max-gpus"])
def test_integer_plan_options_refuse_what_the_api_refuses_in_its_words(
    run: Any, flag: str, value: str, says: str
) -> None:
    from fastapi.testclient import TestClient

    from aggregator.api.app import create_app

    result = run("cheapest", "--gpu", "H100", "--gpu-hours", "10", flag, value)
    assert result.exit_code == 2 and says in result.output
    field = flag.removeprefix("--").replace("-", "_")
    sent = json.dumps(value) if value == "abc" else value
    body = '{"gpu_hours": 10, "gpus": ["H100"], "' + field + '": ' + sent + "}"
    if value in ("1e400", "nan"):
        return  # not JSON numbers: the API cannot be sent them
    with TestClient(create_app()) as client:
        answer = client.post("/v1/plan", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["errors"][0]["message"] == says


@pytest.mark.parametrize("value", ["3.0", "3"])
def test_whole_number_floats_are_integers_on_the_cli_as_in_the_api(run: Any, value: str) -> None:
    assert run("offers", "--limit", value).exit_code in (0, 1)  # parsed; empty store: nothing
    result = run("cheapest", "--gpu", "H100", "--gpu-hours", "10", "--top", value)
    assert "Invalid value" not in result.output


def test_the_json_writer_refuses_non_finite_numbers() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(NonFiniteNumber, match="NaN or infinite"):
            dumps({"offers": [{"price_per_hour": bad}]})
    assert json.loads(dumps({"price": 1e308, "at": Path("/x")})) == {"price": 1e308, "at": "/x"}


def test_a_non_finite_number_reaching_cli_json_output_is_an_error_not_infinity(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gpu_listing(*_: Any, **__: Any) -> list[dict[str, Any]]:
        return [{"name": "H100", "memory_gb": [float("inf")]}]

    monkeypatch.setattr("aggregator.gpus.gpu_listing", gpu_listing)
    result = run("gpus", "--json")
    assert result.exit_code == cli_module.EXIT_STORE
    document = json.loads(result.stdout, parse_constant=_no_constants)
    assert document["error"]["type"] == "NonFiniteNumber"


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def _terms_error(path: Path) -> str:
    with pytest.raises(InvalidInput) as caught:
        load_terms_file(path, default_vocabulary())
    assert caught.value.field == "terms_file"
    return str(caught.value)


def test_the_terms_file_must_be_a_regular_file(tmp_path: Path) -> None:
    assert "is not a regular file" in _terms_error(Path("/dev/zero"))
    fifo = tmp_path / "terms.toml"
    os.mkfifo(fifo)  # nobody writes: reading it would block for ever
    assert "is not a regular file" in _terms_error(fifo)
    assert "Is a directory" in _terms_error(tmp_path) or "regular file" in _terms_error(tmp_path)


def test_a_terms_file_over_the_size_limit_is_refused_without_reading_it_all(
    tmp_path: Path,
) -> None:
    big = tmp_path / "terms.toml"
    big.write_text("# " + "x" * MAX_TERMS_FILE_BYTES + "\n")
    assert f"larger than {MAX_TERMS_FILE_BYTES:,} bytes" in _terms_error(big)
    at_limit = tmp_path / "ok.toml"
    at_limit.write_text("#" * (MAX_TERMS_FILE_BYTES - 1) + "\n")
    assert load_terms_file(at_limit, default_vocabulary()) == []


def test_planning_with_terms_file_dev_zero_ends_with_exit_2(run: Any) -> None:
    result = run("cheapest", "-n", "10", GPUHOURS_TERMS_FILE="/dev/zero")
    assert result.exit_code == 2
    assert "is not a regular file" in result.output


def test_a_data_dir_that_cannot_be_made_is_exit_2_naming_the_setting(run: Any) -> None:
    result = run("offers", GPUHOURS_DATA_DIR="/proc/gpuhours-nope")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: cannot create the store's directory /proc/")
    assert "GPUHOURS_DATA_DIR" in result.output and "unexpected" not in result.output


@pytest.mark.parametrize(
    ("feed", "variable", "value"),
    [("azure", "GPUHOURS_AZURE_MAX_PAGES", "-1"), ("gcp", "GPUHOURS_GCP_MAX_PAGES", "abc")],
)
def test_a_bad_plugin_setting_fails_that_sync_naming_it(
    run: Any, feed: str, variable: str, value: str
) -> None:
    result = run("sync", feed, "--replay", "bundled", "--json", **{variable: value})
    assert result.exit_code == 3, result.output
    (sync_run,) = json.loads(result.stdout)["runs"]
    assert sync_run["status"] == "failed" and sync_run["error"].startswith(f"{variable}={value!r}")


@pytest.mark.parametrize(
    "command",
    [["offers"], ["cheapest", "--gpu", "H100", "-n", "10"], ["sync", "--replay", "bundled"]],
)
def test_an_unreachable_database_is_exit_4_saying_so(run: Any, command: list[str]) -> None:
    url = "postgresql://gpuhours:hunter2@127.0.0.1:1/prices"  # nothing listens on port 1
    result = run(*command, "--json", GPUHOURS_DATABASE_URL=url)
    assert result.exit_code == 4, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "StoreError" and "unexpected" not in error["message"]
    assert "127.0.0.1:1/prices" in error["message"] and "refused" in error["message"]
    assert "hunter2" not in result.output
