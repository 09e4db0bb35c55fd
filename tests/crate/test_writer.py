"""Atomic package writing: folder and zip outputs, --force, files changing under our feet."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from repropack.crate.writer import PackageContent, metadata_bytes, package_staging, write_package
from repropack.errors import BadInput
from repropack.fs.hashing import HashCache
from repropack.fs.tree import snapshot
from repropack.model import layout

DATE = datetime(2024, 5, 17, 12, 30, 42, tzinfo=timezone.utc)
METADATA = {"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": [{"@id": "./", "name": "Ünïcode study"}]}
MEMORY = {
    layout.DOCKERFILE: b"FROM python:3.11-slim\n",
    layout.SETTINGS: b'{"timeout": 600}\n',
    "analysis.ipynb": b'{"cells": []}\n',
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for rel, data in {
        "zeta.txt": b"last\n",
        "B.csv": b"upper\n",
        "data/input.csv": b"id,group\n1,a\n",
        "data/raw/deep.bin": bytes(range(256)) * 64,
        "a/z.txt": b"z\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _content(source: Path, states=None) -> PackageContent:
    states = states if states is not None else snapshot(source)
    return PackageContent(
        metadata=METADATA,
        disk_files={rel: (source / rel, state) for rel, state in states.items()},
        memory_files=MEMORY,
    )


def _expected(source: Path) -> dict[str, bytes]:
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    return {**files, **MEMORY, layout.METADATA: metadata_bytes(METADATA)}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _zip_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _leftovers(output: Path) -> list[str]:
    return sorted(p.name for p in output.parent.iterdir() if ".repropack-tmp-" in p.name)


def test_writes_a_folder_package(source, tmp_path):
    out = tmp_path / "pkg"
    write_package(out, _content(source), force=False, date_published=DATE)
    assert out.is_dir()
    assert _tree(out) == _expected(source)
    assert json.loads((out / layout.METADATA).read_text(encoding="utf-8")) == METADATA
    assert _leftovers(out) == []


def test_writes_a_zip_package_with_sorted_entries(source, tmp_path):
    out = tmp_path / "pkg.zip"
    write_package(out, _content(source), force=False, date_published=DATE)
    assert _zip_files(out) == _expected(source)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert len(names) == len(set(names)) == len(_expected(source))
        assert {info.date_time for info in zf.infolist()} == {(2024, 5, 17, 12, 30, 42)}
    assert _leftovers(out) == []


def test_zip_output_is_byte_identical_for_the_same_content(source, tmp_path):
    write_package(tmp_path / "a.zip", _content(source), force=False, date_published=DATE)
    write_package(tmp_path / "b.zip", _content(source), force=False, date_published=DATE)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_zip_suffix_is_case_insensitive(source, tmp_path):
    out = tmp_path / "PKG.ZIP"
    write_package(out, _content(source), force=False, date_published=None)
    assert zipfile.is_zipfile(out)


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_existing_output_without_force_is_bad_input_and_untouched(source, tmp_path, name):
    out = tmp_path / name
    if name.endswith(".zip"):
        out.write_bytes(b"an older package")
        before = {name: out.read_bytes()}
    else:
        (out / "old").mkdir(parents=True)
        (out / "old" / "keep.txt").write_text("keep me")
        before = _tree(out)
    with pytest.raises(BadInput, match="already exists; pass --force"):
        write_package(out, _content(source), force=False, date_published=DATE)
    after = {name: out.read_bytes()} if out.is_file() else _tree(out)
    assert after == before
    assert _leftovers(out) == []


def test_force_replaces_an_existing_folder_output(source, tmp_path):
    out = tmp_path / "pkg"
    (out / "stale").mkdir(parents=True)
    (out / "stale" / "old.txt").write_text("from an earlier export")
    (out / "zeta.txt").write_text("old bytes")
    write_package(out, _content(source), force=True, date_published=DATE)
    assert _tree(out) == _expected(source)
    assert not (out / "stale").exists()
    assert _leftovers(out) == []


def test_force_replaces_an_existing_zip_output(source, tmp_path):
    out = tmp_path / "pkg.zip"
    out.write_bytes(b"not even a zip")
    write_package(out, _content(source), force=True, date_published=DATE)
    assert _zip_files(out) == _expected(source)
    assert _leftovers(out) == []


def _modify_after_hashing(source: Path):
    states = snapshot(source)  # what was hashed
    with open(source / "data" / "input.csv", "ab") as fh:  # then a notebook or the user writes to it
        fh.write(b"2,b\n")
    return states


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_file_changed_after_hashing_is_bad_input_and_leaves_nothing(source, tmp_path, name):
    out = tmp_path / "out" / name
    out.parent.mkdir()
    states = _modify_after_hashing(source)
    with pytest.raises(BadInput, match=r"data/input.csv: the file changed while it was being packaged"):
        write_package(out, _content(source, states), force=False, date_published=DATE)
    assert sorted(out.parent.iterdir()) == []


def test_file_replaced_with_same_size_after_hashing_is_detected(source, tmp_path):
    out = tmp_path / "pkg"
    states = snapshot(source)
    replacement = source / "zeta.new"
    replacement.write_bytes(b"LAST\n")  # same size, new inode
    os.replace(replacement, source / "zeta.txt")
    with pytest.raises(BadInput, match="zeta.txt: the file changed"):
        write_package(out, _content(source, states), force=False, date_published=DATE)
    assert not out.exists()
    assert _leftovers(out) == []


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_failed_forced_write_keeps_the_existing_output(source, tmp_path, name):
    out = tmp_path / name
    write_package(out, _content(source), force=False, date_published=DATE)
    before = out.read_bytes() if out.is_file() else _tree(out)
    states = _modify_after_hashing(source)
    with pytest.raises(BadInput, match="changed while it was being packaged"):
        write_package(out, _content(source, states), force=True, date_published=DATE)
    assert (out.read_bytes() if out.is_file() else _tree(out)) == before
    assert _leftovers(out) == []


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_failure_while_swapping_in_a_forced_output_restores_the_old_one(source, tmp_path, name, monkeypatch):
    from repropack.crate import writer

    out = tmp_path / name
    write_package(out, _content(source), force=False, date_published=None)
    before = out.read_bytes() if out.is_file() else _tree(out)
    real_replace = os.replace

    def failing_replace(src, dst):
        # Fault injection: the rename of the new package onto the output path fails (disk full, EPERM...).
        if Path(dst) == out and not Path(src).name.endswith("-old"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_package(out, _content(source), force=True, date_published=DATE)
    monkeypatch.undo()
    assert (out.read_bytes() if out.is_file() else _tree(out)) == before
    assert _leftovers(out) == []


# --- a folder package staged while its files are hashed (each file read once) -------------------------------


def _staged_write(source: Path, out: Path, cache, *, force: bool, states=None) -> None:
    content = _content(source, states)
    with package_staging(out, force=force) as staging:
        assert staging is not None
        staging.add_project_files(content.disk_files, cache=cache)
        write_package(out, content, force=force, date_published=DATE, staging=staging)


def test_a_staged_folder_package_has_the_same_files_as_a_copied_one(source, tmp_path):
    copied, staged = tmp_path / "copied", tmp_path / "staged"
    write_package(copied, _content(source), force=False, date_published=DATE)
    _staged_write(source, staged, HashCache(tmp_path / "cache.sqlite"), force=False)
    assert _tree(staged) == _tree(copied) == _expected(source)
    assert _leftovers(staged) == []


def test_a_forced_re_export_links_the_unchanged_files_of_the_package_it_replaces(source, tmp_path):
    out, cache = tmp_path / "pkg", HashCache(tmp_path / "cache.sqlite")
    _staged_write(source, out, cache, force=False)
    inodes = {rel: (out / rel).stat().st_ino for rel in ("zeta.txt", "data/input.csv")}
    (source / "zeta.txt").write_bytes(b"changed\n")
    _staged_write(source, out, cache, force=True)
    assert (out / "data" / "input.csv").stat().st_ino == inodes["data/input.csv"]  # the old package's file, linked
    assert (out / "data" / "input.csv").stat().st_nlink == 1  # and the old package is gone
    assert (out / "zeta.txt").read_bytes() == b"changed\n"
    assert _tree(out) == _expected(source) and _leftovers(out) == []


def test_a_staged_package_is_removed_when_the_export_fails_after_staging(source, tmp_path):
    out = tmp_path / "out" / "pkg"
    out.parent.mkdir()
    with pytest.raises(BadInput, match="refused later"), package_staging(out, force=False) as staging:
        staging.add_project_files(_content(source).disk_files, cache=None)
        raise BadInput("refused later")  # e.g. the restricted-data guard, after hashing
    assert sorted(out.parent.iterdir()) == []


def test_a_file_changed_before_it_is_staged_is_refused_and_nothing_is_left(source, tmp_path):
    out = tmp_path / "out" / "pkg"
    out.parent.mkdir()
    states = _modify_after_hashing(source)
    with pytest.raises(BadInput, match=r"^data/input.csv: the file changed while it was being packaged"):
        _staged_write(source, out, None, force=False, states=states)
    assert sorted(out.parent.iterdir()) == []


def test_a_zip_output_is_not_staged(tmp_path):
    with package_staging(tmp_path / "pkg.zip", force=False) as staging:
        assert staging is None
