"""Benchmark `repropack import`: 1,000 small packages into a new repository, in packages per second.

The packages are built by code once and reused ($REPROPACK_BENCH_DIR/import-packages-N): one small project
(a notebook, a CSV, notes; no kernel run) exported with repropack, then copied N times with a different title,
notes and keyword, each copy's metadata updated to match (so each is its own work, intact and valid). Each
case imports all of them, one `import_package` call per package in one process (what `repropack import
A B C...` does), into a fresh repository: SQLite with the profile check off (the importer's own cost), SQLite
with the default policy (roc-validator on every package), and PostgreSQL with the profile check off.
Goal: >= 50 packages/s on SQLite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from repropack.repository.importer import import_package
from repropack.repository.opened import Repository, init_repository
from repropack.repository.policy import Policy

GOAL_PER_SECOND = 50.0
BUILD_VERSION = 1  # bump when the packages' recipe changes
PROJECT_TOML = (
    'title = "Study"\ndescription = "A small study of counts per group."\nlicense = "MIT"\n'
    '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
)
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
         "source": "import csv\nrows = list(csv.DictReader(open('data/input.csv')))\nprint(len(rows))"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--validated", type=int, default=50, help="packages imported with the default policy")
    parser.add_argument("--postgres", help="server URL (default: what scripts/postgres.sh prints)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    bench_dir = Path(os.environ.get("REPROPACK_BENCH_DIR", Path(tempfile.gettempdir()) / "repropack-bench"))
    sources = ensure_packages(bench_dir / f"import-packages-{args.packages}", args.packages)
    cases = [("SQLite, profile check off", "sqlite", Policy(profiles="off"), sources)]
    if args.validated:
        cases.append(("SQLite, default policy", "sqlite", None, sources[: args.validated]))
    if not args.no_postgres:
        cases.append(
            ("PostgreSQL, profile check off", args.postgres or postgres_server(), Policy(profiles="off"), sources)
        )
    print(f"{len(sources)} packages of {package_files(sources[0])} files each, built once in {sources[0].parent}")
    print(f"{'case':<32} {'packages':>8} {'seconds':>8} {'per s':>7}  notes")
    for name, catalog, policy, chosen in cases:
        seconds = import_all(bench_dir, catalog, policy, chosen)
        rate = len(chosen) / seconds
        notes = "roc-validator on every package"
        if policy is not None:
            notes = f"goal >= {GOAL_PER_SECOND:.0f}/s: {'met' if rate >= GOAL_PER_SECOND else 'MISSED'}"
        print(f"{name:<32} {len(chosen):>8} {seconds:>8.2f} {rate:>7.1f}  {notes}")
    return 0


def import_all(bench_dir: Path, catalog: str, policy: Policy | None, sources: list[Path]) -> float:
    """Seconds to import ``sources`` into a new repository (its catalog a new SQLite file or PG database)."""
    with tempfile.TemporaryDirectory(dir=bench_dir) as scratch:
        root = Path(scratch) / "repo"
        url = None if catalog == "sqlite" else fresh_postgres_database(catalog)
        init_repository(root, url)
        with Repository.open(root) as repository:
            chosen = policy or repository.policy()
            started = time.perf_counter()
            for source in sources:
                outcome = import_package(repository, source, chosen, "bench")
                if outcome.outcome != "imported":
                    raise SystemExit(f"{source}: {outcome.outcome}, expected a new package")
            return time.perf_counter() - started


def fresh_postgres_database(server: str) -> str:
    import psycopg

    name = "bench_import"
    libpq = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def postgres_server() -> str:
    script = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
    return subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout.strip()


def ensure_packages(folder: Path, count: int) -> list[Path]:
    """``count`` distinct small packages under ``folder``, built only when missing or from another recipe."""
    stamp = folder / "built.json"
    wanted = json.dumps({"count": count, "version": BUILD_VERSION})
    paths = [folder / f"p{n:05d}" for n in range(count)]
    if stamp.is_file() and stamp.read_text() == wanted and all(p.is_dir() for p in paths):
        return paths
    print(f"building {count} packages in {folder} ...", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    base = export_base(folder / "base")
    for n, path in enumerate(paths):
        shutil.copytree(base, path)
        vary(path, n)
    stamp.write_text(wanted)
    return paths


def export_base(out: Path) -> Path:
    """One exported package (no kernel run), made in an isolated home so no user setting or cache leaks in."""
    from repropack.export import export_project

    project = out.parent / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "input.csv").write_text("id,group\n1,a\n2,b\n3,a\n")
    (project / "notes.md").write_text("# notes\n")
    (project / "requirements.txt").write_text("# nothing needed\n")
    (project / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (project / "repropack.toml").write_text(PROJECT_TOML)
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "REPROPACK_CACHE_DIR", "SOURCE_DATE_EPOCH")}
    os.environ.update(XDG_CONFIG_HOME=str(out.parent / "home" / "config"),
                      REPROPACK_CACHE_DIR=str(out.parent / "home" / "cache"), SOURCE_DATE_EPOCH="1700000000")  # fmt: skip
    try:
        export_project(project, out, {"execute": False})
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out


def vary(package: Path, n: int) -> None:
    """Make the copy ``package`` its own work: another title, other notes, a keyword; metadata kept consistent."""
    notes = f"# notes\nvariant {n}\n".encode()
    (package / "notes.md").write_bytes(notes)
    meta_path = package / "ro-crate-metadata.json"
    meta = json.loads(meta_path.read_text())
    for entity in meta["@graph"]:
        if entity.get("@id") == "./":
            entity["name"] = f"Study {n} of counts per group"
            entity["keywords"] = [f"variant{n % 37}", "counts"]
        elif entity.get("@id") == "notes.md":
            entity["sha256"] = hashlib.sha256(notes).hexdigest()
            entity["contentSize"] = str(len(notes))
    meta_path.write_text(json.dumps(meta, indent=2))


def package_files(package: Path) -> int:
    return sum(1 for p in package.rglob("*") if p.is_file())


if __name__ == "__main__":
    sys.exit(main())
