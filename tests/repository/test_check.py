"""``repository check`` on a real repository: each kind of damage is one problem line; leftovers are notes."""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import delete, select, update

from repropack.fs.stale import this_host
from repropack.repository.catalog.tables import BlobRow, PackageRow, VersionRow
from repropack.repository.check import check_repository
from repropack.repository.importer import import_package
from tests.repository.builders import FAST_POLICY, packages, repository

__all__ = ["packages", "repository"]  # fixtures


def _notes_sha256(packages) -> str:
    return hashlib.sha256((packages.folder / "notes.md").read_bytes()).hexdigest()


def test_an_intact_repository_passes(repository, packages):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    report = check_repository(repository)
    assert report.ok and report.problems == () and report.notes == ()
    assert report.blobs_checked == len(set(repository.store.blobs()))


def test_a_changed_and_a_missing_blob_are_each_a_problem(repository, packages):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    notes = repository.store.path_of(_notes_sha256(packages))
    os.chmod(notes, 0o644)
    notes.write_bytes(b"# NOTES\n")
    gone = hashlib.sha256((packages.folder / "data" / "input.csv").read_bytes()).hexdigest()
    repository.store.path_of(gone).unlink()

    report = check_repository(repository)

    assert not report.ok and report.exit_code == 1
    assert len(report.problems) == 2
    assert any(_notes_sha256(packages) in p and "hash to" in p for p in report.problems)
    assert any(gone in p and "missing" in p for p in report.problems)
    assert all("\n" not in p for p in report.problems)


def test_a_file_whose_blob_is_not_catalogued_is_a_problem(repository, packages):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    with repository.catalog.session(write=True) as session:
        session.execute(delete(BlobRow).where(BlobRow.sha256 == _notes_sha256(packages)))

    report = check_repository(repository)

    assert [p for p in report.problems if "'notes.md'" in p and "not in the catalog's blobs" in p]
    assert any("stored but not catalogued" in n for n in report.notes)  # the blob is still in the store


def test_an_interrupted_imports_leftovers_are_notes_and_dead_staging_is_swept(repository, packages, tmp_path):
    extra = tmp_path / "extra.bin"
    extra.write_bytes(b"left by a killed import")
    repository.store.put(extra, hashlib.sha256(extra.read_bytes()).hexdigest(), extra.stat().st_size)
    repository.location.staging.mkdir(exist_ok=True)
    dead = repository.location.staging / f"{this_host()}.999999999.1.abcdef"  # its writer's pid is no process
    dead.write_bytes(b"half a blob")

    report = check_repository(repository)

    assert report.ok
    assert any("1 blob(s) stored but not catalogued" in n for n in report.notes)
    assert any("removed 1 staging file(s)" in n for n in report.notes) and not dead.exists()


def test_a_version_whose_latest_flag_or_newest_verdict_disagrees_with_the_rows_is_a_problem_each(repository, packages):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    with repository.catalog.session(write=True) as session:
        session.execute(update(VersionRow).values(is_latest=False, newest_verdict="reproduced"))
        public_id = session.scalars(select(PackageRow.public_id)).one()

    report = check_repository(repository)

    assert report.problems == (
        f"{public_id}@1: versions.is_latest is False, but it is the latest version of its package",
        f"{public_id}@1: versions.newest_verdict is 'reproduced', but its newest governed run says None",
    )
