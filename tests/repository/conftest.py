"""Fixtures for the repository's tests."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# --- Catalogs on SQLite and on PostgreSQL (H-search) ----------------------------------------------------------
# `catalog_url` runs a test on both catalogs: a SQLite file in tmp_path and a fresh PostgreSQL database on the
# server scripts/postgres.sh starts (scripts/test.sh passes its URL in REPROPACK_TEST_POSTGRES), dropped after
# the test. `catalog` is the same, migrated to the newest revision and open. `postgres_url` is PostgreSQL only.
# Tests outside this folder (or subprocesses) get a database with `postgres_database()`. A server that does not
# answer fails the test under CI=true and skips it elsewhere, as `docker_engine` does for the engine.

POSTGRES_SERVER_URL = os.environ.get(
    "REPROPACK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
)


def _libpq_url(url: str) -> str:
    """``url`` as psycopg's own connect() takes it (without SQLAlchemy's driver suffix)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def _postgres_problem() -> str | None:
    """Why the test server cannot be used (asked once per test process), or None when it answers."""
    import psycopg

    try:
        with psycopg.connect(_libpq_url(POSTGRES_SERVER_URL), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"needs the PostgreSQL test server (bash scripts/postgres.sh) at {POSTGRES_SERVER_URL}: {first_line}"
    return None


def require_postgres() -> None:
    """Fail (under CI=true) or skip the calling test when the PostgreSQL test server does not answer."""
    problem = _postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database on the test server: its SQLAlchemy URL, dropped (connections and all) on exit."""
    import psycopg

    require_postgres()
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq_url(POSTGRES_SERVER_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(name)
    finally:
        with psycopg.connect(_libpq_url(POSTGRES_SERVER_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlalchemy_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_SERVER_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def catalog(catalog_url: str):
    """The catalog at ``catalog_url``, migrated to the newest revision and open; closed after the test."""
    from repropack.repository.catalog.database import open_catalog, upgrade_catalog

    upgrade_catalog(catalog_url)
    opened = open_catalog(catalog_url)
    yield opened
    opened.close()


# --- end of the catalog fixtures (H-search) -------------------------------------------------------------------
