"""Replay containers of dead runs, removed by the next replay; a live or kept one never is. Real engine."""

from __future__ import annotations

import subprocess
import time

import pytest

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.fs.stale import Owner, this_host, this_process
from repropack.sandbox.docker.stale import (
    DEADLINE_LABEL,
    KEEP_LABEL,
    OWNER_LABEL,
    REPLAY_LABEL,
    deadline_command,
    is_stale,
    remove_stale_containers,
    replay_labels,
)


def _dead_owner() -> str:
    done = subprocess.Popen(["true"])
    done.wait()
    return Owner(this_host(), done.pid, this_process().start).token


def test_labels_say_the_deadline_and_the_owner():
    labels = replay_labels(100)
    assert labels[REPLAY_LABEL] == "1" and labels[OWNER_LABEL] == this_process().token
    assert abs(int(labels[DEADLINE_LABEL]) - (time.time() + 110)) < 5
    assert labels[KEEP_LABEL] == "0" and replay_labels(100, keep=True)[KEEP_LABEL] == "1"
    assert deadline_command(["python", "runner.py"], 100) == ["timeout", "-s", "KILL", "110", "python", "runner.py"]


def test_stale_means_deadline_passed_or_owner_dead_and_never_kept_or_unlabelled():
    now = time.time()
    live = {REPLAY_LABEL: "1", DEADLINE_LABEL: str(int(now) + 60), OWNER_LABEL: this_process().token}
    assert not is_stale(live, now)
    assert is_stale({**live, DEADLINE_LABEL: str(int(now) - 1)}, now)
    assert is_stale({**live, OWNER_LABEL: _dead_owner()}, now)
    assert not is_stale({**live, OWNER_LABEL: _dead_owner(), KEEP_LABEL: "1"}, now)
    assert not is_stale({REPLAY_LABEL: "1"}, now)  # an older repropack's: maybe someone's kept container
    assert not is_stale({**live, DEADLINE_LABEL: "soon"}, now)


def test_the_sweep_removes_dead_runs_containers_and_leaves_live_and_kept_ones(docker_engine):
    def start(labels: dict[str, str]):
        return docker_engine.containers.run(
            DEFAULT_BASE_IMAGE, ["sleep", "120"], detach=True, network_mode="none", labels=labels
        )

    now = int(time.time())
    live = start(replay_labels(60))
    dead = start({**replay_labels(60), OWNER_LABEL: _dead_owner()})
    late = start({**replay_labels(60), DEADLINE_LABEL: str(now - 5)})
    kept = start({**replay_labels(60, keep=True), OWNER_LABEL: _dead_owner()})
    try:
        removed = remove_stale_containers(docker_engine)
        # Another replay running meanwhile may sweep one first: what is left is the test.
        assert live.id not in removed and kept.id not in removed
        left = {
            c.id for c in docker_engine.containers.list(all=True, filters={"label": REPLAY_LABEL}, ignore_removed=True)
        }
        assert {live.id, kept.id} <= left and not {dead.id, late.id} & left
    finally:
        for container in (live, dead, late, kept):
            try:
                container.remove(force=True)
            except Exception:  # already removed by the sweep
                pass


@pytest.mark.slow
def test_a_container_under_its_deadline_command_kills_itself_with_no_one_waiting(docker_engine):
    # `sleep 600` under a 1-second limit (+ the margin): nobody waits on it or kills it from outside.
    container = docker_engine.containers.run(
        DEFAULT_BASE_IMAGE,
        entrypoint=deadline_command(["sleep", "600"], 1),
        command=[],
        detach=True,
        network_mode="none",
        user="1000:1000",
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            container.reload()
            if container.status == "exited":
                break
            time.sleep(0.5)
        assert container.status == "exited"
        assert container.attrs["State"]["ExitCode"] == 137  # SIGKILL
    finally:
        container.remove(force=True)
