"""The catalog's database: created by Alembic, refused at another revision, SQLite in WAL with queued writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from repropack.errors import BadInput, CannotRun
from repropack.repository.catalog.database import head_revision, open_catalog, upgrade_catalog


def test_upgrade_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert upgrade_catalog(url) == head_revision() == "0002"
    assert upgrade_catalog(url) == "0002"
    catalog = open_catalog(url)
    with catalog.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    catalog.close()


def test_an_empty_or_older_catalog_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    with pytest.raises(CannotRun, match="is empty: run 'repropack repository init'"):
        open_catalog(url)
    upgrade_catalog(url)
    catalog = open_catalog(url)
    with catalog.session(write=True) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    catalog.close()
    with pytest.raises(CannotRun, match="schema revision 0000, this repropack needs 0002"):
        open_catalog(url)


def test_an_unusable_url_is_one_line_without_the_password() -> None:
    with pytest.raises(BadInput, match="catalog URL"):
        open_catalog("nosuchdialect://x")
    with pytest.raises(CannotRun) as caught:
        open_catalog("postgresql+psycopg://user:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    upgrade_catalog(url)
    catalog = open_catalog(url)
    with pytest.raises(RuntimeError), catalog.session(write=True) as session:
        session.execute(text("INSERT INTO blobs (sha256, size) VALUES ('a', 1)"))
        raise RuntimeError("half-way")
    with catalog.session() as session:
        assert session.execute(text("SELECT count(*) FROM blobs")).scalar_one() == 0


def test_two_writers_queue_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    upgrade_catalog(url)
    catalogs = [open_catalog(url), open_catalog(url)]
    errors: list[BaseException] = []

    def write(catalog, start: int) -> None:
        try:
            for n in range(start, start + 50):
                with catalog.session(write=True) as session:
                    count = session.execute(text("SELECT count(*) FROM blobs")).scalar_one()
                    session.execute(text("INSERT INTO blobs (sha256, size) VALUES (:s, :n)"), {"s": str(n), "n": count})
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(c, i * 100)) for i, c in enumerate(catalogs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with catalogs[0].session() as session:
        sizes = sorted(session.execute(text("SELECT size FROM blobs")).scalars())
    assert sizes == list(range(100))  # each writer saw the other's commits: no lost update


def test_search_text_is_indexed_by_the_triggers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    upgrade_catalog(url)
    catalog = open_catalog(url)
    with catalog.session(write=True) as session:
        session.execute(
            text("INSERT INTO packages (id, public_id, key, created_at) VALUES (1, 'pkg-1', 'k', '2026-01-01')")
        )
        session.execute(
            text(
                "INSERT INTO versions (id, package_id, number, content_digest, format, title, description, tool_version,"
                " metadata_sha256, source_name, file_count, total_bytes, imported_at, search_text) VALUES"
                " (7, 1, 1, 'd', 'repropack', 't', '', '', 'm', 's', 0, 0, '2026-01-01', 'Claims in Hokkaidō')"
            )
        )
    with catalog.session() as session:
        hits = session.execute(text("SELECT rowid FROM version_search WHERE version_search MATCH 'hokkaido'")).all()
    assert hits == [(7,)]


def test_one_migration_makes_the_same_tables_on_sqlite_and_postgresql(catalog_url: str) -> None:
    from sqlalchemy import inspect

    from repropack.repository.catalog.tables import Base

    assert upgrade_catalog(catalog_url) == upgrade_catalog(catalog_url) == head_revision()
    catalog = open_catalog(catalog_url)
    try:
        with catalog.engine.connect() as connection:
            found = set(inspect(connection).get_table_names())
            columns = {t: {c["name"] for c in inspect(connection).get_columns(t)} for t in Base.metadata.tables}
    finally:
        catalog.close()
    assert set(Base.metadata.tables) <= found
    for name, table in Base.metadata.tables.items():
        assert {c.name for c in table.columns} <= columns[name], name
    with pytest.raises(RuntimeError), catalog.session(write=True) as session:
        session.execute(text("INSERT INTO blobs (sha256, size) VALUES ('a', 1)"))
        raise RuntimeError("half-way")
    with catalog.session() as session:
        assert session.execute(text("SELECT count(*) FROM blobs")).scalar_one() == 0
