"""repropack's own products and the non-sources a project may hold: recognised by content, never packed."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from repropack.export import export_project
from repropack.fs import products
from repropack.fs.tree import snapshot
from repropack.model import Person
from repropack.record import signing
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import generate_key_pair
from repropack.record.report_html import render_html_report
from tests.conftest import make_project
from tests.samples import sample_replay_result


def _make(root: Path, *paths: str) -> None:
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text(p)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """A real package zip, a real package folder and a real signed record, as repropack writes them."""
    base = tmp_path_factory.mktemp("made")
    project = make_project(base / "study")
    export_project(project, base / "study.crate.zip", {"execute": False})
    export_project(project, base / "study-folder", {"execute": False})
    record = base / "study.crate.replay-20261124T101500Z"
    pair = generate_key_pair(base / "keys")
    write_governed_run(sample_replay_result(record=record), record, operator=Person("Ada"), key=pair.private_path)
    return {"zip": base / "study.crate.zip", "folder": base / "study-folder", "record": record}


def test_packages_and_records_repropack_wrote_are_recognised(made):
    zipped = made["zip"]
    assert products.product_file(zipped, zipped.stat()) == products.PACKAGE
    assert products.product_folder(made["folder"]) == products.PACKAGE
    assert products.product_folder(made["record"]) == products.RECORD
    report = made["record"] / "report.html"
    assert products.product_file(report, report.stat()) == products.REPORT


def test_the_markers_are_what_the_writers_write():
    assert products.RECORD_SIGNATURE == signing.SIGNATURE_FILE
    assert products.RECORD_SIGNED_CONTENT == signing.SIGNED_CONTENT
    page = render_html_report(sample_replay_result())
    assert products.REPORT_GENERATOR in page[:2048]


def test_lookalikes_of_products_stay_project_files(tmp_path):
    # A user's folders that merely look like repropack's products: a crate of their own, a folder named like
    # a record, a signature of another tool, a zip named like a package, a page of their own.
    _make(
        tmp_path,
        "crates/ro-crate-metadata.json",
        "crates/data.csv",
        "study.crate.replay-20261124T101500Z/notes.md",
        "signed/ro-crate-metadata.json",
        "signed/readings.csv",
        "page.html",
    )
    (tmp_path / "signed" / "signature.json").write_text(json.dumps({"signed": "something else"}))
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "ro-crate-metadata.json").write_text("{}")
    (tmp_path / "fake" / ".repropack").write_text("a file, not the reserved folder")
    with zipfile.ZipFile(tmp_path / "inputs.crate.zip", "w") as archive:
        archive.writestr("ro-crate-metadata.json", "{}")  # a crate, but not one repropack wrote
        archive.writestr("data.csv", "a\n")
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    found = set(snapshot(tmp_path))
    assert found >= {
        "crates/ro-crate-metadata.json",
        "crates/data.csv",
        "study.crate.replay-20261124T101500Z/notes.md",
        "signed/readings.csv",
        "signed/signature.json",
        "fake/ro-crate-metadata.json",
        "fake/.repropack",
        "inputs.crate.zip",
        "broken.zip",
        "page.html",
    }


def test_products_inside_a_project_are_not_walked(made, tmp_path):
    import shutil

    root = tmp_path / "p"
    _make(root, "a.ipynb", "data/x.csv")
    shutil.copy(made["zip"], root / "renamed.zip")  # recognised by what it holds, whatever its name
    shutil.copytree(made["folder"], root / "old" / "package")
    shutil.copytree(made["record"], root / "old" / "record-kept")
    shutil.copy(made["record"] / "report.html", root / "review.html")
    (root / ".out.zip.repropack-tmp-123.abc").write_bytes(b"half a zip")
    assert sorted(snapshot(root)) == ["a.ipynb", "data/x.csv"]
    holder = products.product_holding(root, "old/record-kept/result.json")
    assert holder == products.Holder("old/record-kept", products.RECORD)
    assert products.product_holding(root, "data/x.csv") is None


def test_snapshot_skips_every_kind_of_non_source(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROPACK_CACHE_DIR", str(tmp_path / "cache"))
    _make(
        tmp_path,
        "a.ipynb",
        ".git/HEAD",
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "sub/__pycache__/m.cpython-311.pyc",
        "web/node_modules/left-pad/index.js",
        "venv/pyvenv.cfg",
        "venv/lib/site.py",
        "env/conda-meta/history",
        "env/lib/x.py",
        ".DS_Store",
        "data/.DS_Store",
        "cache/hashes.sqlite",
        "data/x.csv",
    )
    assert sorted(snapshot(tmp_path)) == ["a.ipynb", "data/x.csv"]


def test_a_folder_symlinked_as_the_reserved_folder_does_not_make_a_package(tmp_path):
    _make(tmp_path, "mine/ro-crate-metadata.json", "mine/data.csv", "elsewhere/x")
    os.symlink(tmp_path / "elsewhere", tmp_path / "mine" / ".repropack")
    assert products.product_folder(tmp_path / "mine") is None
