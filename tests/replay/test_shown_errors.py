"""Cause classification sees errors that IPython shows without raising (``%run`` of a script that raises).

Pure: the runner's report (as ``sandbox/runner.py`` writes it) goes in, a cause comes out.
"""

from __future__ import annotations

from repropack.model import CauseKind
from repropack.replay.verdict import classify_run


def _report(outcome: dict) -> dict:
    return {"environment": {}, "notebooks": [outcome], "running": None, "error": None, "finished": True}


def _classify(outcome: dict, inputs=()):
    return classify_run(_report(outcome), timed_out=False, out_of_memory=False, exit_code=0, log_tail="", inputs=inputs)


NAME_ERROR = {"ename": "NameError", "evalue": "name 'total' is not defined"}


def _failed(cell: int, shown: list[dict], recorded: list[dict] = ()) -> dict:
    return {
        "path": "analysis.ipynb",
        "status": "cell_error",
        "cell": cell,
        **NAME_ERROR,
        "seconds": 1.0,
        "shown_errors": shown,
        "recorded_errors": list(recorded),
    }


def test_a_script_error_shown_by_run_is_the_cause_and_the_later_name_error_its_consequence():
    shown = [
        {"cell": 0, "ename": "PermissionError", "evalue": "[Errno 13] Permission denied: 'data/state.csv'"},
        {"cell": 1, **NAME_ERROR, "via": "error output"},
    ]
    cause = _classify(_failed(1, shown))
    assert cause.kind is CauseKind.CELL_ERROR
    assert cause.cell == 1 and cause.notebook == "analysis.ipynb"
    assert cause.detail.startswith("analysis.ipynb cell 1: PermissionError: [Errno 13] Permission denied")
    assert "shown by cell 1 without stopping it" in cause.detail
    assert cause.detail.endswith("cell 2 then failed: NameError: name 'total' is not defined")


def test_the_shown_error_is_classified_like_a_raised_one_a_missing_module_or_input():
    module = {"cell": 0, "ename": "ModuleNotFoundError", "evalue": "No module named 'helpers'"}
    cause = _classify(_failed(2, [module, {"cell": 2, **NAME_ERROR}]))
    assert cause.kind is CauseKind.MISSING_MODULE
    assert cause.detail.startswith("helpers (analysis.ipynb cell 1: ModuleNotFoundError")
    missing = {"cell": 0, "ename": "FileNotFoundError", "evalue": "[Errno 2] No such file or directory: 'data/raw.csv'"}
    cause = _classify(_failed(1, [missing, {"cell": 1, **NAME_ERROR}]), inputs=("data/raw.csv",))
    assert cause.kind is CauseKind.MISSING_INPUT and cause.cell == 1


def test_an_error_shown_in_the_failing_cell_before_it_raised_names_that_cell_twice():
    printed = {"cell": 3, "ename": "KeyError", "evalue": "'DATA_DIR'", "via": "printed traceback"}
    cause = _classify(_failed(3, [printed, {"cell": 3, **NAME_ERROR}]))
    assert cause.detail == (
        "analysis.ipynb cell 4: KeyError: 'DATA_DIR'; shown by cell 4 without stopping it (printed traceback); "
        "cell 4 then failed: NameError: name 'total' is not defined"
    )


def test_errors_the_recorded_run_showed_too_are_not_blamed():
    # The recorded run (exported with --allow-errors, say) showed this warning-like traceback as well.
    old = {"cell": 0, "ename": "UserWarning", "evalue": "legacy format"}
    cause = _classify(_failed(1, [old, {"cell": 1, **NAME_ERROR}], recorded=[old]))
    assert cause.detail == "analysis.ipynb cell 2: NameError: name 'total' is not defined"
    assert cause.cell == 2


def test_without_shown_errors_the_raised_error_is_the_cause_as_before():
    plain = {"path": "analysis.ipynb", "status": "cell_error", "cell": 0, **NAME_ERROR, "seconds": 1.0}
    assert _classify(plain).detail == "analysis.ipynb cell 1: NameError: name 'total' is not defined"
    only_itself = _failed(0, [{"cell": 0, **NAME_ERROR, "via": "error output"}])
    assert _classify(only_itself).detail == "analysis.ipynb cell 1: NameError: name 'total' is not defined"
