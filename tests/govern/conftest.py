"""Fixtures for govern's tests: three real packages exported once per session, a repository holding them, and a
virtualenv cache every local-backend replay of the session shares (the first replay builds it, ~20 s; then a
replay takes a few seconds).

- ``govern_packages`` (session): ``GovernPackages``, three exported zips, each its own work, and the verdict a
  replay of each gives: ``reproduced`` (exported running its notebook), ``not_reproduced`` (exported without
  running it: the outputs it makes were never recorded), ``failed`` (a cell raises: "cell error").
- ``replay_cache``: points ``REPROPACK_CACHE_DIR`` at the session's shared cache (use it in any test replaying on
  the local backend); returns the folder.
- ``govern_repository``: a new repository (SQLite catalog in ``tmp_path/repo``) holding the three packages, as a
  ``GovernedRepository`` (the open ``Repository``, title -> public id, and the versions as selected).
- ``govern_repository_on``: the same on both catalogs (SQLite and PostgreSQL, ``catalog_url``).
- ``catalog_url`` and ``postgres_url`` are tests/repository's own.

Helpers: ``make_policy(name, inputs=, select_=, **replay)`` (a Policy replaying on the local backend unless told),
``selected_versions(repository)`` (every version as a selection gives it), ``governed_repository(root, packages,
catalog)`` (the repository fixtures' builder, for a test's own root or catalog).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from repropack.export import export_project
from repropack.model.governance import InputsSource, Policy, ReplayOptions, Selection
from repropack.repository.catalog.tables import PackageRow, VersionRow
from repropack.repository.importer import import_package
from repropack.repository.opened import Repository, init_repository
from repropack.repository.selection import SelectedVersion
from tests.conftest import isolate_user_dirs, make_project, write_notebook
from tests.repository.builders import FAST_POLICY
from tests.repository.conftest import catalog_url, postgres_url  # noqa: F401  (fixtures, shared)

REPRODUCED = "Reproducing study"
NOT_REPRODUCED = "Unrecorded study"
FAILED = "Failing study"


@dataclass(frozen=True)
class GovernPackages:
    reproduced: Path  # a zip whose replay reproduces
    not_reproduced: Path  # a zip exported without running: its outputs differ from none recorded
    failed: Path  # a zip whose notebook raises: failed, "cell error"
    cache: Path  # the session's shared REPROPACK_CACHE_DIR

    @property
    def by_title(self) -> dict[str, Path]:
        return {REPRODUCED: self.reproduced, NOT_REPRODUCED: self.not_reproduced, FAILED: self.failed}


@dataclass(frozen=True)
class GovernedRepository:
    repository: Repository
    ids: dict[str, str]  # title -> public id
    selected: tuple[SelectedVersion, ...]  # every version, ordered by public id

    def version_of(self, title: str) -> SelectedVersion:
        (found,) = [s for s in self.selected if s.public_id == self.ids[title]]
        return found


def _titled(project: Path, title: str) -> Path:
    config = project / "repropack.toml"
    config.write_text(config.read_text().replace('title = "Study"', f'title = "{title}"'))
    return project


@pytest.fixture(scope="session")
def govern_packages(tmp_path_factory) -> GovernPackages:
    base = tmp_path_factory.mktemp("govern-packages")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        reproduced = _titled(make_project(base / "reproduced"), REPRODUCED)
        export_project(reproduced, base / "reproduced.crate.zip", {})
        unrecorded = _titled(make_project(base / "unrecorded"), NOT_REPRODUCED)
        export_project(unrecorded, base / "unrecorded.crate.zip", {"execute": False})
        failing = _titled(make_project(base / "failing"), FAILED)
        write_notebook(failing / "analysis.ipynb", "print('before')", "raise RuntimeError('deliberate failure')")
        export_project(failing, base / "failing.crate.zip", {"execute": False})
    cache = base / "cache"
    cache.mkdir()
    return GovernPackages(
        base / "reproduced.crate.zip", base / "unrecorded.crate.zip", base / "failing.crate.zip", cache
    )


@pytest.fixture
def replay_cache(govern_packages: GovernPackages, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REPROPACK_CACHE_DIR", str(govern_packages.cache))
    return govern_packages.cache


def selected_versions(repository: Repository) -> tuple[SelectedVersion, ...]:
    """Every version the repository holds, as a selection gives them (by public id, then version)."""
    with repository.catalog.session() as session:
        rows = session.execute(
            select(VersionRow.id, PackageRow.public_id, VersionRow.number, VersionRow.title, VersionRow.content_digest)
            .join(VersionRow.package)
            .order_by(PackageRow.public_id, VersionRow.number)
        ).all()
    return tuple(SelectedVersion(*row) for row in rows)


def governed_repository(root: Path, packages: GovernPackages, catalog: str | None = None) -> GovernedRepository:
    """A new repository at ``root`` holding ``packages`` (open: the caller closes it)."""
    init_repository(root, catalog)
    repository = Repository.open(root)
    ids = {}
    for title, package in packages.by_title.items():
        outcome = import_package(repository, package, FAST_POLICY, "tester")
        assert outcome.outcome == "imported", outcome
        ids[title] = outcome.public_id
    return GovernedRepository(repository, ids, selected_versions(repository))


@pytest.fixture
def govern_repository(tmp_path: Path, govern_packages: GovernPackages) -> Iterator[GovernedRepository]:
    governed = governed_repository(tmp_path / "repo", govern_packages)
    yield governed
    governed.repository.close()


@pytest.fixture
def govern_repository_on(
    tmp_path: Path,
    govern_packages: GovernPackages,
    catalog_url: str,  # noqa: F811
) -> Iterator[GovernedRepository]:
    governed = governed_repository(tmp_path / "repo", govern_packages, catalog_url)
    yield governed
    governed.repository.close()


def make_policy(
    name: str = "nightly",
    *,
    source: Path | None = None,
    inputs: InputsSource | None = None,
    select_: Selection | None = None,
    **replay,
) -> Policy:
    """A policy as ``load_policy`` would give it: ``replay`` holds ReplayOptions' values (backend "local" unless
    given), ``workers`` 1 and ``retries`` 1 unless given there too."""
    workers = replay.pop("workers", 1)
    retries = replay.pop("retries", 1)
    options = ReplayOptions(**{"backend": "local", **replay})
    text = f"{name} {options}".encode()
    return Policy(
        name=name,
        source=source or Path(f"/policies/{name}.toml"),
        sha256=hashlib.sha256(text).hexdigest(),
        select=select_ or Selection(),
        replay=options,
        workers=workers,
        retries=retries,
        inputs=inputs or InputsSource(),
    )
