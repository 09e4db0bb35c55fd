"""For machines with no container engine: a cached virtualenv built from the lock.

Isolation is much weaker than a container: the notebooks run as the current
user with the host's network and filesystem; only the wall-clock timeout is
enforced. The governed-run record says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from repropack.errors import BadInput, BuildFailed, CannotRun
from repropack.fs.atomic import staged_folder
from repropack.fs.hashing import default_cache_dir
from repropack.fs.stale import owned_temp_dir
from repropack.model import layout
from repropack.sandbox.base import (
    BACKENDS,
    RUNNER,
    Backend,
    BuildRequest,
    PreparedEnvironment,
    RunPlan,
    SandboxLimits,
    SandboxRun,
)
from repropack.sandbox.probe import PROBE, PROBE_TIMEOUT, EnvironmentFacts, ProbeFailed, parse_probe
from repropack.sandbox.report import read_report


def _venv_root() -> Path:
    return default_cache_dir() / "venvs"


def _run_quiet(command: list[str], env: dict | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise BuildFailed(f"build failed: {lines[-1] if lines else 'exit ' + str(done.returncode)}")


def _point_scripts_at(staging: Path, target: Path) -> None:
    """Make the scripts pip wrote in ``staging/bin`` start the interpreter at ``target``, where the venv will be.

    pip names the interpreter in a script's first lines (``#!/path/python``, or for a long path a
    ``#!/bin/sh`` line and an ``exec /path/python`` line); the rest of the script is left as it is.
    """
    old, new = f"{staging}/bin/".encode(), f"{target}/bin/".encode()
    for script in (staging / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            lines = script.read_bytes().splitlines(keepends=True)
            if lines and lines[0].startswith(b"#!") and any(old in line for line in lines[:2]):
                script.write_bytes(b"".join([line.replace(old, new) for line in lines[:2]] + lines[2:]))


def _write_private(work_dir: Path, private: Mapping[str, bytes]) -> list[Path]:
    """Each decrypted input written at its package path in ``work_dir``: a new file (never through a link),
    mode 0600; returns the files, for ``_remove_private``. CannotRun, with what was written removed, when one
    cannot be written."""
    written: list[Path] = []
    try:
        for path, plaintext in private.items():
            target = work_dir / path
            for parent in reversed(PurePosixPath(path).parents[:-1]):
                folder = work_dir / parent
                if not folder.is_dir() or folder.is_symlink():
                    folder.mkdir(mode=0o755)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            written.append(target)
            with os.fdopen(fd, "wb") as fh:
                fh.write(plaintext)
    except OSError as exc:
        _remove_private(written)
        raise CannotRun(f"cannot put the decrypted input {path} in the work dir: {exc.strerror or exc}") from None
    return written


def _remove_private(files: list[Path]) -> None:
    """Remove the decrypted inputs written for the run, whatever the notebooks did to them."""
    for file in files:
        try:
            os.unlink(file)
        except OSError:  # gone already, or the notebook put a folder there: the work dir's removal takes it
            pass


@BACKENDS.register
class LocalBackend(Backend):
    name = "local"
    isolation = (
        "local virtualenv: host user, host network and filesystem; only the wall-clock timeout is enforced, "
        "by this process (a killed replay leaves its notebooks running), and the work folder's size limit "
        "(--disk) where the host can mount one; memory and pids are not limited"
    )

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "engine": "virtualenv",
            "engine_version": sys.version.split()[0],
            "api_version": None,
        }

    def prepare(self, request: BuildRequest) -> PreparedEnvironment:
        target = _venv_root() / request.environment_hash[:20]
        python = target / "bin" / "python"
        if python.exists():
            os.utime(target)  # its last use: `repropack cache prune --older-than` removes the least recently used
            return PreparedEnvironment(reference=str(python), name=str(target), reused=True)
        broken = os.path.lexists(target)  # a cache entry without bin/python: rebuilt over
        started = time.monotonic()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Built beside the target and renamed into place, so a half-built venv is never
        # found in the cache; the scripts pip writes are pointed at the target first.
        try:
            with staged_folder(target, replace=broken, mode=0o700) as staging:
                _run_quiet([sys.executable, "-m", "venv", str(staging)])
                pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
                env = dict(os.environ)
                if request.ca_bundle:
                    env["PIP_CERT"] = str(request.ca_bundle)
                if request.offline:
                    pip += ["--no-index", "--find-links", str(request.package_root / layout.WHEELHOUSE)]
                # The lock as repropack re-rendered it from the strictly parsed entries, never the package's file.
                lock = staging / "repropack-lock.txt"
                lock.write_text(request.inputs.lock_text, encoding="utf-8")
                _run_quiet([*pip, "-r", str(lock)], env=env)
                lock.unlink()
                # The project's own non-editable installs, from the wheels the package carries (no build, no index).
                wheels = sorted(request.package_root / path for path in request.inputs.local_wheels)
                if wheels:
                    _run_quiet([*pip, "--no-deps", "--no-index", *map(str, wheels)], env=env)
                _point_scripts_at(staging, target)
        except BadInput:
            if not python.exists():
                raise
            # Another replay built the same environment meanwhile: ours was removed, use theirs.
            return PreparedEnvironment(reference=str(python), name=str(target), reused=True)
        return PreparedEnvironment(
            reference=str(python), name=str(target), reused=False, build_seconds=time.monotonic() - started
        )

    def probe(self, env: PreparedEnvironment, limits: SandboxLimits) -> EnvironmentFacts:
        """The virtualenv's python running the probe in an empty folder, with none of the host's Python variables."""
        with tempfile.TemporaryDirectory(prefix="repropack-probe-") as empty:
            try:
                done = subprocess.run(
                    [env.reference, "-I", "-S", str(PROBE)],
                    cwd=empty,
                    env={"PATH": os.environ.get("PATH", ""), "HOME": empty},
                    capture_output=True,
                    timeout=PROBE_TIMEOUT,
                )
            except subprocess.TimeoutExpired:
                raise ProbeFailed(f"the probe ran past {PROBE_TIMEOUT} s") from None
            except OSError as exc:
                raise ProbeFailed(f"the probe could not start: {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise ProbeFailed(f"the probe exited with status {done.returncode}")
        return parse_probe(done.stdout)

    def run(
        self, env: PreparedEnvironment, work_dir: Path, plan: RunPlan, limits: SandboxLimits, keep: bool
    ) -> SandboxRun:
        with owned_temp_dir("repropack-replay-io-") as io:
            plan_path, report_path = io / "plan.json", io / "report.json"
            plan_path.write_text(
                json.dumps(
                    {
                        "work_dir": str(work_dir),
                        "kernel": plan.kernel,
                        "cell_timeout": plan.cell_timeout,
                        "notebooks": [{"path": p, "allow_errors": a} for p, a in plan.notebooks],
                    }
                )
            )
            home = io / "home"
            home.mkdir()
            run_env = {
                **plan.environment,  # never over the sandbox's own: PATH, HOME, PYTHONPATH
                "PATH": f"{Path(env.reference).parent}:{os.environ.get('PATH', '')}",
                "HOME": str(home),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            if plan.python_path:
                run_env["PYTHONPATH"] = ":".join(str(work_dir / p) for p in plan.python_path)
            started = time.monotonic()
            timed_out = False
            # Decrypted inputs: in the work dir (a 0700 temp folder's) only while the notebooks run.
            written = _write_private(work_dir, plan.private_inputs)
            try:
                done = subprocess.run(
                    [env.reference, str(RUNNER), str(plan_path), str(report_path)],
                    cwd=work_dir,
                    env=run_env,
                    capture_output=True,
                    text=True,
                    timeout=limits.timeout,
                )
                exit_code, log = done.returncode, done.stderr
            except subprocess.TimeoutExpired as exc:
                timed_out, exit_code = True, None
                log = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            finally:
                _remove_private(written)
            report = read_report(report_path)  # the notebooks could write there too: never followed
            return SandboxRun(
                report.data,
                exit_code,
                timed_out,
                False,
                "\n".join(log.splitlines()[-40:]),
                time.monotonic() - started,
                report_problem=report.problem,
            )
