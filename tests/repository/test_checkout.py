"""Checking packages out of a real repository: hash-equal files, the byte-identical zip, and what is refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from repropack.crate.check import check_files
from repropack.crate.reader import open_package
from repropack.errors import BadInput, CannotRun
from repropack.fs.archive import write_deterministic_zip, zip_date_time
from repropack.repository.catalog.tables import FileRow
from repropack.repository.checkout import checkout
from repropack.repository.importer import import_package
from tests.repository.builders import FAST_POLICY, copied, fingerprint, packages, repository

__all__ = ["packages", "repository"]  # fixtures


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_folder_checkout_is_the_package_file_for_file(repository, packages, tmp_path):
    done = import_package(repository, packages.folder, FAST_POLICY, "op")
    out = checkout(repository, done.public_id, tmp_path / "out")

    assert _files(tmp_path / "out") == _files(packages.folder)
    assert (out.files_written, out.restricted, out.zip_sha256) == (len(_files(packages.folder)), (), None)
    with open_package(tmp_path / "out") as opened:
        assert check_files(opened)[0] == []


def test_a_zip_checkout_is_byte_identical_to_the_imported_zip(repository, packages, tmp_path):
    done = import_package(repository, packages.zip, FAST_POLICY, "op")
    out = checkout(repository, f"{done.public_id}@1", tmp_path / "again.crate.zip")

    assert out.same_as_imported is True
    assert hashlib.sha256((tmp_path / "again.crate.zip").read_bytes()).hexdigest() == out.zip_sha256


def test_each_version_checks_out_as_it_was(repository, packages, tmp_path):
    first = import_package(repository, packages.zip, FAST_POLICY, "op")
    import_package(repository, packages.second, FAST_POLICY, "op")

    assert checkout(repository, f"{first.public_id}@1", tmp_path / "v1.zip").same_as_imported is True
    assert checkout(repository, first.public_id, tmp_path / "v2.zip").zip_sha256 == (
        hashlib.sha256(packages.second.read_bytes()).hexdigest()
    )
    with pytest.raises(BadInput, match="no such version"):
        checkout(repository, f"{first.public_id}@3", tmp_path / "v3")
    with pytest.raises(BadInput, match="no such package"):
        checkout(repository, "pkg-000000000000", tmp_path / "none")
    with pytest.raises(BadInput, match="not a package reference"):
        checkout(repository, "../etc@x", tmp_path / "none")


def test_restricted_files_are_listed_not_written(repository, packages, tmp_path):
    done = import_package(repository, packages.restricted, FAST_POLICY, "op")
    out = checkout(repository, done.public_id, tmp_path / "out")
    assert out.restricted == ("data/input.csv",)
    assert not (tmp_path / "out" / "data" / "input.csv").exists()


def test_an_existing_output_is_refused_and_kept(repository, packages, tmp_path):
    done = import_package(repository, packages.folder, FAST_POLICY, "op")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("mine")
    before = fingerprint(tmp_path / "taken")
    with pytest.raises(BadInput, match="already exists"):
        checkout(repository, done.public_id, tmp_path / "taken")
    assert fingerprint(tmp_path / "taken") == before


def test_a_damaged_blob_fails_the_checkout_and_leaves_no_output(repository, packages, tmp_path):
    done = import_package(repository, packages.folder, FAST_POLICY, "op")
    blob = repository.store.path_of(hashlib.sha256((packages.folder / "notes.md").read_bytes()).hexdigest())
    os.chmod(blob, 0o644)
    blob.write_bytes(b"# NOTES\n")

    with pytest.raises(CannotRun, match="damaged"):
        checkout(repository, done.public_id, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_package_exports_as_a_bag_and_as_an_rdm_project_both_readable_again(repository, packages, tmp_path):
    from repropack.crate.bagit_bag import open_bag
    from repropack.repository.exports import export_bag, export_rdm

    done = import_package(repository, packages.folder, FAST_POLICY, "op")

    bag = export_bag(repository, done.public_id, tmp_path / "bag", layout="weko")
    contents = open_bag(bag)
    assert contents.layout == "weko" and contents.external_identifier == f"{done.public_id}@1"
    assert _files(contents.crate_root) == _files(packages.folder)
    back = import_package(repository, bag, FAST_POLICY, "op")
    assert (back.outcome, back.public_id, back.version) == ("unchanged", done.public_id, 1)  # the same files

    project = export_rdm(repository, done.public_id, tmp_path / "claims.rdm-project.zip")
    again = import_package(repository, project, FAST_POLICY, "op")
    # The same work (title and first author) in RDM's layout: other content, so its next version.
    assert (again.outcome, again.public_id, again.version, again.title) == ("new-version", done.public_id, 2, "Study")


def test_an_executable_file_checks_out_executable_and_its_zip_is_the_imported_zip(repository, packages, tmp_path):
    folder = copied(packages.folder, tmp_path / "tool")
    (folder / "notes.md").chmod(0o755)  # the mode is not in the metadata: only the zip entry's unix mode says it
    imported = tmp_path / "tool.crate.zip"
    write_deterministic_zip(folder, imported, date_time=zip_date_time(1700000000))
    done = import_package(repository, imported, FAST_POLICY, "op")

    zipped = checkout(repository, done.public_id, tmp_path / "again.crate.zip")
    unzipped = checkout(repository, done.public_id, tmp_path / "out")

    assert zipped.same_as_imported is True
    modes = {p.relative_to(unzipped.out).as_posix(): p.stat().st_mode & 0o111 for p in unzipped.out.rglob("*.md")}
    assert modes["notes.md"] != 0 and not any(mode for path, mode in modes.items() if path != "notes.md")
    with repository.catalog.session() as session:
        flagged = session.execute(select(FileRow.path).where(FileRow.executable.is_(True))).scalars().all()
    assert flagged == ["notes.md"]
