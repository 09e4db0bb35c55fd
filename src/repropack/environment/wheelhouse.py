"""Download wheels of the locked environment, so a replay can build with no network."""

from __future__ import annotations

import subprocess
from pathlib import Path

from repropack.errors import CannotRun
from repropack.model import layout


def download_wheelhouse(lock_text: str, interpreter: str, scratch: Path) -> dict[str, Path]:
    """Fetch a wheel (or sdist when no wheel exists) for every pinned line of the lock.

    Uses the kernel's own interpreter's pip, so the files suit the interpreter
    that ran the notebooks. Returns package path -> downloaded file, kept in
    ``scratch`` (the caller's temporary folder).
    """
    folder = scratch
    lock_file = folder / "requirements.lock.txt"
    lock_file.write_text(lock_text, encoding="utf-8")
    wheels = folder / "wheels"
    command = [
        interpreter,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        "-q",
        "-d",
        str(wheels),
        "-r",
        str(lock_file),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise CannotRun(f"cannot download the wheelhouse: {last}")
    return {f"{layout.WHEELHOUSE}/{f.name}": f for f in sorted(wheels.iterdir())}
