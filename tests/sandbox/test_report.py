"""The runner's report as the host reads it back: regular files only, bounded, and of the runner's shape."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from repropack.sandbox.report import REPORT_LIMIT, read_report, report_problem


def _outcome(path: str = "a.ipynb", status: str = "completed", **extra) -> dict:
    return {"path": path, "status": status, "cell": None, "ename": None, "evalue": None, "seconds": 0.5, **extra}


def _report(*outcomes: dict, finished: bool = True, **extra) -> dict:
    return {
        "environment": {},
        "notebooks": list(outcomes),
        "running": None,
        "error": None,
        "finished": finished,
        **extra,
    }


def test_a_report_the_runner_wrote_is_read_back(tmp_path: Path):
    (tmp_path / "report.json").write_text(json.dumps(_report(_outcome())))
    read = read_report(tmp_path / "report.json")
    assert read.problem == "" and read.data["notebooks"][0]["status"] == "completed"
    assert report_problem(read.data, ["a.ipynb"]) == ""


def test_a_missing_report_is_no_problem_only_absent(tmp_path: Path):
    read = read_report(tmp_path / "report.json")
    assert read.data is None and read.problem == ""


def test_a_symlink_to_a_host_file_is_never_followed(tmp_path: Path):
    secret = tmp_path / "shadow"
    secret.write_text(json.dumps(_report(_outcome())))
    os.symlink(secret, tmp_path / "report.json")
    read = read_report(tmp_path / "report.json")
    assert read.data is None and read.problem == "report.json: a symlink, not a regular file"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path):
    os.mkfifo(tmp_path / "report.json")
    found = {}
    thread = threading.Thread(target=lambda: found.update(read=read_report(tmp_path / "report.json")), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "read_report blocked on a FIFO"
    assert found["read"].problem == "report.json: a FIFO, not a regular file"


def test_a_socket_is_refused(tmp_path: Path):
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "report.json"))
        assert read_report(tmp_path / "report.json").problem.startswith("report.json: ")
    finally:
        server.close()


def test_a_folder_is_refused(tmp_path: Path):
    (tmp_path / "report.json").mkdir()
    assert read_report(tmp_path / "report.json").problem == "report.json: a folder, not a regular file"


def test_a_report_too_big_is_refused_unread(tmp_path: Path):
    with open(tmp_path / "report.json", "wb") as fh:
        fh.truncate(REPORT_LIMIT + 1)  # sparse: no disk used
    assert read_report(tmp_path / "report.json").problem == (
        f"report.json: {REPORT_LIMIT + 1} bytes, more than the {REPORT_LIMIT} allowed"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "report.json: not JSON (Expecting value at line 1 column 1)"),
        ('{"finished": NaN}', "report.json: NaN is not JSON"),
        ('{"finished": true, "finished": false}', "report.json: the key 'finished' appears twice in one object"),
        ("[" * 100 + "]" * 100, "report.json: nested deeper than the 64 levels allowed"),
        ("[" * 200_000 + "]" * 200_000, "report.json: nested deeper than the 64 levels allowed"),
    ],
)
def test_text_that_is_no_strict_json_is_refused(tmp_path: Path, text: str, problem: str):
    (tmp_path / "report.json").write_text(text)
    assert read_report(tmp_path / "report.json").problem == problem


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        ([], "not a JSON object but a list"),
        ({"notebooks": []}, "finished is missing"),
        ({"finished": "yes", "notebooks": []}, "finished is a string, not a boolean"),
        ({"finished": True}, "notebooks is missing"),
        ({"finished": True, "notebooks": {}}, "notebooks is an object, not a list"),
        ({"finished": True, "notebooks": [], "error": 1}, "error is a number, not a string"),
        ({"finished": True, "notebooks": ["a.ipynb"]}, "notebooks[0]: not an object but a string"),
        (
            _report(_outcome(status="fine")),
            "notebooks[0]: status 'fine' is not one of cell_error, completed, kernel_died, timeout",
        ),
        (_report(_outcome(cell=True)), "notebooks[0]: cell is a boolean, not a number"),
        (_report(_outcome(cell=-1)), "notebooks[0]: cell is negative"),
        (_report(_outcome(cell="3")), "notebooks[0]: cell is a string, not a number"),
        (_report(_outcome(ename=["x"])), "notebooks[0]: ename is a list, not a string"),
        (_report(_outcome(path=None)), "notebooks[0]: path is missing"),
        (_report(_outcome(shown_errors={})), "notebooks[0]: shown_errors is an object, not a list"),
        (_report(_outcome(shown_errors=[{"ename": "E"}])), "notebooks[0]: shown_errors[0]: cell is missing"),
        (
            _report(_outcome(recorded_errors=[{"cell": 0, "evalue": 3}])),
            "notebooks[0]: recorded_errors[0]: evalue is a number, not a string",
        ),
    ],
)
def test_a_report_of_another_shape_is_refused_naming_the_field(report, problem):
    assert report_problem(report) == problem


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        (_report(), "it says it finished but lists 0 of the plan's 2 notebooks"),
        (_report(_outcome("a.ipynb")), "it says it finished but lists 1 of the plan's 2 notebooks"),
        (
            _report(_outcome("b.ipynb"), _outcome("a.ipynb")),
            "it lists 'b.ipynb', 'a.ipynb'; the plan runs 'a.ipynb', 'b.ipynb' in that order",
        ),
        (_report(_outcome("evil.ipynb")), "it lists 'evil.ipynb'; the plan runs 'a.ipynb', 'b.ipynb' in that order"),
        (
            _report(_outcome("a.ipynb", "cell_error", cell=1), _outcome("b.ipynb")),
            "a notebook after a failed one ran (the runner stops at the first failure)",
        ),
        (_report(finished=False, running="c.ipynb"), "running 'c.ipynb' is not a notebook of the plan"),
    ],
)
def test_a_report_that_does_not_account_for_the_plan_is_refused(report, problem):
    assert report_problem(report, ["a.ipynb", "b.ipynb"]) == problem


def test_reports_the_runner_writes_on_the_way_are_of_the_plan():
    plan = ["a.ipynb", "b.ipynb"]
    assert report_problem(_report(finished=False), plan) == ""  # written before the first notebook
    assert report_problem(_report(_outcome("a.ipynb"), finished=False, running="b.ipynb"), plan) == ""
    assert report_problem(_report(_outcome("a.ipynb", "cell_error", cell=2, ename="E", evalue="x")), plan) == ""
    assert report_problem(_report(error="RuntimeError: boom"), plan) == ""  # the runner itself failed
