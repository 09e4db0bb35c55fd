"""From what the sandbox reported to a verdict with a classified cause.

Pure functions over plain data, so every cause can be tested without running
anything: the runner's JSON report and how the sandbox ended go in, a
``FailureCause`` (or None) comes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from repropack.model import CauseKind, FailureCause, OutputComparison, OutputStatus, Verdict
from repropack.replay.executed import ExecutedError
from repropack.sandbox.report import report_problem as shape_problem

_NETWORK_ERRORS = frozenset(
    {
        "ConnectionError",
        "ConnectionRefusedError",
        "URLError",
        "gaierror",
        "NewConnectionError",
        "MaxRetryError",
        "ConnectTimeout",
        "ConnectTimeoutError",
        "ProxyError",
        "SSLError",
        "HTTPError",
        "RemoteDisconnected",
    }
)
_NETWORK_TEXT = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known|"
    r"No address associated with hostname|nodename nor servname|Failed to establish a new connection|"
    r"getaddrinfo failed|Connection refused",
    re.IGNORECASE,
)
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
_MISSING_FILE = re.compile(r"No such file or directory: '([^']+)'")


def _cell_failure(notebook: str, cell: int | None, ename: str, evalue: str, inputs: Iterable[str]) -> FailureCause:
    where = f"{notebook} cell {cell}" if cell is not None else notebook
    line = f"{where}: {ename}: {evalue}".strip()
    if ename in ("ModuleNotFoundError", "ImportError"):
        module = _MISSING_MODULE.search(evalue)
        name = module.group(1) if module else evalue
        return FailureCause(CauseKind.MISSING_MODULE, f"{name} ({line})", notebook, cell)
    if ename in _NETWORK_ERRORS or _NETWORK_TEXT.search(evalue):
        return FailureCause(CauseKind.NETWORK_NEEDED, line, notebook, cell)
    missing = _MISSING_FILE.search(evalue)
    if ename == "FileNotFoundError" and missing and any(missing.group(1).endswith(path) for path in inputs):
        return FailureCause(CauseKind.MISSING_INPUT, line, notebook, cell)
    if ename == "MemoryError":
        return FailureCause(CauseKind.OUT_OF_MEMORY, line, notebook, cell)
    return FailureCause(CauseKind.CELL_ERROR, line, notebook, cell)


def _number(cell_index: int | None) -> int | None:
    """The runner reports cell indices; people count cells from 1."""
    return None if cell_index is None else cell_index + 1


def classify_run(
    report: Mapping | None,
    *,
    timed_out: bool,
    out_of_memory: bool,
    exit_code: int | None,
    log_tail: str,
    inputs: Iterable[str] = (),
    memory_note: str = "",
    timeout_note: str = "",
    cell_timeout_note: str = "",
    report_problem: str = "",
    planned: Sequence[str] | None = None,
) -> FailureCause | None:
    """The cause of a failed run, or None when every notebook completed.

    Resource kills win over what the runner saw: a kernel that died because the
    container hit its memory limit is "out of memory", not "kernel died".
    ``memory_note`` and ``timeout_note`` (the limit, the recorded figure, the flag
    that raises it: ``replay/limits.py``) end the cause of such a kill;
    ``cell_timeout_note`` (the per-cell limit and ``--timeout``) that of a cell the
    runner stopped, so the two timeouts read apart.

    The report was written where the notebooks could write, so it can only make the
    verdict worse: one that could not be read (``report_problem``, from
    ``sandbox/report.py``) or is not of the runner's shape, or that lists other
    notebooks than ``planned`` (the plan's, in order), is a failure; so is a sandbox
    that exited with a status other than 0 while its report says all went well.
    """
    problem = report_problem or (shape_problem(report, planned) if report is not None else "")
    if problem:
        report = None  # nothing in it is used, not even where the run was
    notebooks = list((report or {}).get("notebooks", ()))
    last = notebooks[-1] if notebooks else None
    where = (report or {}).get("running") or (last["path"] if last else "the sandbox")
    if timed_out:
        return FailureCause(
            CauseKind.TIMEOUT,
            _noted(f"{where}: the whole run's wall-clock limit was reached and the sandbox was killed", timeout_note),
        )
    if out_of_memory:
        return FailureCause(
            CauseKind.OUT_OF_MEMORY, _noted(f"{where}: the sandbox hit its memory limit and was killed", memory_note)
        )
    if problem:
        return FailureCause(CauseKind.KERNEL_DIED, f"the sandbox's report was unusable: {problem}")
    if report is None or not report.get("finished"):
        tail = [line for line in log_tail.splitlines() if line.strip()]
        reason = tail[-1] if tail else f"exit status {exit_code}"
        return FailureCause(CauseKind.KERNEL_DIED, f"{where}: the sandbox stopped before reporting ({reason})")
    if report.get("error"):
        return FailureCause(CauseKind.KERNEL_DIED, f"the notebook runner failed: {report['error']}")
    if last is None or last["status"] == "completed":
        if exit_code != 0:
            return FailureCause(
                CauseKind.KERNEL_DIED,
                f"the sandbox exited with status {exit_code} although its report says every notebook completed",
            )
        return None
    cell = _number(last["cell"])
    if last["status"] == "timeout":
        return FailureCause(
            CauseKind.TIMEOUT, _noted(f"{where}: cell {cell} ran past the cell timeout", cell_timeout_note), where, cell
        )
    if last["status"] == "kernel_died":
        return FailureCause(
            CauseKind.KERNEL_DIED, f"{where}: cell {cell}: {last.get('evalue') or 'the kernel died'}", where, cell
        )
    ename, evalue = last.get("ename") or "", last.get("evalue") or ""
    first = _first_shown_error(last)
    if first is None:
        cause = _cell_failure(where, cell, ename, evalue, inputs)
        if cause.kind is CauseKind.OUT_OF_MEMORY:  # a MemoryError: the allocation failed under the limit
            return FailureCause(cause.kind, _noted(cause.detail, memory_note), cause.notebook, cause.cell)
        return cause
    # IPython showed an error without stopping the cell (a %run script that raised): that error is the
    # cause, and the one that stopped the notebook (a NameError for what the script never defined) its consequence.
    shown_cell = _number(first["cell"])
    earlier = _cell_failure(where, shown_cell, first.get("ename") or "", first.get("evalue") or "", inputs)
    note = f"shown by cell {shown_cell} without stopping it ({first.get('via') or 'error output'})"
    then = f"cell {cell} then failed: {ename}: {evalue}".strip()
    return FailureCause(earlier.kind, f"{earlier.detail}; {note}; {then}", where, shown_cell)


def unreported_error_cause(errors: Sequence[ExecutedError], inputs: Iterable[str] = ()) -> FailureCause | None:
    """The cause for the first error an executed notebook holds (``replay/executed.py``) when the report
    gave none: the report said the cell completed, the notebook's own outputs say it did not."""
    if not errors:
        return None
    first = errors[0]
    if first.unreadable:
        return FailureCause(CauseKind.KERNEL_DIED, f"{first.notebook}: {first.evalue}", first.notebook)
    cause = _cell_failure(first.notebook, first.cell, first.ename, first.evalue, inputs)
    note = "an error output in the executed notebook, though the sandbox's report said it completed"
    return FailureCause(cause.kind, f"{cause.detail}; {note}", cause.notebook, cause.cell)


def _noted(detail: str, note: str) -> str:
    return f"{detail}; {note}" if note else detail


def _first_shown_error(outcome: Mapping) -> Mapping | None:
    """The first error a cell showed at replay that the recorded run did not show there, if it came before
    the error that stopped the notebook (the runner lists what cells showed up to the failing one)."""
    recorded = {(e.get("cell"), e.get("ename"), e.get("evalue")) for e in outcome.get("recorded_errors", ())}
    stopped = (outcome.get("cell"), outcome.get("ename"), outcome.get("evalue"))
    for error in outcome.get("shown_errors", ()):
        key = (error.get("cell"), error.get("ename"), error.get("evalue"))
        if key == stopped:
            return None  # the first new error is the one that stopped the notebook: nothing came before it
        if key not in recorded:
            return error
    return None


def verdict_of(cause: FailureCause | None, outputs: Sequence[OutputComparison]) -> Verdict:
    """Failed when the run could not end; else reproduced unless an output is different or missing.

    A ``nondeterministic`` cause is no failure: the run ended and its outputs say
    not reproduced, for a reason the recorded run already had.
    """
    if cause is not None and cause.kind is not CauseKind.NONDETERMINISTIC:
        return Verdict.FAILED
    bad = {OutputStatus.DIFFERENT, OutputStatus.MISSING}
    return Verdict.NOT_REPRODUCED if any(o.status in bad for o in outputs) else Verdict.REPRODUCED


@dataclass(frozen=True)
class EnvironmentDrift:
    """Where the rebuilt environment differs from the recorded one, one line each, by severity.

    ``warnings`` may explain a difference in results: another minor version of
    Python, a locked distribution at another version or missing. ``info`` is
    unlikely to: another micro (bug-fix) version of the same Python.
    """

    warnings: tuple[str, ...] = ()
    info: tuple[str, ...] = ()


def _minor(version: str | None) -> tuple[str, ...]:
    return tuple((version or "").split(".")[:2])


def environment_drift(
    recorded_python: str | None, recorded_lock: Mapping[str, str], replayed: Mapping | None
) -> EnvironmentDrift:
    """Where the rebuilt environment differs from the recorded one; ``replayed`` is what repropack's probe of
    the environment found (``sandbox/probe.py``), never the runner's report (nothing when there was no probe)."""
    if not replayed:
        return EnvironmentDrift()
    warnings, info = [], []
    now_python = replayed.get("python_version")
    if recorded_python and now_python != recorded_python:
        if not now_python:
            warnings.append(f"Python version not reported by the sandbox (recorded {recorded_python})")
        elif _minor(now_python) == _minor(recorded_python):
            info.append(f"Python {now_python} (recorded {recorded_python}): another micro version of the same Python")
        else:
            warnings.append(f"Python {now_python} (recorded {recorded_python}): another minor version of Python")
    installed = {canonicalize_name(k): v for k, v in replayed.get("distributions", {}).items()}
    for name, version in sorted(recorded_lock.items()):
        now = installed.get(canonicalize_name(name))
        if now is None:
            warnings.append(f"{name} not installed (recorded {version})")
        elif now != version:
            warnings.append(f"{name} {now} (recorded {version})")
    return EnvironmentDrift(tuple(warnings), tuple(info))
