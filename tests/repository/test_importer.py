"""Importing real packages and records into a real repository, on SQLite and on PostgreSQL through the same code."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from repropack.errors import BadInput, CheckFailed
from repropack.repository.catalog.search import SearchQuery, search
from repropack.repository.catalog.tables import (
    BlobRow,
    FileRow,
    GovernedRunRow,
    ImportRow,
    PackageRow,
    PersonRow,
    VersionRow,
)
from repropack.repository.check import check_repository
from repropack.repository.importer import import_package, import_record, import_source
from repropack.repository.queries import package_view
from tests.repository.builders import FAST_POLICY, copied, fingerprint, packages, repository, signed_record

__all__ = ["packages", "repository"]  # fixtures


def _count(repository, table) -> int:
    with repository.catalog.session() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_package_is_stored_catalogued_and_found(repository, packages):
    done = import_package(repository, packages.folder, FAST_POLICY, "Olga Operator")

    assert (done.outcome, done.version, done.title) == ("imported", 1, "Study")
    assert done.public_id.startswith("pkg-") and len(done.public_id) == 16
    files = sorted(p.relative_to(packages.folder).as_posix() for p in packages.folder.rglob("*") if p.is_file())
    with repository.catalog.session() as session:
        view = package_view(session, done.public_id)
        hits = search(session, SearchQuery(text="study input csv"))
        imports = session.execute(select(ImportRow.outcome, ImportRow.operator)).all()
    assert [f.path for f in view.version.files] == files
    assert [a.name for a in view.version.authors] == ["Ada Example"]
    assert view.version.license and "MIT" in view.version.license
    assert [(h.public_id, h.version) for h in hits] == [(done.public_id, 1)]
    assert imports == [("imported", "Olga Operator")]
    assert done.files_stored == len(set(repository.store.blobs())) == _count(repository, BlobRow)
    for file in view.version.files:
        with repository.store.open(file.sha256) as blob:
            assert blob.read() == (packages.folder / file.path).read_bytes()
    assert check_repository(repository).ok


def test_the_same_content_again_changes_nothing_at_all_and_says_so(repository, packages, catalog_url):
    first = import_package(repository, packages.folder, FAST_POLICY, "op")
    repository.close()  # the SQLite catalog's -wal/-shm are checkpointed away, as after any command
    before = fingerprint(repository.location.root)

    again = import_package(repository, packages.zip, FAST_POLICY, "op")  # the zip holds the same files
    repository.close()

    assert (again.outcome, again.public_id, again.version) == ("unchanged", first.public_id, 1)
    assert (again.files_stored, again.bytes_written) == (0, 0)
    assert fingerprint(repository.location.root) == before
    assert _count(repository, ImportRow) == 1 and _count(repository, VersionRow) == 1


def test_new_content_of_the_same_work_is_a_new_version_linked_to_the_previous(repository, packages):
    first = import_package(repository, packages.folder, FAST_POLICY, "op")
    second = import_package(repository, packages.second, FAST_POLICY, "op")

    assert (second.outcome, second.public_id, second.version) == ("new-version", first.public_id, 2)
    assert second.files_stored == 2  # notes.md and the metadata naming its new hash; the rest is shared
    assert second.files_present == first.files_stored - 2
    with repository.catalog.session() as session:
        versions = session.execute(select(VersionRow.id, VersionRow.number, VersionRow.previous_id)).all()
        people = session.execute(select(func.count()).select_from(PersonRow)).scalar_one()
        latest = search(session, SearchQuery(text="study"))
    (v1_id, _, none), (_, two, previous) = sorted(versions, key=lambda v: v[1])
    assert (none, two, previous) == (None, 2, v1_id)
    assert people == 1  # one author, shared by both versions
    assert [(h.public_id, h.version) for h in latest] == [(first.public_id, 2)]
    with repository.catalog.session() as session:
        flags = session.execute(select(VersionRow.number, VersionRow.is_latest).order_by(VersionRow.number)).all()
    assert flags == [(1, False), (2, True)]
    assert check_repository(repository).ok


def test_a_restricted_file_is_described_and_never_stored(repository, packages):
    done = import_package(repository, packages.restricted, FAST_POLICY, "op")

    assert done.restricted == 1
    with repository.catalog.session() as session:
        row = session.execute(select(FileRow).where(FileRow.path == "data/input.csv")).scalar_one()
    assert row.restricted and not repository.store.has(row.sha256)
    assert check_repository(repository).ok


def test_a_refused_package_leaves_the_repository_byte_identical(repository, packages, tmp_path):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    repository.close()
    before = fingerprint(repository.location.root)
    tampered = copied(packages.folder, tmp_path / "tampered")
    (tampered / "notes.md").write_text("# NOTES\n")  # same size, other bytes: only the hash tells

    with pytest.raises(BadInput) as refused:
        import_package(repository, tampered, FAST_POLICY, "op")
    repository.close()

    assert "notes.md" in str(refused.value) and "\n" not in str(refused.value)
    assert fingerprint(repository.location.root) == before
    assert _count(repository, VersionRow) == 1


def test_a_policy_refusal_is_exit_1_and_touches_nothing(repository, packages, tmp_path):
    repository.close()
    before = fingerprint(repository.location.root)
    strict = FAST_POLICY.__class__(profiles="off", allowed_file_types=("*.ipynb",))
    with pytest.raises(CheckFailed, match="allowed_file_types"):
        import_package(repository, packages.folder, strict, "op")
    assert fingerprint(repository.location.root) == before


def test_as_names_the_package_a_renamed_work_is_a_version_of(repository, packages, tmp_path):
    first = import_package(repository, packages.folder, FAST_POLICY, "op")
    renamed = copied(packages.folder, tmp_path / "renamed")
    metadata = json.loads((renamed / "ro-crate-metadata.json").read_text())
    next(e for e in metadata["@graph"] if e["@id"] == "./")["name"] = "Study, revised title"
    (renamed / "ro-crate-metadata.json").write_text(json.dumps(metadata, indent=2))

    blobs = set(repository.store.blobs())
    with pytest.raises(BadInput, match=f"already {first.public_id}"):  # a known work cannot get another id
        import_package(repository, packages.second, FAST_POLICY, "op", as_id="other-id")
    assert set(repository.store.blobs()) == blobs  # refused before anything was stored
    done = import_package(repository, renamed, FAST_POLICY, "op", as_id=first.public_id)

    assert (done.outcome, done.public_id, done.version, done.title) == (
        "new-version",
        first.public_id,
        2,
        "Study, revised title",
    )
    with repository.catalog.session() as session:
        key = session.execute(select(PackageRow.key).where(PackageRow.public_id == first.public_id)).scalar_one()
    assert key.startswith("name:study, revised title|")  # its next version is found without --as
    with pytest.raises(BadInput, match="a package id is"):
        import_package(repository, packages.second, FAST_POLICY, "op", as_id="../x")


def test_as_gives_a_new_package_the_id_chosen(repository, packages):
    done = import_package(repository, packages.folder, FAST_POLICY, "op", as_id="claims-2026")
    assert (done.outcome, done.public_id) == ("imported", "claims-2026")


def test_a_signed_record_joins_its_versions_history_once(repository, packages, tmp_path):
    package = import_package(repository, packages.folder, FAST_POLICY, "op")
    metadata_sha256 = hashlib.sha256((packages.folder / "ro-crate-metadata.json").read_bytes()).hexdigest()
    record = signed_record(tmp_path / "record", metadata_sha256, tmp_path / "keys")

    done = import_source(repository, record, FAST_POLICY, "op")
    again = import_record(repository, record, "op")

    assert (done.outcome, done.public_id, done.version, done.verdict) == (
        "record",
        package.public_id,
        1,
        "not_reproduced",
    )
    assert again.outcome == "unchanged"
    with repository.catalog.session() as session:
        runs = session.execute(select(GovernedRunRow)).scalars().all()
        hits = search(session, SearchQuery(verdict="not_reproduced"))
        kept = session.execute(select(VersionRow.is_latest, VersionRow.newest_verdict)).all()
    assert kept == [(True, "not_reproduced")]  # kept by the import, in its transaction
    assert check_repository(repository).ok
    assert [(r.verdict, r.signature_verified, r.source) for r in runs] == [("not_reproduced", True, "import")]
    assert runs[0].signer and runs[0].signer.startswith("ed25519:")
    assert [h.public_id for h in hits] == [package.public_id]


def test_an_imported_record_is_kept_in_the_store_and_check_misses_it_when_its_blob_is_gone(
    repository, packages, tmp_path
):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    metadata_sha256 = hashlib.sha256((packages.folder / "ro-crate-metadata.json").read_bytes()).hexdigest()
    record = signed_record(tmp_path / "record", metadata_sha256, tmp_path / "keys")
    import_record(repository, record, "op")
    with repository.catalog.session() as session:
        run = session.execute(select(GovernedRunRow)).scalar_one()
    assert run.record_blob is not None
    kept = tmp_path / "kept"
    with zipfile.ZipFile(repository.store.path_of(run.record_blob)) as zipped:
        zipped.extractall(kept)
    assert (kept / "signature.json").read_bytes() == (record / "signature.json").read_bytes()

    with repository.catalog.session(write=True) as session:
        session.execute(delete(BlobRow).where(BlobRow.sha256 == run.record_blob))
    problems = check_repository(repository).problems
    assert any("the record of run" in problem for problem in problems)


def test_a_tampered_record_is_refused_and_an_unknown_packages_record_is_exit_1(repository, packages, tmp_path):
    import_package(repository, packages.folder, FAST_POLICY, "op")
    unknown = signed_record(tmp_path / "unknown", "b" * 64, tmp_path / "keys")
    with pytest.raises(CheckFailed, match="does not hold"):
        import_record(repository, unknown, "op")

    tampered = signed_record(tmp_path / "tampered", "c" * 64, tmp_path / "keys2")
    result = json.loads((tampered / "result.json").read_text())
    result["verdict"] = "reproduced"
    (tampered / "result.json").write_text(json.dumps(result))
    with pytest.raises(BadInput, match="failed verification"):
        import_record(repository, tampered, "op")
    assert _count(repository, GovernedRunRow) == 0


def test_two_first_imports_of_one_work_race_to_one_package(repository, packages, tmp_path):
    """The loser of the race on ``packages.key`` retries and becomes version 2 (PostgreSQL's case; SQLite queues)."""
    import threading

    from repropack.repository.opened import Repository

    results, errors = [], []

    def run(source: Path) -> None:
        with Repository.open(repository.location.root) as own:
            try:
                results.append(import_package(own, source, FAST_POLICY, "op"))
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

    threads = [threading.Thread(target=run, args=(s,)) for s in (packages.folder, packages.second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({r.public_id for r in results}) == 1
    assert sorted(r.version for r in results) == [1, 2]
    assert _count(repository, PackageRow) == 1
    assert check_repository(repository).ok
