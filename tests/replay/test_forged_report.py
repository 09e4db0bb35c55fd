"""A report the sandbox could forge can only make a verdict worse (pure: replay/verdict.py, replay/executed.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from repropack.model import CauseKind
from repropack.replay.executed import new_errors
from repropack.replay.verdict import classify_run, unreported_error_cause


def _ok(*paths: str) -> dict:
    outcomes = [{"path": p, "status": "completed", "cell": None, "ename": None, "evalue": None} for p in paths]
    return {"environment": {}, "notebooks": outcomes, "running": None, "error": None, "finished": True}


def _classify(report, exit_code=0, **kwargs):
    return classify_run(report, timed_out=False, out_of_memory=False, exit_code=exit_code, log_tail="", **kwargs)


def test_an_unreadable_report_is_a_failure_naming_why():
    cause = _classify(None, report_problem="report.json: a symlink, not a regular file")
    assert cause.kind is CauseKind.KERNEL_DIED
    assert cause.detail == "the sandbox's report was unusable: report.json: a symlink, not a regular file"


@pytest.mark.parametrize("report", [[], "ok", 3, {"finished": True, "notebooks": [1]}, {"finished": True}])
def test_a_report_of_another_shape_is_a_failure_never_a_traceback(report):
    cause = _classify(report)
    assert cause.kind is CauseKind.KERNEL_DIED
    assert cause.detail.startswith("the sandbox's report was unusable: ")


def test_a_report_that_skips_notebooks_of_the_plan_is_a_failure():
    cause = _classify(_ok(), planned=["a.ipynb"])
    assert (
        cause.detail == "the sandbox's report was unusable: it says it finished but lists 0 of the plan's 1 notebooks"
    )
    assert _classify(_ok("a.ipynb"), planned=["a.ipynb"]) is None


def test_a_non_zero_exit_with_an_ok_report_is_a_failure():
    cause = _classify(_ok("a.ipynb"), exit_code=1, planned=["a.ipynb"])
    assert cause.kind is CauseKind.KERNEL_DIED
    assert cause.detail == "the sandbox exited with status 1 although its report says every notebook completed"


def test_a_timeout_still_wins_over_a_garbage_report():
    cause = classify_run([], timed_out=True, out_of_memory=False, exit_code=None, log_tail="")
    assert cause.kind is CauseKind.TIMEOUT and cause.detail.startswith("the sandbox: ")


def _notebook(path: Path, *outputs_per_cell: list[dict]) -> None:
    nb = nbformat.v4.new_notebook()
    for outputs in outputs_per_cell:
        cell = nbformat.v4.new_code_cell("pass")
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


ERROR = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}
STREAM = {"output_type": "stream", "name": "stdout", "text": "hi\n"}


def test_an_error_output_in_an_executed_notebook_is_the_cause_the_report_hid(tmp_path: Path):
    _notebook(tmp_path / "recorded" / "a.ipynb", [STREAM], [STREAM])
    _notebook(tmp_path / "work" / "a.ipynb", [STREAM], [ERROR])
    errors = new_errors(tmp_path / "work", tmp_path / "recorded", [("a.ipynb", False)])
    cause = unreported_error_cause(errors)
    assert cause.kind is CauseKind.CELL_ERROR and (cause.notebook, cause.cell) == ("a.ipynb", 2)
    assert cause.detail == (
        "a.ipynb cell 2: ZeroDivisionError: division by zero; "
        "an error output in the executed notebook, though the sandbox's report said it completed"
    )


def test_an_error_the_recorded_notebook_showed_in_the_same_cell_is_not_new(tmp_path: Path):
    _notebook(tmp_path / "recorded" / "a.ipynb", [ERROR])
    _notebook(tmp_path / "work" / "a.ipynb", [ERROR])
    assert new_errors(tmp_path / "work", tmp_path / "recorded", [("a.ipynb", False)]) == []


def test_a_notebook_allowed_to_fail_is_not_read(tmp_path: Path):
    _notebook(tmp_path / "recorded" / "a.ipynb", [STREAM])
    _notebook(tmp_path / "work" / "a.ipynb", [ERROR])
    assert new_errors(tmp_path / "work", tmp_path / "recorded", [("a.ipynb", True)]) == []


@pytest.mark.parametrize(
    ("plant", "why"),
    [
        (lambda p: os.symlink("/etc/passwd", p), "a.ipynb: a symlink, not a regular file"),
        (lambda p: os.mkfifo(p), "a.ipynb: a FIFO, not a regular file"),
        (lambda p: p.write_text("[" * 100_000), "a.ipynb: nested deeper than the 256 levels allowed"),
        (lambda p: p.write_text(json.dumps({"cells": {}})), "not a notebook (no list of cells)"),
        (
            lambda p: p.write_text(json.dumps({"cells": [{"outputs": 3}]})),
            "not a notebook (cell 1 has no list of outputs)",
        ),
        (lambda p: None, "a.ipynb: missing"),
    ],
)
def test_an_executed_notebook_that_cannot_be_read_safely_is_a_failure(tmp_path: Path, plant, why):
    _notebook(tmp_path / "recorded" / "a.ipynb", [STREAM])
    (tmp_path / "work").mkdir()
    plant(tmp_path / "work" / "a.ipynb")
    cause = unreported_error_cause(new_errors(tmp_path / "work", tmp_path / "recorded", [("a.ipynb", False)]))
    assert cause.kind is CauseKind.KERNEL_DIED and cause.notebook == "a.ipynb"
    assert cause.detail == f"a.ipynb: the executed notebook cannot be read: {why}"
