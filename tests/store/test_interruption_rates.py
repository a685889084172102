"""Interruption rates in the store: what a feed's sync replaces, what it refuses, what the read
returns. Every test runs against SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

import db.store.interruptions as store_rates
from aggregator.errors import StoreError, SyncRejected
from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.models import SyncRun, SyncStatus
from db import store
from db.reader import open_reader
from tests.fake_plugins import dump_tables
from tests.rates import build_rate

T0 = datetime(2025, 6, 28, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
FEED = "aws/spot-advisor"
TABLES = ("interruption_rates", "feed_state", "store_version")
P5 = ("aws", "us-east-1", "p5.48xlarge")


def replace(
    engine: Engine,
    rates: Sequence[InterruptionRate],
    *,
    now: datetime = T0,
    feed: str = FEED,
    unchanged: Sequence[dict[str, str]] = (),
    held: Sequence[RateKey] = (),
    state: dict[str, str] | None = None,
    min_share_of_live: float | None = None,
) -> SyncRun:
    snap = store.InterruptionSnapshot(
        feed=feed,
        provider=feed.split("/")[0],
        rates=list(rates),
        unchanged=list(unchanged),
        state=dict(state or {}),
        started_at=now - timedelta(minutes=1),
        held=list(held),
    )
    return store.replace_interruption_rates(
        engine, snap, now=now, min_share_of_live=min_share_of_live
    )


def three_rates() -> list[InterruptionRate]:
    return [
        build_rate(),
        build_rate(region="ca-central-1", bucket=0, bucket_label="<5%",
                   interruption_min_percent=0, interruption_max_percent=5, savings_percent=-62),
        build_rate(instance_type="g5.xlarge", bucket=4, bucket_label=">20%",
                   interruption_min_percent=22, interruption_max_percent=100, savings_percent=70),
    ]  # fmt: skip


def keys(rates: Sequence[InterruptionRate]) -> list[RateKey]:
    return [r.key() for r in rates]


def test_a_first_sync_stores_every_rate_and_the_read_returns_them(engine: Engine) -> None:
    rates = three_rates()
    run = replace(engine, rates, state={"spot-advisor:etag": '"abc"'})
    assert (run.status, run.seen, run.new, run.changed, run.withdrawn) == (
        SyncStatus.OK, 3, 3, 0, 0,
    )  # fmt: skip
    found = store.interruption_rates(engine, keys(rates))
    assert found == {r.key(): r.model_copy(update={"observed_at": T0}) for r in rates}
    assert store.load_feed_state(engine, FEED) == {"spot-advisor:etag": '"abc"'}


def test_negative_savings_are_kept_as_published(engine: Engine) -> None:
    replace(engine, three_rates())
    ca = store.interruption_rates(engine, [("aws", "ca-central-1", "p5.48xlarge")])
    assert [r.savings_percent for r in ca.values()] == [-62]


def test_the_read_returns_only_the_keys_asked_for_and_known(engine: Engine) -> None:
    replace(engine, three_rates())
    asked = [P5, ("aws", "us-east-1", "P5.48XLARGE"), ("aws", "eu-west-1", "p5.48xlarge"),
             ("gcp", "us-east-1", "p5.48xlarge"), ("aws", "us-east-1", "g5.xlarge")]  # fmt: skip
    assert sorted(store.interruption_rates(engine, asked)) == sorted(
        [P5, ("aws", "us-east-1", "g5.xlarge")]
    )
    assert store.interruption_rates(engine, []) == {}


def test_the_read_builds_what_validation_would(engine: Engine) -> None:
    replace(engine, three_rates())
    for rate in store.interruption_rates(engine, keys(three_rates())).values():
        assert InterruptionRate.model_validate(rate.model_dump()) == rate
        assert rate.observed_at is not None and rate.observed_at.tzinfo is not None


def test_the_stdlib_reader_reads_what_the_engine_reads(engine: Engine) -> None:
    replace(engine, three_rates())
    expected = store.interruption_rates(engine, keys(three_rates()))
    with open_reader(engine.url.render_as_string(hide_password=False)) as reader:
        assert store.interruption_rates(reader, keys(three_rates())) == expected


def test_a_rate_keeps_the_date_of_its_response(engine: Engine) -> None:
    received = datetime(2025, 6, 27, 23, 0, tzinfo=UTC)
    replace(engine, [build_rate(observed_at=received)], now=T1)
    assert store.interruption_rates(engine, [P5])[P5].observed_at == received


def test_the_next_sync_replaces_the_feeds_rates(engine: Engine) -> None:
    first = three_rates()
    replace(engine, first)
    moved = build_rate(bucket=3, bucket_label="15-20%", interruption_min_percent=16,
                       interruption_max_percent=22)  # fmt: skip
    run = replace(engine, [moved, first[2]], now=T1)
    assert (run.seen, run.new, run.changed, run.unchanged, run.withdrawn) == (2, 0, 1, 1, 1)
    found = store.interruption_rates(engine, keys(first))
    assert sorted(found) == sorted([P5, first[2].key()])
    assert found[P5].bucket == 3 and found[P5].observed_at == T1


def test_the_store_version_moves_only_when_a_rate_changes(engine: Engine) -> None:
    version = store.data_version(engine)
    replace(engine, three_rates())
    assert store.data_version(engine) == version + 1
    replace(engine, three_rates())  # the same rows: a replay of the same recording
    assert store.data_version(engine) == version + 1
    replace(engine, three_rates()[:2])
    assert store.data_version(engine) == version + 2


def test_an_unchanged_source_keeps_and_confirms_every_rate(engine: Engine) -> None:
    replace(engine, three_rates())
    run = replace(engine, [], now=T1, unchanged=[{}])
    assert (run.status, run.seen, run.unchanged, run.withdrawn) == (SyncStatus.UNCHANGED, 0, 3, 0)
    found = store.interruption_rates(engine, keys(three_rates()))
    assert len(found) == 3 and {r.observed_at for r in found.values()} == {T1}


def test_an_unchanged_match_keeps_only_what_it_names(engine: Engine) -> None:
    replace(engine, three_rates())
    run = replace(engine, [], now=T1, unchanged=[{"region": "ca-central-1"}])
    assert (run.unchanged, run.withdrawn) == (1, 2)
    assert list(store.interruption_rates(engine, keys(three_rates()))) == [
        ("aws", "ca-central-1", "p5.48xlarge")
    ]


def test_an_unchanged_match_on_another_column_is_refused(engine: Engine) -> None:
    with pytest.raises(SyncRejected, match="matched on"):
        replace(engine, three_rates(), unchanged=[{"gpu": "H100"}])


def test_a_held_rate_stays_exactly_as_it_was(engine: Engine) -> None:
    replace(engine, three_rates())
    before = store.interruption_rates(engine, [P5])
    run = replace(engine, three_rates()[1:], now=T1, held=[P5])
    assert (run.seen, run.unchanged, run.withdrawn) == (2, 3, 0)
    assert store.interruption_rates(engine, [P5]) == before  # not even confirmed


def test_far_fewer_rates_than_stored_change_nothing(engine: Engine) -> None:
    replace(engine, three_rates())
    before = dump_tables(engine, *TABLES)
    with pytest.raises(SyncRejected, match=r"1 interruption rates .* where 3 were stored"):
        replace(engine, [build_rate()], now=T1, min_share_of_live=0.5, state={"x": "y"})
    assert dump_tables(engine, *TABLES) == before


def test_a_failure_inside_the_transaction_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace(engine, three_rates(), state={"etag": "1"})
    before = dump_tables(engine, *TABLES)

    def broken(*args: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_rates, "replace_feed_state", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        replace(engine, [build_rate(bucket=4, bucket_label=">20%", interruption_min_percent=22,
                                    interruption_max_percent=100)], now=T1)  # fmt: skip
    assert dump_tables(engine, *TABLES) == before


def test_a_rate_another_feed_stored_moves_to_the_feed_that_stores_it_last(
    engine: Engine,
) -> None:
    replace(engine, [build_rate()], feed="aws/other")
    ten = build_rate(
        bucket=2, bucket_label="10-15%", interruption_min_percent=11, interruption_max_percent=16
    )
    run = replace(engine, [ten])
    assert run.new == 1
    assert store.interruption_rates(engine, [P5])[P5].bucket == 2
    other = replace(engine, [], feed="aws/other", unchanged=[{}])  # owns nothing any more
    assert (other.unchanged, other.withdrawn) == (0, 0)


def test_the_same_key_twice_is_refused(engine: Engine) -> None:
    with pytest.raises(SyncRejected, match="twice"):
        replace(engine, [build_rate(), build_rate(savings_percent=1)])


def test_an_unmigrated_store_is_a_store_error(empty_engine: Engine) -> None:
    with pytest.raises(StoreError, match="reading interruption rates"):
        store.interruption_rates(empty_engine, [P5])


def test_the_read_imports_no_sqlalchemy() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import db.interruptions\n"
        "assert 'sqlalchemy' not in sys.modules, [m for m in sys.modules if 'sqlalchemy' in m]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
