"""Fixtures: every store test runs on SQLite and on the real PostgreSQL server.

``MEMETRACK_TEST_DATABASES`` (default ``sqlite,postgresql``) chooses the backends;
``MEMETRACK_TEST_POSTGRES_URL`` points at the server (default: the local one, database ``test``).
Each PostgreSQL test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from memetrack.config import Settings
from memetrack.pipeline import Memetrack
from memetrack.store import Store

PG_URL = os.environ.get("MEMETRACK_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [b.strip() for b in os.environ.get("MEMETRACK_TEST_DATABASES",
                                              "sqlite,postgresql").split(",") if b.strip()]


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({exc.orig}); start it, or set "
                    "MEMETRACK_TEST_DATABASES=sqlite to test SQLite only", pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    engine = request.getfixturevalue("pg_engine")
    schema = f"mt_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, workers=1)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings.resolved_database_url)
    s.upgrade()
    yield s
    s.close()


@pytest.fixture
def core(settings: Settings, store: Store) -> Iterator[Memetrack]:
    app = Memetrack(settings, store)
    app.load_indexes()
    yield app
