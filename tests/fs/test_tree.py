from __future__ import annotations

import os

import pytest

from repropack.errors import BadInput
from repropack.fs.tree import (
    changed_between,
    check_reserved,
    discover_notebooks,
    first_match,
    matches_any,
    snapshot,
    unmatched_excludes,
)


def _make(root, *paths):
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text(p)


def test_snapshot_skips_hidden_folders_virtualenvs_and_caches(tmp_path):
    _make(
        tmp_path,
        "a.ipynb",
        "sub/b.ipynb",
        ".git/config",
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "venv/pyvenv.cfg",
        "venv/lib/x.py",
        "__pycache__/m.pyc",
        ".env",
        "data/x.csv",
    )
    snap = snapshot(tmp_path)
    assert sorted(snap) == [".env", "a.ipynb", "data/x.csv", "sub/b.ipynb"]
    assert discover_notebooks(snap) == ["a.ipynb", "sub/b.ipynb"]


def test_exclude_globs_match_names_anywhere_and_paths_from_the_root(tmp_path):
    _make(tmp_path, "run.log", "deep/er/run.log", "scratch/tmp.csv", "data/keep.csv")
    snap = snapshot(tmp_path, exclude=("*.log", "scratch"))
    assert sorted(snap) == ["data/keep.csv"]
    assert matches_any("data/raw/x.csv", ["data/raw/*.csv"]) and not matches_any("other/raw/x.csv", ["data/raw/*.csv"])


def test_unmatched_excludes_are_the_globs_that_leave_nothing_out(tmp_path):
    _make(tmp_path, "run.log", "scratch/tmp.csv", "data/keep.csv", "venv/pyvenv.cfg", "venv/x.log")
    # "*.lgo" is a typo; "venv/*" matches only what is never walked anyway, so it leaves nothing out.
    assert unmatched_excludes(tmp_path, exclude=("*.log", "*.lgo", "scratch", "venv/*")) == ["*.lgo", "venv/*"]
    assert first_match("scratch/tmp.csv", ["*.log", "scratch/*"]) == "scratch/*"


def test_ignored_output_is_not_walked(tmp_path):
    _make(tmp_path, "a.ipynb", "out.crate/ro-crate-metadata.json")
    assert sorted(snapshot(tmp_path, ignore=[tmp_path / "out.crate"])) == ["a.ipynb"]


def test_changes_are_created_or_modified_files(tmp_path):
    _make(tmp_path, "same.txt", "changed.txt")
    before = snapshot(tmp_path)
    (tmp_path / "changed.txt").write_text("different length")
    _make(tmp_path, "new.txt")
    assert changed_between(before, snapshot(tmp_path)) == {"changed.txt", "new.txt"}


def test_symlink_inside_is_followed_and_outside_is_refused(tmp_path):
    root = tmp_path / "p"
    _make(root, "data/real.csv")
    (root / "alias.csv").symlink_to(root / "data/real.csv")
    assert "alias.csv" in snapshot(root)
    (tmp_path / "outside.csv").write_text("x")
    (root / "escape.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(BadInput, match="escape.csv: symlink points outside the project"):
        snapshot(root)


def test_directory_symlink_outside_is_refused(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "linked")
    with pytest.raises(BadInput, match="linked: symlink points outside"):
        snapshot(root)


def test_reserved_folder_in_project_is_refused(tmp_path):
    (tmp_path / ".repropack").write_text("mine")
    with pytest.raises(BadInput, match="reserved folder .repropack/"):
        check_reserved(tmp_path)
