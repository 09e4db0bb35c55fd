"""The real console script, run as a reviewer would, and what a refusal of hostile input must look like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def repropack(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``repropack ARGS`` in a subprocess with the test's environment (plus ``env``); text output captured."""
    exe = Path(sys.executable).with_name("repropack")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "repropack"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def assert_refused(done: subprocess.CompletedProcess, *fragments: str, code: int = 2) -> str:
    """The command exited ``code`` with its error as one line on stderr holding every fragment, and no traceback.

    Replay's progress (a stage line with its bar, drawn before the package was refused) may precede it.
    """
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert lines and lines[-1].startswith("repropack: error: "), done.stderr
    assert all("━" in line for line in lines[:-1]), done.stderr  # nothing but progress before the error
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    assert done.returncode == code, done.stderr
    return lines[-1]


def user_config(tmp: Path, text: str) -> dict[str, str]:
    """The environment that makes repropack read ``text`` as the user config."""
    path = tmp / "user-config.toml"
    path.write_text(text)
    return {"REPROPACK_CONFIG": str(path)}
