"""Alembic migrations of the memetrack store (shipped inside the package)."""
