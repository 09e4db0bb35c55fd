"""The reader gives back the model export wrote: one package model, both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.model import FileRole, RunStatus


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tests.conftest import make_project

    base = tmp_path_factory.mktemp("reader")
    project = make_project(base / "project")
    result = export_project(project, base / "pkg.zip", {"restrict": ("data/*.csv",)})
    return result


def test_read_back_equals_what_export_wrote(exported):
    written = exported.package
    with open_package(exported.output) as opened:
        read = opened.package
        assert opened.problems == ()
    assert read.files == written.files
    assert read.metadata.title == written.metadata.title
    assert read.metadata.license == written.metadata.license
    assert read.metadata.authors == written.metadata.authors
    assert read.metadata.publisher == written.metadata.publisher
    assert read.metadata.date_published == written.metadata.date_published
    assert [(r.notebook, r.status, r.inputs, r.outputs) for r in read.runs] == [
        (r.notebook, r.status, r.inputs, r.outputs) for r in written.runs
    ]
    assert read.environment.lock == tuple(sorted(written.environment.lock, key=lambda d: d.name.lower()))
    assert read.environment.python_version == written.environment.python_version
    assert read.environment.base_image == written.environment.base_image
    assert read.settings == written.settings
    assert read.empty_folders == written.empty_folders and read.local_packages == written.local_packages


def test_read_back_types_roles_and_statuses(exported):
    with open_package(exported.output) as opened:
        package = opened.package
    assert [f.path for f in package.notebooks()] == ["analysis.ipynb"]
    assert [f.path for f in package.restricted()] == ["data/input.csv"]
    assert package.runs[0].status is RunStatus.COMPLETED
    assert "outputs/counts.csv" in package.recorded_outputs()
    assert {f.role for f in package.files} >= {FileRole.NOTEBOOK, FileRole.OUTPUT, FileRole.SUPPORT}
    assert package.setting("timeout") == 600 and package.setting("no such setting", "x") == "x"


def _with_metadata(tmp_path: Path, source: Path, change) -> Path:
    import zipfile

    folder = tmp_path / "pkg"
    zipfile.ZipFile(source).extractall(folder)
    meta_path = folder / "ro-crate-metadata.json"
    metadata = json.loads(meta_path.read_text())
    change(metadata)
    meta_path.write_text(json.dumps(metadata))
    return folder


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda e: e.update(contentSize="12.5"), "contentSize is not a whole number"),
        (lambda e: e.update(fileRole="payload"), "unknown file role 'payload'"),
    ],
)
def test_entities_the_reader_cannot_type_are_problems_not_files(exported, tmp_path, change, problem):
    def mutate(metadata):
        (entity,) = [e for e in metadata["@graph"] if e.get("@id") == "notes.md"]
        change(entity)

    folder = _with_metadata(tmp_path, exported.output, mutate)
    with open_package(folder) as opened:
        assert "notes.md" not in [f.path for f in opened.package.files]
        assert [p.message for p in opened.problems] == [
            f"notes.md: {problem}" + ("" if "role" in problem else " of bytes")
        ]


def test_a_symlinked_lock_is_never_read(exported, tmp_path):
    folder = _with_metadata(tmp_path, exported.output, lambda m: None)
    lock = folder / ".repropack" / "requirements.lock.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2==1.0\n")
    lock.unlink()
    lock.symlink_to(secret)
    with open_package(folder) as opened:
        assert opened.package.environment.lock == ()


def test_a_support_file_of_the_wrong_shape_is_a_problem_and_read_as_empty(exported, tmp_path):
    folder = _with_metadata(tmp_path, exported.output, lambda m: None)
    settings = folder / ".repropack" / "settings.json"
    recorded = json.loads(settings.read_text())
    settings.write_text(json.dumps({**recorded, "timeout": {"value": "abc", "source": "flag"}}))
    with open_package(folder) as opened:
        assert opened.package.setting("timeout") is None  # nothing of the file is taken
        assert [(p.path, p.kind, p.message) for p in opened.problems] == [
            (
                ".repropack/settings.json",
                "support",
                ".repropack/settings.json: timeout/value: 'abc' is not of type 'integer'",
            )
        ]


def test_a_lock_that_is_not_utf8_is_a_lock_problem(exported, tmp_path):
    folder = _with_metadata(tmp_path, exported.output, lambda m: None)
    (folder / ".repropack" / "requirements.lock.txt").write_bytes(b"numpy==1.26.4  # \xff\n")
    with open_package(folder) as opened:
        assert opened.package.environment.lock == ()
        assert [(p.kind, p.message) for p in opened.problems] == [
            ("lock", ".repropack/requirements.lock.txt: not UTF-8 (byte 17)")
        ]


def test_opening_limits_are_those_given(exported, tmp_path):
    from repropack.config import OpeningLimits
    from repropack.errors import BadInput

    too_large = OpeningLimits(max_package_bytes=1000)
    with pytest.raises(BadInput, match="over 1000 bytes in total \\(the max_package_bytes limit\\)"):
        open_package(exported.output, too_large).__enter__()
    metadata_too_large = OpeningLimits(max_metadata_bytes=1000)
    with pytest.raises(BadInput, match="ro-crate-metadata.json: [0-9]+ bytes, more than the 1000 allowed"):
        open_package(exported.output, metadata_too_large).__enter__()
