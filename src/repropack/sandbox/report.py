"""The runner's report read back by the host: a file the sandbox could have replaced with anything.

``read_report`` reads ``report.json`` from the exchange folder the sandbox writes:
regular file only (a planted symlink, FIFO or device is never followed or
opened for reading), at most ``REPORT_LIMIT`` bytes, strict JSON at most
``REPORT_DEPTH`` deep. ``report_problem`` checks the shape of every field the
verdict reads (``replay/verdict.py``), and that the notebooks it lists are the
plan's, in the plan's order. Neither raises: what is wrong is returned as one
line, and the caller turns it into a failure of the run, never a success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.fs.bounded import UnsafeData, read_json_file

#: Far above what the runner writes (a few KiB per notebook), far below what hurts the host.
REPORT_LIMIT = 16 * 2**20
REPORT_DEPTH = 64

#: How a notebook can end in the runner (sandbox/runner.py ``_run_notebook``).
STATUSES = frozenset({"completed", "cell_error", "timeout", "kernel_died"})


@dataclass(frozen=True)
class ReportRead:
    """The parsed report (None when missing or unusable) and, when unusable, why (one line)."""

    data: Any = None
    problem: str = ""


def read_report(path: Path) -> ReportRead:
    """``path`` read as the runner's report. Missing is no problem (the sandbox died first: data None)."""
    try:
        return ReportRead(read_json_file(path, limit=REPORT_LIMIT, max_depth=REPORT_DEPTH, what=path.name))
    except UnsafeData as exc:
        if str(exc) == f"{path.name}: missing":
            return ReportRead()
        return ReportRead(problem=str(exc))


def report_problem(report: Any, planned: Sequence[str] | None = None) -> str:
    """Why ``report`` is not a report the runner could have written ("" when it could be).

    With ``planned`` (the plan's notebooks, in order) the notebooks it lists must be
    the first of those, each but the last completed (the runner stops at a failure),
    and a finished report without an error must account for the whole plan.
    """
    if not isinstance(report, Mapping):
        return f"not a JSON object but {_kind(report)}"
    problem = (
        _expect(report, "finished", bool, optional=False)
        or _expect(report, "error", str)
        or _expect(report, "running", str)
        or _expect(report, "notebooks", list, optional=False)
    )
    if problem:
        return problem
    for index, outcome in enumerate(report["notebooks"]):
        problem = _outcome_problem(outcome)
        if problem:
            return f"notebooks[{index}]: {problem}"
    if planned is not None:
        return _plan_problem(report, list(planned))
    return ""


def _outcome_problem(outcome: Any) -> str:
    if not isinstance(outcome, Mapping):
        return f"not an object but {_kind(outcome)}"
    problem = (
        _expect(outcome, "path", str, optional=False)
        or _expect(outcome, "status", str, optional=False)
        or _expect(outcome, "cell", int)
        or _expect(outcome, "ename", str)
        or _expect(outcome, "evalue", str)
        or _expect(outcome, "seconds", (int, float))
    )
    if problem:
        return problem
    if outcome["status"] not in STATUSES:
        return f"status {outcome['status']!r} is not one of {', '.join(sorted(STATUSES))}"
    if outcome.get("cell") is not None and outcome["cell"] < 0:
        return "cell is negative"
    for key in ("shown_errors", "recorded_errors"):
        problem = _expect(outcome, key, list)
        if problem:
            return problem
        for index, error in enumerate(outcome.get(key) or ()):
            problem = _error_problem(error)
            if problem:
                return f"{key}[{index}]: {problem}"
    return ""


def _error_problem(error: Any) -> str:
    if not isinstance(error, Mapping):
        return f"not an object but {_kind(error)}"
    problem = (
        _expect(error, "cell", int, optional=False)
        or _expect(error, "ename", str)
        or _expect(error, "evalue", str)
        or _expect(error, "via", str)
    )
    if not problem and error["cell"] < 0:
        return "cell is negative"
    return problem


def _plan_problem(report: Mapping, planned: list[str]) -> str:
    listed = [outcome["path"] for outcome in report["notebooks"]]
    if listed != planned[: len(listed)]:
        return f"it lists {', '.join(map(repr, listed))}; the plan runs {', '.join(map(repr, planned))} in that order"
    if any(outcome["status"] != "completed" for outcome in report["notebooks"][:-1]):
        return "a notebook after a failed one ran (the runner stops at the first failure)"
    if report.get("running") is not None and report["running"] not in planned:
        return f"running {report['running']!r} is not a notebook of the plan"
    ended = not listed or report["notebooks"][-1]["status"] == "completed"
    if report["finished"] and not report.get("error") and ended and len(listed) < len(planned):
        return f"it says it finished but lists {len(listed)} of the plan's {len(planned)} notebooks"
    return ""


def _expect(table: Mapping, key: str, types: type | tuple[type, ...], *, optional: bool = True) -> str:
    """Why ``table[key]`` is not of ``types`` ("" when it is; None or absent is fine when ``optional``)."""
    if key not in table or table[key] is None:
        return "" if optional else f"{key} is missing"
    value = table[key]
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:  # JSON true is no number of cells
        return f"{key} is {_kind(value)}, not {_names(wanted)}"
    if not isinstance(value, wanted):
        return f"{key} is {_kind(value)}, not {_names(wanted)}"
    return ""


_TYPE_NAMES = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}


def _names(types: tuple[type, ...]) -> str:
    return " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in types))


def _kind(value: Any) -> str:
    for types, name in (
        (bool, "a boolean"),
        ((int, float), "a number"),
        (str, "a string"),
        (list, "a list"),
        (Mapping, "an object"),
    ):
        if isinstance(value, types):
            return name
    return "null"
