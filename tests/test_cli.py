"""The real console script: exit codes, one-line errors, JSON on stdout only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def repropack(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("repropack")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "repropack"]
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )


def test_export_json_prints_one_object_and_check_passes(project, tmp_path):
    out = tmp_path / "study.crate.zip"
    done = repropack("export", str(project), "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["output"] == str(out)
    assert summary["inputs"] == ["data/input.csv"]
    assert summary["outputs"] == ["outputs/counts.csv"]
    checked = repropack("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["valid"] is True
    inspected = repropack("inspect", str(out), "--json")
    assert inspected.returncode == 0
    assert json.loads(inspected.stdout)["notebooks"] == ["analysis.ipynb"]


def test_default_output_is_project_name_crate_zip_in_cwd(project, tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    done = repropack("export", str(project), cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "study.crate.zip").is_file()


def test_export_from_inside_the_project_writes_beside_it_and_says_where(project, tmp_path):
    done = repropack("export", "--no-execute", cwd=project)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "study.crate.zip"
    assert written.is_file() and not list(project.glob("*.zip"))
    assert f"wrote {written}: 1 notebook(s)" in done.stderr


def test_a_restrict_pattern_matching_no_file_is_refused_naming_it_and_where_it_came_from(project, tmp_path):
    config = project / "repropack.toml"
    config.write_text('restrict = ["data/input.cvs"]\n' + config.read_text())  # above its tables
    out = tmp_path / "out.zip"
    done = repropack("export", str(project), "--no-execute", "-o", str(out))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "repropack: error: restrict pattern 'data/input.cvs' (from repropack.toml) matches no file in the project; "
        "nothing was written"
    ]
    assert not out.exists() and not list(tmp_path.glob(".out.zip*"))


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["export", "/nonexistent/project"], 2, "project folder does not exist"),
        (["export", "--timeout", "soon"], 2, "Invalid value for '--timeout'"),
        (["inspect", "/nonexistent.zip"], 2, "no such package"),
        (["check", "/nonexistent.zip"], 2, "no such package"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_code(args, code, fragment, tmp_path):
    done = repropack(*args, cwd=tmp_path)
    assert done.returncode == code
    assert fragment in done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_cell_error_exits_1(project, tmp_path):
    from tests.conftest import write_notebook

    write_notebook(project / "analysis.ipynb", "raise RuntimeError('boom')")
    done = repropack("export", str(project), "-o", str(tmp_path / "o.zip"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "repropack: error: analysis.ipynb: cell 1: RuntimeError: boom (pass --allow-errors to package it anyway)"
    )
    assert not (tmp_path / "o.zip").exists()


def test_tampered_package_fails_check_naming_the_file(project, tmp_path):
    out = tmp_path / "pkg"
    assert repropack("export", str(project), "-o", str(out)).returncode == 0
    (out / "outputs" / "counts.csv").write_text("group,n\na,999\n")
    done = repropack("check", str(out))
    assert done.returncode == 1
    assert any(line.startswith("hash: outputs/counts.csv: ") for line in done.stdout.splitlines())


def test_every_command_help_has_an_example():
    for command in (
        ["export"],
        ["inspect"],
        ["check"],
        ["replay"],
        ["verify-record"],
        ["diff"],
        ["rejudge"],
        ["keys", "generate"],
        ["base", "build"],
    ):
        done = repropack(*command, "--help")
        assert done.returncode == 0
        assert "Example" in done.stdout and f"repropack {' '.join(command)}" in done.stdout


def test_crate_version_flag_selects_ro_crate_1_1(project, tmp_path):
    out = tmp_path / "old.crate.zip"
    done = repropack("export", str(project), "-o", str(out), "--no-execute", "--crate-version", "1.1")
    assert done.returncode == 0, done.stderr
    import zipfile

    from repropack.crate.versions import crate_version_of

    assert crate_version_of(json.loads(zipfile.ZipFile(out).read("ro-crate-metadata.json"))) == "1.1"
    bad = repropack("export", str(project), "-o", str(tmp_path / "x.zip"), "--crate-version", "2.0")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and not (tmp_path / "x.zip").exists()
