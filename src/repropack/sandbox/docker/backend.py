"""The default backend: a container built from the package's Dockerfile, locked down.

Sandbox defaults: no network, a non-root user, every capability dropped,
no-new-privileges, a read-only root filesystem with a writable work dir and
/tmp, memory (no swap) and pids limits, and a wall-clock timeout that kills
the container.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import requests

from repropack.fs.walk import chown_tree
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
from repropack.sandbox.docker.engine import engine_client
from repropack.sandbox.docker.image import build_image

_WORK = "/work"
_REPLAY = "/replay"
_RUNNER_DIR = "/opt/repropack-runner"
_UNPRIVILEGED = "1000:1000"


@BACKENDS.register
class DockerBackend(Backend):
    name = "docker"
    isolation = (
        "container: no network, uid 1000, all capabilities dropped, no-new-privileges, "
        "read-only root filesystem, memory and pids limits, wall-clock timeout"
    )

    def __init__(self) -> None:
        self._client = engine_client()

    def describe(self) -> dict:
        version = self._client.version()
        return {
            "backend": self.name,
            "engine": "docker",
            "engine_version": version.get("Version"),
            "api_version": version.get("ApiVersion"),
        }

    uses_base_image = True

    def has_base_image(self, name: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            self._client.images.get(name)
        except ImageNotFound:
            return False
        return True

    def prepare(self, request: BuildRequest) -> PreparedEnvironment:
        return build_image(self._client, request)

    def _user(self) -> str:
        # As root on the host, run as uid 1000 and hand it the work dir; as a
        # normal user, run as that same (non-root) user, who owns the files.
        return _UNPRIVILEGED if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"

    def run(
        self, env: PreparedEnvironment, work_dir: Path, plan: RunPlan, limits: SandboxLimits, keep: bool
    ) -> SandboxRun:
        with tempfile.TemporaryDirectory(prefix="repropack-replay-io-") as io_dir:
            io = Path(io_dir)
            runner_dir = io / "runner"
            runner_dir.mkdir()
            shutil.copy(RUNNER, runner_dir / "runner.py")
            exchange = io / "exchange"
            exchange.mkdir()
            (exchange / "plan.json").write_text(
                json.dumps(
                    {
                        "work_dir": _WORK,
                        "kernel": plan.kernel,
                        "cell_timeout": plan.cell_timeout,
                        "notebooks": [{"path": p, "allow_errors": a} for p, a in plan.notebooks],
                    }
                )
            )
            if os.geteuid() == 0:
                # Never through a symlink: a link in the work dir must not hand its target to uid 1000.
                chown_tree(work_dir, 1000, 1000)
                chown_tree(exchange, 1000, 1000)
            started = time.monotonic()
            container = self._client.containers.run(
                env.reference,
                command=["python", f"{_RUNNER_DIR}/runner.py", f"{_REPLAY}/plan.json", f"{_REPLAY}/report.json"],
                detach=True,
                network_mode="bridge" if limits.network else "none",
                user=self._user(),
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                tmpfs={"/tmp": "rw,nosuid,nodev,size=512m,mode=1777"},
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                pids_limit=limits.pids,
                environment={
                    **plan.environment,  # never over the sandbox's own: HOME, PYTHONPATH
                    "HOME": "/tmp",
                    "PYTHONDONTWRITEBYTECODE": "1",
                    **({"PYTHONPATH": ":".join(f"{_WORK}/{p}" for p in plan.python_path)} if plan.python_path else {}),
                },
                working_dir=_WORK,
                volumes={
                    str(work_dir): {"bind": _WORK, "mode": "rw"},
                    str(exchange): {"bind": _REPLAY, "mode": "rw"},
                    str(runner_dir): {"bind": _RUNNER_DIR, "mode": "ro"},
                },
                labels={"org.repropack.replay": "1"},
            )
            timed_out = False
            exit_code = None
            try:
                try:
                    exit_code = container.wait(timeout=limits.timeout).get("StatusCode")
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    timed_out = True
                    container.kill()
                    container.wait(timeout=60)
                container.reload()
                out_of_memory = bool(container.attrs.get("State", {}).get("OOMKilled"))
                log_tail = container.logs(tail=40).decode("utf-8", errors="replace")
            finally:
                if not keep:
                    container.remove(force=True)
            report_path = exchange / "report.json"
            report = json.loads(report_path.read_text()) if report_path.is_file() else None
            return SandboxRun(
                report=report,
                exit_code=exit_code,
                timed_out=timed_out,
                out_of_memory=out_of_memory,
                log_tail=log_tail,
                seconds=time.monotonic() - started,
            )
