"""From what the sandbox reported to a verdict with a classified cause.

Pure functions over plain data, so every cause can be tested without running
anything: the runner's JSON report and how the sandbox ended go in, a
``FailureCause`` (or None) comes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from packaging.utils import canonicalize_name

from repropack.model import CauseKind, FailureCause, OutputComparison, OutputStatus, Verdict

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
) -> FailureCause | None:
    """The cause of a failed run, or None when every notebook completed.

    Resource kills win over what the runner saw: a kernel that died because the
    container hit its memory limit is "out of memory", not "kernel died".
    """
    notebooks = list((report or {}).get("notebooks", ()))
    last = notebooks[-1] if notebooks else None
    where = (report or {}).get("running") or (last["path"] if last else "the sandbox")
    if timed_out:
        return FailureCause(CauseKind.TIMEOUT, f"{where}: the wall-clock limit was reached and the sandbox was killed")
    if out_of_memory:
        return FailureCause(CauseKind.OUT_OF_MEMORY, f"{where}: the sandbox hit its memory limit and was killed")
    if report is None or not report.get("finished"):
        tail = [line for line in log_tail.splitlines() if line.strip()]
        reason = tail[-1] if tail else f"exit status {exit_code}"
        return FailureCause(CauseKind.KERNEL_DIED, f"{where}: the sandbox stopped before reporting ({reason})")
    if report.get("error"):
        return FailureCause(CauseKind.KERNEL_DIED, f"the notebook runner failed: {report['error']}")
    if last is None or last["status"] == "completed":
        return None
    cell = _number(last["cell"])
    if last["status"] == "timeout":
        return FailureCause(CauseKind.TIMEOUT, f"{where}: cell {cell} ran past the cell timeout", where, cell)
    if last["status"] == "kernel_died":
        return FailureCause(
            CauseKind.KERNEL_DIED, f"{where}: cell {cell}: {last.get('evalue') or 'the kernel died'}", where, cell
        )
    return _cell_failure(where, cell, last.get("ename") or "", last.get("evalue") or "", inputs)


def verdict_of(cause: FailureCause | None, outputs: Sequence[OutputComparison]) -> Verdict:
    if cause is not None:
        return Verdict.FAILED
    bad = {OutputStatus.DIFFERENT, OutputStatus.MISSING}
    return Verdict.NOT_REPRODUCED if any(o.status in bad for o in outputs) else Verdict.REPRODUCED


def environment_drift(
    recorded_python: str | None, recorded_lock: Mapping[str, str], replayed: Mapping | None
) -> list[str]:
    """Where the rebuilt environment differs from the recorded one, one line each."""
    if not replayed:
        return []
    drift = []
    if recorded_python and replayed.get("python_version") != recorded_python:
        drift.append(f"Python {replayed.get('python_version')} (recorded {recorded_python})")
    installed = {canonicalize_name(k): v for k, v in replayed.get("distributions", {}).items()}
    for name, version in sorted(recorded_lock.items()):
        now = installed.get(canonicalize_name(name))
        if now is None:
            drift.append(f"{name} not installed (recorded {version})")
        elif now != version:
            drift.append(f"{name} {now} (recorded {version})")
    return drift
