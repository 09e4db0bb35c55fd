"""Which project files a package holds: .gitignore (asked of git), include, restrict and exclude checks,
and repropack's own products left in a project by earlier exports and replays."""

from __future__ import annotations

import importlib.util
import json
import py_compile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from repropack.config import resolve_settings
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.export.selection import GitIgnored, Ignores, git_ignored
from repropack.model import FileRole, Person
from repropack.record.governed_run import default_record_path, write_governed_run
from repropack.record.keys import generate_key_pair
from repropack.record.report_html import render_html_report
from tests.conftest import ANALYSIS_CELLS, git, make_project, write_notebook
from tests.samples import sample_replay_result


def _files(result) -> dict[str, FileRole]:
    return {f.path: f.role for f in result.package.files if not f.path.startswith(".repropack/")}


def _repository(project: Path) -> Path:
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    return project


@pytest.fixture
def ignoring(tmp_path: Path) -> Path:
    """A git repository whose .gitignore files leave out a folder, a pattern, and (nested) all but one note."""
    project = make_project(tmp_path / "study")
    (project / ".gitignore").write_text("scratch/\n*.log\n")
    (project / "notes").mkdir()
    (project / "notes" / ".gitignore").write_text("*.md\n!keep.md\n")
    (project / "notes" / "draft.md").write_text("draft\n")
    (project / "notes" / "keep.md").write_text("kept\n")
    (project / "tracked.log").write_text("tracked although *.log is ignored\n")
    _repository(project)
    git(project, "add", "-f", "tracked.log")
    git(project, "commit", "-q", "-m", "a tracked log")
    (project / "scratch").mkdir()
    (project / "scratch" / "tmp.csv").write_text("x\n")
    (project / "run.log").write_text("log\n")
    write_notebook(project / "scratch" / "try.ipynb", "print('scratch')")
    return project


def test_gitignored_files_are_left_out_as_git_decides(ignoring, tmp_path):
    result = export_project(ignoring, tmp_path / "out.zip", {"execute": False})
    files = _files(result)
    assert "scratch/tmp.csv" not in files and "run.log" not in files and "notes/draft.md" not in files
    assert "scratch/try.ipynb" not in files  # an ignored notebook is not discovered, so not run either
    assert {"notes/keep.md", "tracked.log", ".gitignore", "notes/.gitignore", "data/input.csv"} <= files.keys()
    assert [r.notebook for r in result.package.runs] == ["analysis.ipynb"]
    note = next(w for w in result.warnings if "--no-execute" in w)
    assert "4 file(s) .gitignore leaves out" in note
    assert 'include = ["notes/draft.md", "run.log", "scratch/tmp.csv", "scratch/try.ipynb"]' in note


def test_include_takes_an_ignored_file_back_and_is_recorded_with_its_source(ignoring, tmp_path):
    result = export_project(ignoring, tmp_path / "out.zip", {"execute": False, "include": ("scratch/*.csv",)})
    assert "scratch/tmp.csv" in _files(result) and "run.log" not in _files(result)
    assert result.package.settings["include"] == {"value": ["scratch/*.csv"], "source": "flag"}


def test_a_notebook_named_with_notebook_is_packed_although_ignored(ignoring, tmp_path):
    result = export_project(ignoring, tmp_path / "out.zip", {"execute": False, "notebooks": ("scratch/try.ipynb",)})
    assert _files(result)["scratch/try.ipynb"] is FileRole.NOTEBOOK
    assert "scratch/try.ipynb is ignored by .gitignore but --notebook names it: it is packed and run" in result.warnings


def test_files_the_notebooks_read_or_write_are_packed_although_ignored(tmp_path):
    project = make_project(tmp_path / "study")
    (project / ".gitignore").write_text("data/\noutputs/\nhelpers.py\n")
    (project / "data" / "unused.csv").write_text("never read\n")
    (project / "helpers.py").write_text("SCALE = 2\n")
    _repository(project)
    py_compile.compile(str(project / "helpers.py"), cfile=importlib.util.cache_from_source(str(project / "helpers.py")))
    # The analysis, plus a look at a replay record left in the project: never packed, and said so.
    record = project / "old.crate.replay-20261124T101500Z"
    pair = generate_key_pair(tmp_path / "keys")
    write_governed_run(sample_replay_result(record=record), record, operator=Person("Ada"), key=pair.private_path)
    write_notebook(
        project / "analysis.ipynb",
        *ANALYSIS_CELLS,
        f"verdict = __import__('json').load(open('{record.name}/result.json'))['verdict']",
        "import helpers\nhelpers.SCALE",  # compiled before: only its .pyc is opened
    )
    result = export_project(project, tmp_path / "out.zip", {"restrict": ("outputs/counts.csv",)})
    files = _files(result)
    assert files["data/input.csv"] is FileRole.INPUT  # read: packed although data/ is ignored
    assert files["outputs/counts.csv"] is FileRole.OUTPUT  # written: packed, and restricted as asked
    assert [f.path for f in result.package.files if f.restricted] == ["outputs/counts.csv"]
    assert "data/unused.csv" not in files
    assert "helpers.py" in files and not any("__pycache__" in p for p in files)
    assert not any(p.startswith(record.name) for p in files)
    (ignored,) = [w for w in result.warnings if "which .gitignore leaves out" in w]
    assert ignored.startswith("the notebooks read data/input.csv, helpers.py, which .gitignore leaves out")
    assert ignored.endswith('include = ["data/input.csv", "helpers.py"]')
    (product,) = [w for w in result.warnings if "never packs its own products" in w]
    assert product.startswith(f"analysis.ipynb read {record.name}/result.json, which is in a repropack replay record")
    assert not any("outputs/" in w and ".gitignore" in w for w in result.warnings)  # outputs: expected ignored


def test_a_restrict_typo_is_refused_after_the_run_and_nothing_is_written(project, tmp_path):
    (project / "repropack.toml").write_text('license = "MIT"\nrestrict = ["data/input.cvs"]\n')
    out = tmp_path / "out.zip"
    with pytest.raises(BadInput) as refused:
        export_project(project, out, resolve_settings({"restrict": ("outputs/count.csv",)}, project, user={}))
    assert str(refused.value) == (
        "restrict pattern 'data/input.cvs' (from repropack.toml) matches no file in the project; nothing was written"
    )
    assert (project / "outputs" / "counts.csv").exists()  # checked against what the run wrote too
    assert not out.exists() and not list(tmp_path.glob(".out.zip*"))


def test_a_restrict_typo_given_as_a_flag_is_named_as_one(project, tmp_path):
    with pytest.raises(BadInput, match=r"^restrict pattern 'outputs/count\.csv' \(from --restrict\) matches no file"):
        export_project(project, tmp_path / "out.zip", {"execute": False, "restrict": ("outputs/count.csv",)})
    assert not (tmp_path / "out.zip").exists()


def test_exclude_and_include_globs_that_match_nothing_are_warnings(project, tmp_path):
    (project / "scratch").mkdir()
    (project / "scratch" / "tmp.csv").write_text("x\n")
    (project / "repropack.toml").write_text('license = "MIT"\nexclude = ["scratch/*", "scratch/*.cvs"]\n')
    settings = resolve_settings({"include": ("data/*.parquet",)}, project, user={})
    result = export_project(project, tmp_path / "out.zip", settings)
    assert "scratch/tmp.csv" not in _files(result)
    assert [w for w in result.warnings if "pattern" in w] == [
        "exclude pattern 'scratch/*.cvs' (from repropack.toml) matches no file in the project",
        "include pattern 'data/*.parquet' (from --include) matches no file in the project",
    ]


def test_a_reexport_after_two_replays_packs_neither_record_nor_the_package(project, tmp_path):
    # The reported bug: the package written into the project, two replays recorded beside it, a report copied
    # next to the notebooks, then a re-export packed all of it (and ran the package folder's notebook).
    first = export_project(project, project / "study.crate.zip", {"execute": False})
    export_project(project, project / "as-folder", {"execute": False})
    pair = generate_key_pair(tmp_path / "keys")
    for second in (0, 1):
        started = datetime(2026, 11, 24, 10, 15, second, tzinfo=timezone.utc)
        record = default_record_path(first.output, started)
        result = sample_replay_result(record=record, started=started, ended=started)
        write_governed_run(result, record, operator=Person("Ada"), key=pair.private_path)
    assert len(list(project.glob("study.crate.replay-*"))) == 2
    (project / "review.html").write_text(render_html_report(sample_replay_result()))
    again = export_project(project, tmp_path / "again.zip", {"execute": False})
    assert sorted(_files(again)) == sorted(_files(first))
    assert [r.notebook for r in again.package.runs] == ["analysis.ipynb"]


def test_a_users_crate_lookalike_is_packed(project, tmp_path):
    # Hostile: a data folder dressed as a record (metadata and a signature.json of its own) still holds inputs.
    crates = project / "data" / "crates"
    crates.mkdir()
    (crates / "ro-crate-metadata.json").write_text("{}")
    (crates / "signature.json").write_text(json.dumps({"algorithm": "Ed25519", "signed": "other"}))
    (crates / "measurements.csv").write_text("m\n1\n")
    result = export_project(project, tmp_path / "out.zip", {"execute": False})
    assert {"data/crates/measurements.csv", "data/crates/signature.json"} <= _files(result).keys()


def test_default_output_is_beside_the_project_when_run_from_inside_it(project, monkeypatch):
    from repropack.export.pipeline import default_output

    monkeypatch.chdir(project / "data")
    assert default_output(Path("..")) == project.parent / "study.crate.zip"
    monkeypatch.chdir(project.parent)
    assert default_output(project) == project.parent / "study.crate.zip"


def test_no_repository_no_git_or_an_ignored_project_apply_no_gitignore(tmp_path, monkeypatch):
    outer = tmp_path / "repo"
    (outer / "sub" / "study").mkdir(parents=True)
    (outer / ".gitignore").write_text("sub/\n")
    git(outer, "init", "-q")
    ignores = git_ignored(outer / "sub" / "study")
    assert not ignores.ignored.paths and "is itself ignored by its git repository" in ignores.note
    (tmp_path / "plain").mkdir()
    assert git_ignored(tmp_path / "plain") == Ignores(GitIgnored())
    (outer / "x.log").write_text("x")
    (outer / ".gitignore").write_text("*.log\n")
    assert git_ignored(outer).ignored.paths == {"x.log"}
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert git_ignored(outer) == Ignores(GitIgnored())
