"""Announcing regressions: one JSON object per regression, one per line, to a file, stdout and/or a command.

What a caller may rely on: ``send_alerts`` never raises for a target that fails; it returns one line per
problem ("alert file x: ...", "alert command y: ..."), and every other target still gets its alerts. The file
is appended to, created 0600 when absent, and refused when it is a symlink (never followed) or not a regular
file. The command is an argument list run without a shell, with the alerts on stdin, under a timeout.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from collections.abc import Sequence

from repropack.model.governance import AlertTargets, Regression

#: How long an alert command may take before it is killed and reported.
COMMAND_TIMEOUT_SECONDS = 60


def alert_lines(regressions: Sequence[Regression], run_id: str) -> list[str]:
    """Each regression as one JSON line (no newline inside: json.dumps escapes control characters)."""
    return [
        json.dumps({"event": "regression", "govern_run": run_id, **regression.as_dict()}, sort_keys=True)
        for regression in regressions
    ]


def send_alerts(
    targets: AlertTargets, regressions: Sequence[Regression], run_id: str, *, timeout: float = COMMAND_TIMEOUT_SECONDS
) -> list[str]:
    """Send every regression to every target of ``targets``; the problems met, one line each (empty: all sent).

    ``timeout``: the seconds the command may take."""
    if not regressions or not targets.any:
        return []
    lines = alert_lines(regressions, run_id)
    payload = "".join(line + "\n" for line in lines)
    problems: list[str] = []
    if targets.file is not None:
        problem = _append(targets.file, payload)
        if problem:
            problems.append(problem)
    if targets.stdout:
        sys.stdout.write(payload)
        sys.stdout.flush()
    if targets.command:
        problem = _run_command(targets.command, payload, timeout)
        if problem:
            problems.append(problem)
    return problems


def _append(path, payload: str) -> str | None:
    # O_NOFOLLOW: a symlink planted at the alert path must not redirect what is written (it fails with ELOOP).
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags | os.O_NONBLOCK, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return f"alert file {path}: is a symlink, refused"
        return f"alert file {path}: {error.strerror or error}"
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return f"alert file {path}: not a regular file, refused"
        data = payload.encode("utf-8")
        while data:
            written = os.write(descriptor, data)
            data = data[written:]
    except OSError as error:
        return f"alert file {path}: {error.strerror or error}"
    finally:
        os.close(descriptor)
    return None


def _run_command(command: Sequence[str], payload: str, timeout: float) -> str | None:
    shown = " ".join(command)[:200]
    try:
        completed = subprocess.run(
            list(command),
            input=payload.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            shell=False,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"alert command {shown}: no answer within {timeout:g}s, killed"
    except OSError as error:
        return f"alert command {shown}: {error.strerror or error}"
    if completed.returncode != 0:
        said = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        last = f": {said[-1][:200]}" if said else ""
        return f"alert command {shown}: exit status {completed.returncode}{last}"
    return None
