"""Making a repository and opening it: what ``init`` writes, that it is idempotent, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.repository.location import MARKER
from repropack.repository.opened import Repository, init_repository
from repropack.repository.policy import Policy
from tests.repository.builders import fingerprint


def test_init_writes_a_complete_repository_and_again_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    location = init_repository(root)
    assert {p.name for p in root.iterdir()} >= {MARKER, "policy.toml", "blobs", "tmp", "catalog.sqlite"}
    assert "catalog" not in (root / MARKER).read_text()  # the default catalog is the file beside it
    with Repository.open(root) as opened:
        assert opened.policy() == Policy()  # the commented defaults parse to the defaults
        assert opened.location.catalog_url == location.catalog_url
    before = fingerprint(root)
    init_repository(root)
    assert fingerprint(root) == before


def test_init_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("mine")
    with pytest.raises(BadInput, match="no repository.toml"):
        init_repository(tmp_path)
    with pytest.raises(BadInput, match="not a folder"):
        init_repository(tmp_path / "mine.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_another_catalog_for_an_existing_repository_is_refused(tmp_path: Path) -> None:
    init_repository(tmp_path / "repo")
    with pytest.raises(BadInput, match="already a repository"):
        init_repository(tmp_path / "repo", f"sqlite:///{tmp_path / 'other.sqlite'}")


def test_opening_a_repository_does_not_open_its_catalog(tmp_path: Path) -> None:
    init_repository(tmp_path / "repo")
    (tmp_path / "repo" / "catalog.sqlite").unlink()
    with Repository.open(tmp_path / "repo") as opened:
        opened.store.blobs()
    assert not (tmp_path / "repo" / "catalog.sqlite").exists()
