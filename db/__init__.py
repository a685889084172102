"""Storage: SQLModel tables, engine, repository functions and Alembic migrations."""
