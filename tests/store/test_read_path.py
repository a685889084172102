"""The light read path: :mod:`db.reader`, :mod:`db.offer_sql`, :mod:`db.read`.

Both drivers (stdlib ``sqlite3`` and SQLAlchemy) must return what a Python model of the
filters says, equal field by field; the per-shape reduction in SQL must keep exactly what the
planner's :func:`cheapest_per_shape` keeps; the schema check must say what
:func:`db.migrate.check_schema` says; and none of it may import SQLAlchemy.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from aggregator.errors import SchemaOutdated, StoreError
from aggregator.globs import glob_regex
from aggregator.gpus import MEMORY_TOLERANCE_GB
from aggregator.models import Offer, PurchaseOption
from aggregator.offer_view import PlannableOffer
from aggregator.planner.candidates import cheapest_per_shape
from db import migrate, read, store
from db.engine import make_engine
from db.offer_sql import GPU_COUNT_TOLERANCE, OfferQuery, offer_select
from db.reader import Reader, open_reader, reader_for, sqlite_path
from db.schema_head import KNOWN_REVISIONS, SCHEMA_HEAD
from db.tables import offers as offers_table
from tests.offers import build_offer, save_offers

NOW = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
_OPTIONS = {
    PurchaseOption.ON_DEMAND: 0,
    PurchaseOption.SPOT: 0,
    PurchaseOption.LOW_PRIORITY: 0,
    PurchaseOption.RESERVED: 8760,
    PurchaseOption.SAVINGS_PLAN: 26280,
    PurchaseOption.COMMITTED: 8760,
}
_REGIONS = ["us-east-1", "US-West-2", "eu_west", "eu%west", "asia-east1", "us-central1"]
_GPUS = [("H100", 80.0), ("H100", 94.0), ("A100", 40.0), ("A100", 80.2), ("A10", 24.0)]
_COUNTS = [1.0, 2.0, 8.0, 1 / 3, 1 / 6, 0.5, 4.0]
# How plans split the per-shape reduction: by GPU for work-normalized plans, by cluster for
# one-cluster plans, by both.
_SHAPE_SPLITS: list[tuple[str, ...]] = [
    (),
    ("gpu", "gpu_memory_gb"),
    ("region", "zone", "instance_type"),
    ("gpu", "gpu_memory_gb", "region", "zone", "instance_type"),
]


def _catalog(seed: int = 7, size: int = 240) -> list[Offer]:
    rng = random.Random(seed)
    offers: dict[str, Offer] = {}
    while len(offers) < size:
        gpu, memory = rng.choice(_GPUS)
        option = rng.choice(list(_OPTIONS))
        offer = build_offer(
            provider=rng.choice(["aws", "azure", "gcp"]),
            region=rng.choice(_REGIONS),
            zone=rng.choice([None, "a", "b"]),
            instance_type=f"type-{rng.randrange(6)}",
            gpu=gpu,
            gpu_memory_gb=memory,
            gpu_count=rng.choice(_COUNTS),
            purchase_option=option,
            term_hours=_OPTIONS[option],
            price_per_hour=rng.choice([1.0, 2.0, 3.5, round(rng.uniform(0.5, 40), 3)]),
            currency=rng.choice(["USD", "USD", "EUR"]),
            source={"sku": f"S{len(offers)}"},
        )
        offers[offer.id] = offer
    return list(offers.values())


CATALOG = _catalog()
WITHDRAWN = {o.id for o in CATALOG[::9]}


def _fill(engine: Engine) -> None:
    save_offers(engine, CATALOG, now=NOW)
    save_offers(engine, [o for o in CATALOG if o.id not in WITHDRAWN], now=LATER)


def _expected(q: OfferQuery) -> list[Offer]:
    """What ``q`` means, in Python (the planner's predicates)."""

    def keep(o: Offer) -> bool:
        gpu_ok = (not q.gpus and not q.gpu_variants) or o.gpu in q.gpus
        for name, memory in q.gpu_variants:
            gpu_ok = gpu_ok or (
                o.gpu == name
                and (memory is None or abs(o.gpu_memory_gb - memory) <= MEMORY_TOLERANCE_GB)
            )
        g = o.gpu_count
        return (
            gpu_ok
            and (q.min_gpu_memory_gb is None or o.gpu_memory_gb >= q.min_gpu_memory_gb)
            and (not q.providers or o.provider in q.providers)
            and (not q.regions or any(glob_regex(r).fullmatch(o.region.lower()) for r in q.regions))
            and (not q.purchase_options or o.purchase_option in q.purchase_options)
            and (q.interruptible is None or o.interruptible == q.interruptible)
            and (not q.ids or o.id in q.ids)
            and (not q.currencies or o.currency in q.currencies)
            and (q.gpu_count is None or math.isclose(g, q.gpu_count, rel_tol=GPU_COUNT_TOLERANCE))
            and (q.min_gpu_count is None or g >= q.min_gpu_count)
            and (q.max_gpu_count is None or g <= q.max_gpu_count)
            and (not q.whole_gpus or abs(g - round(g)) <= GPU_COUNT_TOLERANCE)
            and (q.include_withdrawn or o.id not in WITHDRAWN)
        )

    sort = (lambda o: (o.price_per_gpu_hour, o.id)) if q.sort == "price_per_gpu_hour" else (
        lambda o: (o.price_per_hour, o.id)
    )  # fmt: skip
    matching = sorted(filter(keep, CATALOG), key=sort)
    if q.cheapest_per_shape:

        def refine(o: PlannableOffer) -> tuple[object, ...]:
            return tuple(getattr(o, column) for column in q.shape_columns)

        reduced = cheapest_per_shape(matching, refine if q.shape_columns else None)
        matching = [o for o in reduced if isinstance(o, Offer)]
    return matching if q.limit is None else matching[: q.limit]


@st.composite
def queries(draw: st.DrawFn) -> OfferQuery:
    # Each filter is off more often than on, so most queries match something.
    maybe = lambda s: draw(st.one_of(st.none(), st.none(), s))  # noqa: E731
    some = lambda s, n=2: draw(st.one_of(st.just([]), st.just([]), st.lists(s, max_size=n)))  # noqa: E731
    regions = ["us-*", "*WEST*", "eu_west", "eu%west", "?s-east-1", "asia-*", "nowhere"]
    count = maybe(st.sampled_from(_COUNTS))
    return OfferQuery(
        gpus=some(st.sampled_from(["H100", "A10", "L4"])),
        gpu_variants=some(
            st.tuples(st.sampled_from(["H100", "A100"]), st.sampled_from([None, 80.0, 40.4]))
        ),
        min_gpu_memory_gb=maybe(st.sampled_from([24.0, 80.0, 90.0])),
        providers=some(st.sampled_from(["aws", "gcp", "acme"])),
        regions=some(st.sampled_from(regions)),
        purchase_options=some(st.sampled_from(list(PurchaseOption)), 3),
        interruptible=maybe(st.booleans()),
        ids=some(st.sampled_from([o.id for o in CATALOG[:20]]), 3),
        include_withdrawn=draw(st.booleans()),
        sort=draw(st.sampled_from(["price_per_gpu_hour", "price_per_hour"])),
        limit=maybe(st.integers(1, 30)),
        gpu_count=count,
        min_gpu_count=maybe(st.sampled_from([0.5 - GPU_COUNT_TOLERANCE, 2.0])),
        max_gpu_count=maybe(st.sampled_from([1.0 + GPU_COUNT_TOLERANCE, 4.0])),
        whole_gpus=draw(st.booleans()),
        currencies=some(st.sampled_from(["USD", "EUR", "JPY"])),
        cheapest_per_shape=draw(st.booleans()),
        shape_columns=draw(st.sampled_from(_SHAPE_SPLITS)),
    )


def _ids(records: object) -> list[str]:
    return [r.id for r in records]  # type: ignore[attr-defined]


@pytest.fixture
def filled(engine: Engine) -> Engine:
    _fill(engine)
    return engine


@pytest.fixture
def stdlib_reader(filled: Engine) -> Iterator[Reader | None]:
    """A stdlib reader on the same store when it is SQLite, else ``None``."""
    if filled.dialect.name != "sqlite":
        yield None
        return
    with open_reader(filled.url.render_as_string()) as reader:
        yield reader


_HYPOTHESIS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_HYPOTHESIS
@given(q=queries())
def test_both_drivers_return_what_the_filters_mean(
    filled: Engine, stdlib_reader: Reader | None, q: OfferQuery
) -> None:
    expected = [o.id for o in _expected(q)]
    records = store.query_offer_records(filled, q)
    assert _ids(records) == expected
    models = store.query_offers(filled, q)
    assert _ids(models) == expected
    if stdlib_reader is not None:
        assert store.query_offer_records(stdlib_reader, q) == records
        assert store.query_offers(stdlib_reader, q) == models


@_HYPOTHESIS
@given(q=queries())
def test_both_per_shape_forms_keep_the_same_offers_where_they_run(
    filled: Engine, q: OfferQuery
) -> None:
    # SQLite runs the CROSS JOIN form, PostgreSQL the LATERAL one; PostgreSQL runs both, so
    # each must keep what the planner keeps there (SQLite has no LATERAL).
    q.cheapest_per_shape = True
    reader = reader_for(filled)
    dialects = ["sqlite"] if filled.dialect.name == "sqlite" else ["sqlite", "postgresql"]
    for dialect in dialects:
        ids = [row[0] for row in reader.execute(*offer_select(q, ["id"], dialect))]
        assert ids == [o.id for o in _expected(q)], dialect


def test_the_planner_read_seeks_the_covering_index_on_sqlite(filled: Engine) -> None:
    # The grouped form is fast only while SQLite reads the groups from ix_offers_plan_shape
    # alone and seeks it per group; a plan on ix_offers_gpu_live_price scans once per group.
    if filled.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    q = OfferQuery(
        gpu_variants=[("A100", None)], regions=["us-*"], whole_gpus=True, cheapest_per_shape=True
    )
    sql, params = offer_select(q, ["id"], "sqlite")
    with filled.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    on_offers = [step for step in plan if step.startswith(("SCAN offers", "SEARCH offers"))]
    assert any("COVERING INDEX ix_offers_plan_shape" in step for step in on_offers), plan
    seeks = [s for s in on_offers if "ix_offers_plan_shape" in s and "price_per_hour=?" in s]
    assert seeks, plan
    assert not any("ix_offers_gpu_live_price" in step or step.startswith("SCAN") for step in
                   on_offers), plan  # fmt: skip


def test_records_and_models_equal_what_was_stored(
    filled: Engine, stdlib_reader: Reader | None
) -> None:
    q = OfferQuery(include_withdrawn=True)
    stored = {o.id: o for o in store.query_offers(filled, q)}
    assert set(stored) == {o.id for o in CATALOG}
    for offer in CATALOG:
        got = stored[offer.id]
        assert got.model_dump(exclude={"feed", "first_seen", "withdrawn_at", "observed_at"}) == (
            offer.model_dump(exclude={"observed_at"})
        )
        assert got.first_seen == NOW
        assert got.observed_at == (NOW if offer.id in WITHDRAWN else LATER)
        assert got.withdrawn_at == (LATER if offer.id in WITHDRAWN else None)
        assert got.observed_at.tzinfo is UTC
    if stdlib_reader is not None:
        assert store.query_offers(stdlib_reader, q) == list(stored.values())
        some = CATALOG[0].id
        assert store.get_offer(stdlib_reader, some) == store.get_offer(filled, some)
        assert store.get_offer(stdlib_reader, "nope") is None
        ids = [o.id for o in CATALOG]
        history = store.price_history(stdlib_reader, ids)
        assert history == store.price_history(filled, ids)
        assert len(history) == len(CATALOG) and all(i.valid_from == NOW for i in history)
        assert store.data_version(stdlib_reader) == store.data_version(filled) > 0


def test_reader_for_an_engine_and_open_reader_agree_on_any_dialect(filled: Engine) -> None:
    q = OfferQuery(gpus=["H100"], cheapest_per_shape=True)
    expected = store.query_offer_records(filled, q)
    assert store.query_offer_records(reader_for(filled), q) == expected
    with open_reader(filled.url.render_as_string(hide_password=False)) as reader:
        assert reader.dialect == filled.dialect.name
        assert store.query_offer_records(reader, q) == expected
        read.check_schema_version(reader)


# --------------------------------------------------------------------------------------------
# Schema check


def test_schema_constants_match_the_migration_scripts() -> None:
    assert migrate.head_revision() == SCHEMA_HEAD
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert tuple(reversed([s.revision for s in scripts.walk_revisions()])) == KNOWN_REVISIONS


@pytest.mark.parametrize("revision", [None, "0001", "9999_future"])
def test_schema_check_says_what_check_schema_says(
    empty_engine: Engine, revision: str | None
) -> None:
    if revision is not None:
        migrate.upgrade(empty_engine)
        with empty_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    with pytest.raises(SchemaOutdated) as heavy:
        migrate.check_schema(empty_engine)
    with pytest.raises(SchemaOutdated) as light:
        read.check_schema_version(empty_engine)
    assert str(light.value) == str(heavy.value)
    if empty_engine.dialect.name == "sqlite":
        url = empty_engine.url.render_as_string()
        with open_reader(url) as reader, pytest.raises(SchemaOutdated) as stdlib:
            read.check_schema_version(reader)
        assert str(stdlib.value) == str(heavy.value)


def test_schema_check_passes_at_head(engine: Engine) -> None:
    migrate.check_schema(engine)
    read.check_schema_version(engine)
    assert read.schema_revision(engine) == SCHEMA_HEAD


# --------------------------------------------------------------------------------------------
# Errors, URLs, imports


def test_stdlib_errors_read_like_sqlalchemy_ones(empty_engine: Engine, tmp_path: Path) -> None:
    if empty_engine.dialect.name != "sqlite":
        pytest.skip("the stdlib driver is SQLite only")
    url = empty_engine.url.render_as_string()
    with pytest.raises(StoreError) as heavy:
        store.query_offer_records(empty_engine, OfferQuery())
    with open_reader(url) as reader, pytest.raises(StoreError) as light:
        store.query_offer_records(reader, OfferQuery())
    assert str(light.value) == str(heavy.value)
    assert "querying offers failed on the database at sqlite:///" in str(light.value)
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(StoreError, match="opening the store failed"), open_reader(missing):
        pass
    assert not (tmp_path / "missing.db").exists()


def test_sqlite_paths_follow_sqlalchemy_urls() -> None:
    assert sqlite_path("sqlite:///rel/x.db") == "rel/x.db"
    assert sqlite_path("sqlite:////abs/x.db") == "/abs/x.db"
    assert sqlite_path("sqlite+pysqlite:////abs/x%20y.db") == "/abs/x y.db"
    assert sqlite_path("sqlite://") == ":memory:"
    assert sqlite_path("postgresql+psycopg://u@h/db") is None


def test_a_stdlib_reader_reads_one_snapshot(filled: Engine) -> None:
    if filled.dialect.name != "sqlite":
        pytest.skip("the stdlib driver is SQLite only")
    with open_reader(filled.url.render_as_string()) as reader:
        before = store.data_version(reader)
        save_offers(filled, CATALOG[:3], now=LATER + timedelta(hours=1))  # a sync meanwhile
        assert store.data_version(reader) == before
    assert store.data_version(filled) > before


def test_the_light_modules_import_no_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "import db.reader, db.read, db.offer_sql, db.offer_cache, db.schema_head\n"
        "import aggregator.offer_query, aggregator.planner.from_store\n"
        "assert 'sqlalchemy' not in sys.modules, [m for m in sys.modules if 'sqlalchemy' in m]\n"
        "assert 'alembic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_offer_columns_are_the_tables() -> None:
    stored = {c.name for c in offers_table.columns} - {"price_per_gpu_hour", "interruptible"}
    assert set(read.OFFER_COLUMNS) == stored


def test_a_fresh_store_file_reads_through_make_engine_and_open_reader(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        save_offers(engine, [build_offer()], now=NOW)
        with open_reader(url) as reader:
            assert store.query_offers(reader, OfferQuery()) == store.query_offers(
                engine, OfferQuery()
            )
    finally:
        engine.dispose()
