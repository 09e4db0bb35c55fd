"""Benchmark catalog search latency on a synthetic catalog of 100,000 packages, on SQLite and on PostgreSQL.

Builds each catalog once with bench/catalog_build.py (a SQLite file in $REPROPACK_BENCH_DIR, a database
``bench_catalog_N`` on the server scripts/postgres.sh starts) and reuses it while it holds N packages with the
tables, columns and indexes the migrations make now. Then runs a fixed mix of varied queries (one word, two
words, three words of a title, author, keyword, DOI, ORCID, verdict with a word, a later page), each once to
warm up and once timed, through ``search()`` in one session per query as the CLI and the web view do, on one
pooled connection (so PostgreSQL's prepared statements and plan cache come into play as on a server). Prints
the engine's settings that bear on speed, then p50/p95/p99 per engine and kind. Goal: p95 < 50 ms on both.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from catalog_build import (  # beside this script: on sys.path when run as python bench/bench_search.py
    DEFAULT_PACKAGES,
    FAMILY,
    NOUNS,
    PLACES,
    VOCABULARY,
    build_catalog,
    default_sqlite_path,
)
from repropack.errors import CannotRun
from repropack.repository.catalog.database import open_catalog, upgrade_catalog
from repropack.repository.catalog.search import SearchQuery, search
from repropack.repository.catalog.tables import PackageRow, PersonRow, VersionRow

GOAL_P95_MS = 50.0
QUERY_SEED = 7


@dataclass(frozen=True)
class Timed:
    kind: str
    query: SearchQuery
    ms: float
    hits: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=DEFAULT_PACKAGES)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", help="server URL (default: what scripts/postgres.sh prints)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--slowest", type=int, default=0, help="also list the N slowest queries per engine")
    args = parser.parse_args()

    catalogs = {"sqlite": ensure_sqlite(args.packages)}
    if not args.no_postgres:
        catalogs["postgresql"] = ensure_postgres(args.postgres or postgres_server(), args.packages)

    print(f"catalog: {args.packages} packages; {args.queries} queries per engine, each warmed once, then timed once")
    for engine, url in catalogs.items():
        print(f"{engine}: {settings(url)}")
    rows: list[tuple[str, str, list[float], str]] = []
    for engine, url in catalogs.items():
        timings = run_queries(url, args.queries)
        by_kind: dict[str, list[float]] = defaultdict(list)
        for timed in timings:
            by_kind[timed.kind].append(timed.ms)
        every = [t.ms for t in timings]
        p95 = percentile(every, 95)
        rows.append(
            (engine, "all", every, f"goal p95 < {GOAL_P95_MS:.0f} ms: {'met' if p95 < GOAL_P95_MS else 'MISSED'}")
        )
        for kind, values in sorted(by_kind.items()):
            rows.append((engine, kind, values, ""))
        for timed in sorted(timings, key=lambda t: -t.ms)[: args.slowest]:
            print(f"  slow on {engine}: {timed.ms:7.1f} ms, {timed.hits} hits, {describe(timed.query)}")
    print_table(rows)
    return 0


def ensure_sqlite(packages: int) -> str:
    path = default_sqlite_path(packages)
    url = f"sqlite:///{path}"
    if path.exists():
        with tempfile.TemporaryDirectory() as scratch:
            newest = fresh_schema(f"sqlite:///{scratch}/catalog.sqlite")
        if holds(url, packages, newest):
            return url
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    build(url, packages)
    return url


def ensure_postgres(server: str, packages: int) -> str:
    name = f"bench_catalog_{packages}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    libpq = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            probe = f"{name}_schema"
            admin.execute(f'DROP DATABASE IF EXISTS "{probe}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{probe}"')
            try:
                newest = fresh_schema(make_url(url).set(database=probe).render_as_string(hide_password=False))
            finally:
                admin.execute(f'DROP DATABASE "{probe}" WITH (FORCE)')
            if holds(url, packages, newest):
                return url
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    build(url, packages)
    return url


def holds(url: str, packages: int, newest: dict[str, tuple]) -> bool:
    """The catalog at ``url`` has the ``newest`` schema and holds ``packages`` packages."""
    try:
        catalog = open_catalog(url)
    except CannotRun:
        return False
    try:
        if schema(catalog.engine) != newest:
            return False
        with catalog.session() as session:
            return session.scalar(select(func.count()).select_from(PackageRow)) == packages
    finally:
        catalog.close()


def fresh_schema(empty_url: str) -> dict[str, tuple]:
    """The schema the migrations make now, on an empty catalog at ``empty_url`` (of the engine to compare)."""
    upgrade_catalog(empty_url)
    catalog = open_catalog(empty_url)
    try:
        return schema(catalog.engine)
    finally:
        catalog.close()


def schema(engine: Engine) -> dict[str, tuple]:
    """Each table's columns and index names: the migration is edited in place before its release, so a cached
    catalog at the same revision may still lack an index, and would be timed without it."""
    inspector = inspect(engine)
    if engine.dialect.name == "sqlite":
        listing = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
    else:
        listing = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
    with engine.connect() as connection:
        indexes = sorted(tuple(row) for row in connection.execute(text(listing)))
    return {
        table: (
            tuple(sorted(column["name"] for column in inspector.get_columns(table))),
            tuple(name for owner, name in indexes if owner == table),
        )
        for table in inspector.get_table_names()
    }


def build(url: str, packages: int) -> None:
    print(f"building a catalog of {packages} packages at {url} ...", flush=True)
    stats = build_catalog(url, packages)
    print(f"  built in {stats.seconds:.1f} s: {stats.versions} versions, {stats.files} files", flush=True)


# What decides how fast a warm catalog answers, besides the queries: printed with every run.
PG_SETTINGS = ("shared_buffers", "effective_cache_size", "work_mem", "random_page_cost", "jit",
               "max_parallel_workers_per_gather")  # fmt: skip


def settings(url: str) -> str:
    catalog = open_catalog(url)
    try:
        with catalog.session() as session:
            if catalog.dialect == "sqlite":
                version = session.scalar(text("SELECT sqlite_version()"))
                cache = session.scalar(text("PRAGMA cache_size"))
                return f"SQLite {version}, cache_size {cache}, WAL"
            version = session.scalar(text("SHOW server_version"))
            shown = [f"{name}={session.scalar(text(f'SHOW {name}'))}" for name in PG_SETTINGS]
            return f"PostgreSQL {version}, " + " ".join(shown)
    finally:
        catalog.close()


def postgres_server() -> str:
    script = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
    return subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout.strip()


def query_mix(url: str, count: int) -> list[tuple[str, SearchQuery]]:
    """``count`` varied queries, fixed by a seed; DOIs and ORCIDs drawn from the catalog itself."""
    rng = random.Random(QUERY_SEED)
    catalog = open_catalog(url)
    try:
        with catalog.session() as session:
            dois = list(session.scalars(select(VersionRow.doi).where(VersionRow.doi.is_not(None)).limit(2000)))
            orcids = list(session.scalars(select(PersonRow.identifier).where(PersonRow.identifier != "").limit(2000)))
    finally:
        catalog.close()
    kinds = [
        ("one word", lambda: SearchQuery(text=rng.choice(VOCABULARY))),
        ("two words", lambda: SearchQuery(text=" ".join(rng.sample(VOCABULARY, 2)))),
        ("title words", lambda: SearchQuery(text=f"{rng.choice(NOUNS)} {rng.choice(PLACES)}")),
        ("author", lambda: SearchQuery(author=rng.choice(FAMILY))),
        ("author + word", lambda: SearchQuery(text=rng.choice(NOUNS), author=rng.choice(FAMILY))),
        ("keyword", lambda: SearchQuery(keyword=rng.choice(NOUNS))),
        ("keyword + word", lambda: SearchQuery(text=rng.choice(PLACES), keyword=rng.choice(NOUNS))),
        ("doi", lambda: SearchQuery(doi=rng.choice(dois).upper())),
        ("orcid", lambda: SearchQuery(author=rng.choice(orcids).rsplit("/", 1)[-1])),
        ("verdict + word", lambda: SearchQuery(text=rng.choice(NOUNS), verdict=rng.choice(["failed", "reproduced"]))),
        ("page 3", lambda: SearchQuery(text=rng.choice(VOCABULARY), offset=40)),
    ]
    return [(kind, make()) for kind, make in (kinds[i % len(kinds)] for i in range(count))]


def run_queries(url: str, count: int) -> list[Timed]:
    mix = query_mix(url, count)
    catalog = open_catalog(url)
    timings: list[Timed] = []
    try:
        for kind, query in mix:
            with catalog.session() as session:
                search(session, query)  # warm: pages cached, statement compiled
            with catalog.session() as session:
                started = time.perf_counter()
                hits = search(session, query)
                timings.append(Timed(kind, query, (time.perf_counter() - started) * 1000, len(hits)))
    finally:
        catalog.close()
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def describe(query: SearchQuery) -> str:
    parts = [f"{name}={value!r}" for name, value in vars(query).items() if value not in (None, "", 20, 0, False)]
    return ", ".join(parts)


def print_table(rows: list[tuple[str, str, list[float], str]]) -> None:
    print(f"{'engine':<11} {'queries':<15} {'n':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}  notes")
    for engine, kind, values, notes in rows:
        print(
            f"{engine:<11} {kind:<15} {len(values):>4} {statistics.median(values):>7.1f} {percentile(values, 95):>7.1f} "
            f"{percentile(values, 99):>7.1f} {max(values):>7.1f}  {notes}"
        )


if __name__ == "__main__":
    sys.exit(main())
