"""The default backend: a container built from the package's Dockerfile, locked down.

Sandbox defaults: no network, a non-root user, every capability dropped,
no-new-privileges, a read-only root filesystem with a writable work dir and
/tmp, memory (no swap) and pids limits, a work dir of limited size (its own
file system, made by the replay pipeline), and a wall-clock timeout that kills
the container: the host's wait, and the container's own ``timeout`` as its
first process for when the host process dies (``docker/stale.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from repropack.fs.sized import size_limited_folder
from repropack.fs.stale import owned_temp_dir
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
from repropack.sandbox.docker.private_inputs import private_folders, refuse_top_level, send_stream
from repropack.sandbox.docker.stale import deadline_command, remove_stale_containers, replay_labels
from repropack.sandbox.probe import PROBE, PROBE_TIMEOUT, EnvironmentFacts, ProbeFailed, parse_probe
from repropack.sandbox.probe_cache import cached_probe, remember_probe
from repropack.sandbox.report import read_report

_WORK = "/work"
_REPLAY = "/replay"
_RUNNER_DIR = "/opt/repropack-runner"
_UNPRIVILEGED = "1000:1000"
_EXCHANGE_LIMIT = 64 * 2**20  # the plan, the runner's report (read back with a 16 MiB limit), its temp copy
_PROBE_DIR = "/opt/repropack-probe"


@BACKENDS.register
class DockerBackend(Backend):
    name = "docker"
    isolation = (
        "container: no network, uid 1000, all capabilities dropped, no-new-privileges, "
        "read-only root filesystem, memory and pids limits, a size-limited work folder (--disk; where the host "
        "can mount one, see the limits), "
        "wall-clock timeout enforced by the container itself"
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

    def probe(self, env: PreparedEnvironment, limits: SandboxLimits) -> EnvironmentFacts:
        """One short container of the image, locked down as ``run``'s, with no work dir or exchange mounted:
        the probe script is its entrypoint (so no entrypoint of the image runs), its stdout the facts.

        An image id names its content, so the facts of an image already probed are read from the user's
        cache (``sandbox/probe_cache.py``) instead: a warm replay starts no probe container."""
        known = cached_probe(env.reference)
        if known is not None:
            return known
        output = self._run_probe(env, limits)
        facts = parse_probe(output)
        remember_probe(env.reference, output)
        return facts

    def _run_probe(self, env: PreparedEnvironment, limits: SandboxLimits) -> bytes:
        from docker.errors import DockerException

        with tempfile.TemporaryDirectory(prefix="repropack-probe-") as tmp:
            probe_dir = Path(tmp) / "probe"
            probe_dir.mkdir(mode=0o755)
            shutil.copy(PROBE, probe_dir / "probe.py")
            os.chmod(probe_dir, 0o755)  # mkdir's mode obeys the umask; uid 1000 must read it
            os.chmod(probe_dir / "probe.py", 0o644)
            try:
                container = self._client.containers.run(
                    env.reference,
                    entrypoint=["python", "-I", "-S", f"{_PROBE_DIR}/probe.py"],
                    command=[],
                    detach=True,
                    **self._locked_down(limits, network=False, tmp_size="16m"),
                    environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
                    volumes={str(probe_dir): {"bind": _PROBE_DIR, "mode": "ro"}},
                    # A deadline and an owner: the next replay removes it if this process dies (docker/stale.py).
                    labels={**replay_labels(PROBE_TIMEOUT), "org.repropack.probe": "1"},
                )
            except DockerException as exc:
                raise ProbeFailed(f"the probe could not start: {str(exc).splitlines()[0]}") from None
            try:
                try:
                    status = container.wait(timeout=PROBE_TIMEOUT).get("StatusCode")
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    raise ProbeFailed(f"the probe ran past {PROBE_TIMEOUT} s") from None
                if status != 0:
                    raise ProbeFailed(f"the probe exited with status {status}")
                return container.logs(stdout=True, stderr=False)
            finally:
                container.remove(force=True)

    def refuse_private_inputs(self, paths: Sequence[str]) -> None:
        refuse_top_level(paths)

    def remove_stale(self) -> None:
        remove_stale_containers(self._client)

    def _locked_down(self, limits: SandboxLimits, *, network: bool, tmp_size: str) -> dict:
        """The container options every sandboxed container gets (the probe's and the notebooks'): one place."""
        return {
            "network_mode": "bridge" if network else "none",
            "user": self._user(),
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={tmp_size},mode=1777"},
            "mem_limit": limits.memory,
            "memswap_limit": limits.memory,
            "pids_limit": limits.pids,
        }

    def _user(self) -> str:
        # As root on the host, run as uid 1000 and hand it the work dir; as a
        # normal user, run as that same (non-root) user, who owns the files.
        return _UNPRIVILEGED if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"

    def run(
        self, env: PreparedEnvironment, work_dir: Path, plan: RunPlan, limits: SandboxLimits, keep: bool
    ) -> SandboxRun:
        # Refused before anything starts: a private input the Docker sandbox cannot keep off the host's disk.
        private = private_folders(work_dir, plan.private_inputs)
        # The exchange is writable by the sandbox too: its own small file system bounds what it can put there.
        with owned_temp_dir("repropack-replay-io-") as io, size_limited_folder(io / "exchange", _EXCHANGE_LIMIT) as ex:
            runner_dir = io / "runner"
            runner_dir.mkdir()
            shutil.copy(RUNNER, runner_dir / "runner.py")
            exchange = ex.path
            (exchange / "plan.json").write_text(
                json.dumps(
                    {
                        "work_dir": _WORK,
                        "kernel": plan.kernel,
                        "cell_timeout": plan.cell_timeout,
                        "notebooks": [{"path": p, "allow_errors": a} for p, a in plan.notebooks],
                        **(
                            {"private_folders": list(private.folders), "private_bytes": private.total}
                            if private
                            else {}
                        ),
                    }
                )
            )
            for folder in private.folders if private else ():  # the tmpfs mount points, made by the host's user
                (work_dir / folder).mkdir(mode=0o755, exist_ok=True)
            if os.geteuid() == 0:
                # Never through a symlink: a link in the work dir must not hand its target to uid 1000.
                chown_tree(work_dir, 1000, 1000)
                chown_tree(exchange, 1000, 1000)
            started = time.monotonic()
            uid, gid = (int(n) for n in self._user().split(":"))
            locked = self._locked_down(limits, network=limits.network, tmp_size="512m")
            if private:  # the decrypted inputs live in tmpfs folders the runner fills from stdin, never on the host
                locked["tmpfs"] = {**locked["tmpfs"], **private.tmpfs(_WORK, uid, gid)}
            options = dict(
                # The container kills itself at its deadline even if this process dies; the wait below stays.
                entrypoint=deadline_command(
                    ["python", f"{_RUNNER_DIR}/runner.py", f"{_REPLAY}/plan.json", f"{_REPLAY}/report.json"],
                    limits.timeout,
                ),
                command=[],
                **locked,
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
                labels=replay_labels(limits.timeout, keep),
            )
            if private:
                container = self._client.containers.create(env.reference, stdin_open=True, **options)
                try:
                    send_stream(self._client.api, container.id, private)
                except BaseException:
                    container.remove(force=True)
                    raise
            else:
                container = self._client.containers.run(env.reference, detach=True, **options)
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
            report = read_report(exchange / "report.json")  # planted by a hostile sandbox, maybe: never followed
            return SandboxRun(
                report=report.data,
                exit_code=exit_code,
                timed_out=timed_out,
                out_of_memory=out_of_memory,
                log_tail=log_tail,
                seconds=time.monotonic() - started,
                report_problem=report.problem,
            )
