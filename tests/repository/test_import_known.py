"""Content the repository holds already: admission skips validation, and only a read-only catalog is opened."""

from __future__ import annotations

import os

import pytest

import repropack.repository.admission as admission
from repropack.errors import BadInput, CheckFailed
from repropack.repository.importer import import_package
from repropack.repository.opened import Repository, init_repository
from repropack.repository.policy import Policy
from tests.repository.builders import FAST_POLICY, copied, fingerprint, packages

__all__ = ["packages"]  # fixtures


@pytest.fixture
def own_catalog(tmp_path):
    """A repository whose SQLite catalog is inside it (so its -wal/-shm would show in the fingerprint)."""
    init_repository(tmp_path / "repo")
    with Repository.open(tmp_path / "repo") as opened:
        yield opened


def test_importing_held_content_again_runs_no_validation(own_catalog, packages, monkeypatch):
    first = import_package(own_catalog, packages.folder, Policy(), "op")  # the default policy: roc-validator on

    def not_again(*args, **kwargs):
        raise AssertionError("validated content the repository holds")

    monkeypatch.setattr(admission, "profile_findings", not_again)
    monkeypatch.setattr(admission, "check_schema", not_again)
    again = import_package(own_catalog, packages.zip, Policy(), "op")  # the zip holds the same files

    assert (again.outcome, again.public_id, again.version) == ("unchanged", first.public_id, 1)


def test_held_content_is_still_refused_when_hostile(own_catalog, packages, tmp_path):
    import_package(own_catalog, packages.folder, FAST_POLICY, "op")
    tampered = copied(packages.folder, tmp_path / "tampered")
    (tampered / "notes.md").write_text("# NOTES\n")  # same size, other bytes

    with pytest.raises(BadInput, match="notes.md"):
        import_package(own_catalog, tampered, FAST_POLICY, "op")


def test_a_hostile_refusal_never_opens_the_catalog(own_catalog, packages, tmp_path):
    before = fingerprint(own_catalog.location.root)
    tampered = copied(packages.folder, tmp_path / "tampered")
    (tampered / "notes.md").write_text("# NOTES\n")

    with pytest.raises(BadInput):
        import_package(own_catalog, tampered, FAST_POLICY, "op")

    assert "catalog" not in own_catalog.__dict__  # not even read: no -wal/-shm while the repository is open
    assert fingerprint(own_catalog.location.root) == before


def test_a_refusal_after_the_read_only_lookup_leaves_the_repository_byte_identical(own_catalog, packages):
    before = fingerprint(own_catalog.location.root)
    strict = Policy(profiles="off", allowed_file_types=("*.ipynb",))

    with pytest.raises(CheckFailed, match="allowed_file_types"):
        import_package(own_catalog, packages.folder, strict, "op")
    assert os.path.exists(f"{own_catalog.location.root}/catalog.sqlite-wal")  # it was opened to ask
    own_catalog.close()

    assert fingerprint(own_catalog.location.root) == before
