"""End-to-end export of small real projects, with a real kernel and real files."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from repropack.crate.check import check_package
from repropack.crate.reader import open_package
from repropack.errors import BadInput, CheckFailed
from repropack.export import export_project
from repropack.ui.inspect_view import describe_package
from tests.conftest import git, write_notebook


def _metadata(package_dir: Path) -> dict:
    return json.loads((package_dir / "ro-crate-metadata.json").read_text())


def _entities(meta: dict) -> dict:
    return {e["@id"]: e for e in meta["@graph"]}


def test_export_records_inputs_outputs_and_other_files(project, tmp_path):
    out = tmp_path / "pkg"
    result = export_project(project, out, {})
    ents = _entities(_metadata(out))
    assert ents["data/input.csv"]["fileRole"] == "input"
    assert ents["outputs/counts.csv"]["fileRole"] == "output"
    assert ents["notes.md"]["fileRole"] == "other"
    assert ents["analysis.ipynb"]["fileRole"] == "notebook"
    (action,) = [e for e in ents.values() if e["@type"] == "CreateAction"]
    objects = {o["@id"] for o in (action["object"] if isinstance(action["object"], list) else [action["object"]])}
    results = {o["@id"] for o in (action["result"] if isinstance(action["result"], list) else [action["result"]])}
    assert objects == {"analysis.ipynb", "data/input.csv"}
    assert results == {"analysis.ipynb", "outputs/counts.csv"}
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert (out / "outputs/counts.csv").read_bytes() == b"group,n\r\na,2\r\nb,1\r\n"
    assert result.summary()["outputs"] == ["outputs/counts.csv"]


def test_every_recorded_hash_matches_an_independent_sha256(project, tmp_path):
    out = tmp_path / "pkg"
    export_project(project, out, {})
    files = [e for e in _metadata(out)["@graph"] if e["@type"] == "File"]
    assert len(files) >= 8
    for entity in files:
        data = (out / entity["@id"]).read_bytes()
        assert entity["sha256"] == hashlib.sha256(data).hexdigest(), entity["@id"]
        assert entity["contentSize"] == str(len(data))


def test_executed_notebook_is_packed_with_outputs_and_the_kernel_that_ran(project, tmp_path):
    import nbformat

    write_notebook(
        project / "analysis.ipynb",
        *__import__("tests.conftest", fromlist=["ANALYSIS_CELLS"]).ANALYSIS_CELLS,
        kernel="python2",
    )
    out = tmp_path / "pkg"
    export_project(project, out, {})
    nb = nbformat.read(out / "analysis.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[-1].outputs[0]["text"] == "{'a': 2, 'b': 1}\n"
    # the source in the project is left as it was
    assert nbformat.read(project / "analysis.ipynb", as_version=4).metadata.kernelspec.name == "python2"


def test_zip_and_directory_hold_the_same_files(project, tmp_path):
    export_project(project, tmp_path / "pkg", {})
    export_project(project, tmp_path / "pkg.zip", {})
    with zipfile.ZipFile(tmp_path / "pkg.zip") as zf:
        names = sorted(zf.namelist())
    on_disk = sorted(p.relative_to(tmp_path / "pkg").as_posix() for p in (tmp_path / "pkg").rglob("*") if p.is_file())
    assert names == on_disk


def test_no_execute_zip_is_byte_identical_across_exports(project, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    export_project(project, tmp_path / "a.zip", {"execute": False})
    os.utime(project / "notes.md")  # touching a file does not change its content
    export_project(project, tmp_path / "b.zip", {"execute": False})
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_undeclared_import_is_locked_at_its_installed_version(project, tmp_path):
    from importlib.metadata import version

    write_notebook(project / "analysis.ipynb", "import jinja2\nprint(jinja2.__name__)")
    out = tmp_path / "pkg"
    export_project(project, out, {})
    lock = (out / ".repropack/requirements.lock.txt").read_text()
    assert f"jinja2=={version('jinja2')}" in lock.lower()
    assert f"markupsafe=={version('markupsafe')}" in lock.lower()  # jinja2's own dependency
    assert "jinja2" not in (project / "requirements.txt").read_text()


def test_restricted_input_bytes_appear_in_no_byte_of_the_package(project, tmp_path):
    canary = "CANARY-" + os.urandom(12).hex()
    (project / "data" / "secret_register.csv").write_text(f"id,value\n1,{canary}\n")
    write_notebook(
        project / "analysis.ipynb",
        "rows = open('data/secret_register.csv').read().splitlines()\nn = len(rows)",
        "print('rows', n)",
    )
    for out in (tmp_path / "pkg", tmp_path / "pkg.zip"):
        export_project(project, out, {"restrict": ("data/secret_*.csv",)})
        blobs = [out.read_bytes()] if out.is_file() else [p.read_bytes() for p in out.rglob("*") if p.is_file()]
        assert not any(canary.encode() in blob for blob in blobs)
    ents = _entities(_metadata(tmp_path / "pkg"))
    record = ents["#restricted/data/secret_register.csv"]
    assert record["restricted"] is True
    assert record["sha256"] == hashlib.sha256((project / "data/secret_register.csv").read_bytes()).hexdigest()
    assert record["fileRole"] == "input"
    assert not (tmp_path / "pkg" / "data/secret_register.csv").exists()


def test_git_provenance_is_recorded_with_credentials_stripped(project, tmp_path):
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "initial")
    git(project, "remote", "add", "origin", "https://alice:s3cr3t-token@git.example.org/lab/study.git")
    commit = git(project, "rev-parse", "HEAD")
    out = tmp_path / "pkg"
    export_project(project, out, {})
    text = (out / "ro-crate-metadata.json").read_text()
    ents = _entities(json.loads(text))
    assert ents["#git"]["version"] == commit
    assert ents["#git"]["codeRepository"] == "https://git.example.org/lab/study.git"
    assert "s3cr3t-token" not in text


def test_no_repository_is_recorded_as_absent(project, tmp_path):
    out = tmp_path / "pkg"
    result = export_project(project, out, {})
    assert result.package.git is None
    assert "isBasedOn" not in _entities(_metadata(out))["./"]


def test_project_settings_are_recorded_with_their_source(project, tmp_path):
    out = tmp_path / "pkg"
    export_project(project, out, {"timeout": 30})
    settings = json.loads((out / ".repropack/settings.json").read_text())
    assert settings["timeout"] == {"value": 30, "source": "flag"}
    assert settings["license"] == {"value": "MIT", "source": "project"}
    assert settings["kernel"] == {"value": "python3", "source": "default"}


def test_exported_package_passes_check(project, tmp_path):
    out = tmp_path / "pkg.zip"
    export_project(project, out, {})
    report = check_package(out)
    assert report.problems == []
    assert report.files_checked >= 8


def test_inspect_describes_runs_and_restricted_files(project, tmp_path):
    out = tmp_path / "pkg.zip"
    export_project(project, out, {"restrict": ("data/*.csv",)})
    with open_package(out) as pkg:
        d = describe_package(pkg.source, pkg.package, pkg.environment_hash)
    assert d["notebooks"] == ["analysis.ipynb"]
    assert [f["path"] for f in d["restricted"]] == ["data/input.csv"]
    assert d["runs"][0]["status"] == "CompletedActionStatus"
    assert "data/input.csv" in d["runs"][0]["inputs"]


# --- bad input: one clear error, the right exit code, nothing written ---------------------------


def _assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".repropack-tmp-" in p.name]


def test_missing_project_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        export_project(tmp_path / "nope", tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_project_that_is_a_file_is_bad_input(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        export_project(tmp_path / "f.txt", tmp_path / "o.zip", {})


def test_project_without_notebooks_is_bad_input(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.txt").write_text("x")
    with pytest.raises(BadInput, match="no notebooks"):
        export_project(tmp_path / "p", tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_invalid_notebook_is_bad_input(project, tmp_path):
    (project / "broken.ipynb").write_text('{"cells": "not a list"}')
    with pytest.raises(BadInput, match="broken.ipynb: not a valid Jupyter notebook"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_missing_kernel_is_bad_input(project, tmp_path):
    with pytest.raises(BadInput, match="no Jupyter kernel named 'nosuchkernel'"):
        export_project(project, tmp_path / "o.zip", {"kernel": "nosuchkernel"})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_cell_error_names_notebook_cell_and_exception(project, tmp_path):
    write_notebook(project / "analysis.ipynb", "x = 1", "1 / 0")
    with pytest.raises(CheckFailed, match=r"analysis.ipynb: cell 2: ZeroDivisionError: division by zero"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_allow_errors_packs_a_failed_run(project, tmp_path):
    write_notebook(project / "analysis.ipynb", "1 / 0", "print('after')")
    out = tmp_path / "pkg"
    result = export_project(project, out, {"allow_errors": True})
    assert result.package.runs[0].errors == ("cell 1: ZeroDivisionError: division by zero",)
    action = next(e for e in _metadata(out)["@graph"] if e["@type"] == "CreateAction")
    assert action["actionStatus"] == "http://schema.org/FailedActionStatus"


def test_existing_output_needs_force(project, tmp_path):
    out = tmp_path / "o.zip"
    out.write_bytes(b"keep me")
    with pytest.raises(BadInput, match="already exists; pass --force"):
        export_project(project, out, {})
    assert out.read_bytes() == b"keep me"
    export_project(project, out, {"force": True})
    assert zipfile.is_zipfile(out)


def test_reserved_folder_collision_is_bad_input(project, tmp_path):
    (project / ".repropack").mkdir()
    with pytest.raises(BadInput, match="reserved"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_symlink_outside_project_is_bad_input(project, tmp_path):
    (tmp_path / "elsewhere.txt").write_text("outside")
    (project / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(BadInput, match="link.txt: symlink points outside the project"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_unreadable_file_is_bad_input(project, tmp_path):
    # Root reads anything, so make it unreadable the way a broken mount is: a dangling symlink.
    (project / "gone.csv").symlink_to(project / "does-not-exist.csv")
    with pytest.raises(BadInput, match="gone.csv"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_secret_is_refused_and_allow_secret_overrides(project, tmp_path):
    (project / ".env").write_text("API_TOKEN=abc\n")
    with pytest.raises(BadInput, match=r"\.env"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")
    export_project(project, tmp_path / "o.zip", {"allow_secret": (".env",)})
    assert ".env" in zipfile.ZipFile(tmp_path / "o.zip").namelist()


def test_token_printed_in_a_notebook_output_is_refused(project, tmp_path):
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    write_notebook(project / "analysis.ipynb", f"print('{token[:10]}' + '{token[10:]}')")
    with pytest.raises(BadInput, match="analysis.ipynb"):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_interrupted_write_leaves_nothing(project, tmp_path, monkeypatch):
    from repropack.crate import writer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "write_deterministic_zip", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_project(project, tmp_path / "o.zip", {})
    _assert_nothing_written(tmp_path, tmp_path / "o.zip")


def test_environment_files_are_copied_and_the_dockerfile_is_rendered(project, tmp_path):
    (project / "environment.yml").write_text("name: s\ndependencies:\n  - python=3.11\n  - pip:\n    - jinja2\n")
    out = tmp_path / "pkg"
    export_project(project, out, {"base_image": "site/base:7"})
    assert (out / ".repropack/env/requirements.txt").read_bytes() == (project / "requirements.txt").read_bytes()
    assert (out / ".repropack/env/environment.yml").read_bytes() == (project / "environment.yml").read_bytes()
    dockerfile = (out / ".repropack/Dockerfile").read_text()
    assert "FROM site/base:7 AS build" in dockerfile
    assert "jinja2==" in (out / ".repropack/requirements.lock.txt").read_text().lower()  # declared in environment.yml


@pytest.mark.slow
def test_wheelhouse_holds_a_file_for_every_pinned_distribution(project, tmp_path):
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

    out = tmp_path / "pkg"
    export_project(project, out, {"wheelhouse": True})
    from repropack.model.lock import parse_lock, pinned_versions

    pinned = {
        canonicalize_name(name)
        for name in pinned_versions(parse_lock(out.joinpath(".repropack/requirements.lock.txt").read_text()))
    }
    files = list((out / ".repropack/wheelhouse").iterdir())
    names = {
        parse_wheel_filename(f.name)[0] if f.name.endswith(".whl") else parse_sdist_filename(f.name)[0] for f in files
    }
    assert pinned and pinned <= names
    assert "--no-index --find-links /opt/repropack/wheelhouse" in (out / ".repropack/Dockerfile").read_text()
    assert check_package(out).problems == []


def test_reading_data_outside_the_project_is_warned_about(project, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n")
    write_notebook(project / "analysis.ipynb", f"print(open({str(outside)!r}).read())")
    result = export_project(project, tmp_path / "pkg", {})
    assert any("read files outside the project" in w and str(outside) in w for w in result.warnings)


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_a_file_changed_after_the_snapshot_is_refused_and_nothing_is_written(project, tmp_path, monkeypatch, name):
    from repropack.export import pipeline

    real_refuse = pipeline._refuse_secrets

    def refuse_then_append(*args, **kwargs):  # fault injection: someone writes to an input while export runs
        real_refuse(*args, **kwargs)
        with open(project / "data" / "input.csv", "a") as stream:
            stream.write("4,c\n")

    monkeypatch.setattr(pipeline, "_refuse_secrets", refuse_then_append)
    out = tmp_path / "out" / name
    out.parent.mkdir()
    with pytest.raises(BadInput, match=r"^data/input.csv: the file changed while it was being packaged; export again$"):
        export_project(project, out, {"execute": False})
    assert list(out.parent.iterdir()) == []


def test_no_execute_records_the_same_environment_as_a_kernel_gives(project, tmp_path, monkeypatch):
    from repropack.export import pipeline

    export_project(project, tmp_path / "direct", {"execute": False})
    monkeypatch.setattr(pipeline, "environment_reading", lambda *a, **k: None)  # the kernel path, as before
    export_project(project, tmp_path / "kernel", {"execute": False})
    for support in (".repropack/capture.json", ".repropack/requirements.lock.txt", ".repropack/Dockerfile"):
        assert (tmp_path / "direct" / support).read_bytes() == (tmp_path / "kernel" / support).read_bytes(), support
