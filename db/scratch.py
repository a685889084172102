"""Throw-away PostgreSQL schemas for tests and benchmarks sharing one database.

Several test runs, benchmarks and developers may use the same PostgreSQL database at once;
each gets its own schema (selected through ``search_path`` in the URL it is handed), dropped
again afterwards, so none can see or break another's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from db.engine import normalize_url

__all__ = ["scratch_schema"]


@contextmanager
def scratch_schema(url: str, *, prefix: str = "gh_scratch") -> Iterator[str]:
    """Create an empty schema, yield a URL whose connections use it, then drop it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        scoped = make_url(normalize_url(url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
