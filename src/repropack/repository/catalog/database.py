"""Opening a catalog: one engine per URL, SQLite tuned for many readers and one writer at a time.

SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, foreign keys on, and
write transactions begun ``IMMEDIATE``, so two importers queue for the write lock at the start of their
transactions instead of failing half-way with "database is locked". PostgreSQL needs none of that.

The schema is Alembic's (``migrations/``): ``upgrade_catalog`` brings a catalog to the newest revision
(``repository init`` calls it); ``open_catalog`` refuses a catalog at another revision rather than
reading or writing tables it does not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from repropack.errors import BadInput, CannotRun

MIGRATIONS = Path(__file__).parent / "migrations"
_BUSY_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Catalog:
    """An open catalog. ``session()`` reads; ``session(write=True)`` holds the write lock from its start."""

    url: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back when it raises."""
        bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if write else self.engine
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def create_catalog_engine(url: str) -> Engine:
    """An engine for ``url`` (BadInput, one line, for a URL SQLAlchemy cannot use)."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"isolation_level": None, "timeout": _BUSY_TIMEOUT_MS / 1000})
            _tune_sqlite(engine)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as error:
        raise BadInput(f"catalog URL {shown_url(url)}: {error}") from None


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; WAL keeps it consistent
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    # The driver runs in autocommit (isolation_level=None) so that the transaction begins here, the way we ask.
    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest schema revision this repropack knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The revision a catalog is at; None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def upgrade_catalog(url: str) -> str:
    """Create or migrate the catalog at ``url`` to the newest revision; returns that revision."""
    from alembic import command

    engine = create_catalog_engine(url)
    try:
        with engine.connect() as connection:
            config = _alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    except OperationalError as error:
        raise CannotRun(f"cannot reach the catalog {shown_url(url)}: {_first_line(error)}") from None
    finally:
        engine.dispose()
    return head_revision()


def open_catalog(url: str) -> Catalog:
    """The catalog at ``url``, which must be at the newest revision (CannotRun naming the fix otherwise)."""
    engine = create_catalog_engine(url)
    try:
        found = current_revision(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise CannotRun(f"cannot reach the catalog {shown_url(url)}: {_first_line(error)}") from None
    head = head_revision()
    if found != head:
        engine.dispose()
        state = "is empty" if found is None else f"is at schema revision {found}, this repropack needs {head}"
        raise CannotRun(f"catalog {shown_url(url)} {state}: run 'repropack repository init' to create or upgrade it")
    return Catalog(url, engine)


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]
