"""Real packages and repositories for the importer's tests: exported once per session, copied per test.

``packages`` exports one small project (``execute: False``: no kernel, about a second) as a folder and as
a deterministic zip, a second version of it (one file changed) and a version with a restricted input.
``fingerprint`` is what "byte-identical before and after" compares: every entry's mode, and every file's
bytes, the catalog's ``-wal``/``-shm`` included.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.export import export_project
from repropack.model import Person, ReplayedPackage
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import generate_key_pair
from repropack.repository.opened import Repository, init_repository
from repropack.repository.policy import Policy
from tests.conftest import isolate_user_dirs, make_project
from tests.samples import sample_replay_result

#: Profile validation takes a second a package; admission's own tests cover it.
FAST_POLICY = Policy(profiles="off")


@dataclass(frozen=True)
class Packages:
    folder: Path  # version 1 as a folder
    zip: Path  # version 1 as the deterministic zip (same content as the folder)
    second: Path  # version 2 (notes.md changed), a zip
    restricted: Path  # another work, with data/input.csv restricted, a folder


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> Packages:
    base = tmp_path_factory.mktemp("importer-packages")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        project = make_project(base / "study")
        export_project(project, base / "v1", {"execute": False})
        export_project(project, base / "v1.crate.zip", {"execute": False})
        (project / "notes.md").write_text("# notes\nrevised\n")
        export_project(project, base / "v2.crate.zip", {"execute": False})
        other = make_project(base / "secret")
        (other / "repropack.toml").write_text(
            (other / "repropack.toml").read_text().replace('title = "Study"', 'title = "Secret study"')
        )
        export_project(other, base / "restricted", {"execute": False, "restrict": ("data/input.csv",)})
    return Packages(base / "v1", base / "v1.crate.zip", base / "v2.crate.zip", base / "restricted")


@pytest.fixture
def repository(tmp_path: Path, catalog_url: str):
    """A new repository in ``tmp_path/repo`` whose catalog is ``catalog_url`` (SQLite file or PostgreSQL)."""
    init_repository(tmp_path / "repo", catalog_url)
    with Repository.open(tmp_path / "repo") as opened:
        yield opened


def copied(source: Path, target: Path) -> Path:
    if source.is_dir():
        return Path(shutil.copytree(source, target))
    return Path(shutil.copy2(source, target))


def fingerprint(root: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``root``: its mode and, for a regular file, the sha256 of its bytes."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            st = os.lstat(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            found[str(path.relative_to(root))] = (st.st_mode, digest)
    return found


def signed_record(folder: Path, metadata_sha256: str, key_folder: Path) -> Path:
    """A real signed governed-run record (not reproduced) of the package whose metadata has ``metadata_sha256``."""
    pair = generate_key_pair(key_folder)
    result = sample_replay_result(package=ReplayedPackage(Path("/data/study.crate.zip"), "Study", metadata_sha256))
    result = dataclasses.replace(result, record=folder)
    return write_governed_run(result, folder, operator=Person("Ada"), key=pair.private_path)
