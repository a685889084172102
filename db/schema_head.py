"""The schema revision this gpuhours needs, without importing Alembic.

The light read path (:func:`db.read.check_schema_version`) compares the database's
``alembic_version`` with these constants instead of loading the migration scripts, which
costs SQLAlchemy's and Alembic's import time. A test holds them equal to what
:mod:`db.migrate` reads from the scripts, so a new migration without an update here fails it.
"""

from __future__ import annotations

__all__ = ["KNOWN_REVISIONS", "SCHEMA_HEAD"]

SCHEMA_HEAD = "0007"
"""The head revision of ``db/migrations`` (:func:`db.migrate.head_revision`)."""

KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
"""Every revision of ``db/migrations``, oldest first: a database at any other one was
upgraded by a newer gpuhours."""
