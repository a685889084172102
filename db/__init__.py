"""Storage: SQLModel tables, engine, repository functions and Alembic migrations.

- :mod:`db.engine`: ``make_engine`` (SQLite default, PostgreSQL by URL), ``redacted_url``;
- :mod:`db.tables`: the four tables (``offers``, ``price_history``, ``sync_runs``,
  ``feed_state``);
- :mod:`db.migrate`: ``upgrade``, ``check_schema`` and friends (migrations ship in
  ``db/migrations``);
- :mod:`db.store`: every read and write the rest of gpuhours does (``apply_snapshot``,
  ``query_offers`` ...).
"""
