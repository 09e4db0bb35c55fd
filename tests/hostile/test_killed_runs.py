"""Runs killed outright (issue 12, item 7): what they leave is bounded in time and removed by the next run.

``kill -9`` of ``repropack replay`` mid-run: its container kills itself by its deadline with nobody
waiting on it, and the next replay removes the container and the work folder holding the plaintext
copy of the restricted input (unmounting its file system). ``kill -9`` of ``repropack export``: the
next export removes the staging files beside the output and the scratch copies holding restricted
files. A live run's things survive another run's sweep. Real engine, real console script; each run's
temp folders go to a folder of the test's own (``TMPDIR``), as others' runs share /tmp meanwhile.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.errors import NotFound

from repropack.fs.sized import mounts_under, unmount_under
from repropack.fs.stale import OWNER_FILE, parse_owner
from repropack.sandbox.docker.stale import DEADLINE_LABEL, OWNER_LABEL, REPLAY_LABEL, SELF_KILL_MARGIN
from tests.conftest import ANALYSIS_CELLS, make_project, wait_for, write_notebook

RESTRICTED = "data/input.csv"
# Sleeps only in the sandbox (where /replay exists): the export runs it at once.
SLEEP_AT_REPLAY = "import os, time\nif os.path.isdir('/replay'):\n    time.sleep({seconds})"


def _command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("repropack")), *args]


def _env(temp: Path) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "TMPDIR": str(temp)}


def _run(temp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args), capture_output=True, text=True, env=_env(temp), timeout=600)


def _owned_by(folder: Path, prefix: str, pid: int) -> list[Path]:
    """``prefix`` folders under ``folder`` whose owner file names process ``pid``."""
    found = []
    for path in folder.glob(f"{prefix}*"):
        try:
            owner = parse_owner((path / OWNER_FILE).read_text())
        except OSError:
            continue
        if owner is not None and owner.pid == pid:
            found.append(path)
    return found


@pytest.fixture
def temp(tmp_path: Path) -> Iterator[Path]:
    """The runs' temp folder; whatever a failed test leaves mounted in it is unmounted after."""
    folder = tmp_path / "tmp"
    folder.mkdir(exist_ok=True)
    try:
        yield folder
    finally:
        unmount_under(folder)


@pytest.fixture
def restricted_package(tmp_path: Path, temp: Path) -> tuple[Path, Path, Path]:
    """(package, folder supplying the restricted input, temp folder): a notebook that sleeps 300 s at replay."""
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", SLEEP_AT_REPLAY.format(seconds=300), *ANALYSIS_CELLS)
    package = tmp_path / "study.crate.zip"
    done = _run(temp, "export", str(project), "-o", str(package), "--restrict", RESTRICTED)
    assert done.returncode == 0, done.stderr
    return package, project, temp


def _replay_containers(docker_engine, pid: int) -> list:
    """The notebook-running containers (not the environment probe's) whose owner label names process ``pid``."""
    found = []
    for container in docker_engine.containers.list(all=True, filters={"label": REPLAY_LABEL}, ignore_removed=True):
        owner = parse_owner(container.labels.get(OWNER_LABEL, ""))
        if owner is not None and owner.pid == pid and "org.repropack.probe" not in container.labels:
            found.append(container)
    return found


@pytest.mark.slow
def test_a_killed_replays_container_dies_by_its_deadline_and_the_next_replay_removes_it_and_the_plaintext(
    docker_engine, restricted_package, tmp_path
):
    package, supplier, temp = restricted_package
    replay = subprocess.Popen(
        _command(
            "replay", str(package), "--inputs", str(supplier), "--total-timeout", "20", "--record", str(tmp_path / "r1")
        ),
        env=_env(temp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (container,) = wait_for(
            lambda: [c for c in _replay_containers(docker_engine, replay.pid) if c.status == "running"], 300
        )
        (work,) = _owned_by(temp, "repropack-work-", replay.pid)
        plaintext = work / "work" / RESTRICTED
        assert plaintext.read_text() == (supplier / RESTRICTED).read_text()
    finally:
        replay.send_signal(signal.SIGKILL)
        replay.wait()

    # Nobody waits on the container now: it must stop by its own deadline (the 20 s limit + the margin),
    # killed by its first process (another replay on this engine may sweep it first: its owner is dead).
    assert container.attrs["Config"]["Entrypoint"][:4] == ["timeout", "-s", "KILL", str(20 + SELF_KILL_MARGIN)]
    deadline = int(container.labels[DEADLINE_LABEL])
    assert deadline - time.time() <= 40

    def stopped() -> str:
        try:
            container.reload()
        except NotFound:
            return "removed"
        return "exited" if container.status == "exited" else ""

    ended = wait_for(stopped, deadline - time.time() + 15, step=1)
    assert ended, "the container ran past its deadline"
    if ended == "exited":
        assert container.attrs["State"]["ExitCode"] == 137  # killed by its own `timeout`
    assert plaintext.is_file() and mounts_under(work)  # what kill -9 leaves: until the next run

    # The next replay (without the input: it stops at once) sweeps before anything else.
    done = _run(temp, "replay", str(package), "--record", str(tmp_path / "r2"))
    assert done.returncode == 3 and "not supplied" in done.stderr
    assert not work.exists() and mounts_under(temp) == []
    assert _replay_containers(docker_engine, replay.pid) == []
    assert os.listdir(temp) == []


@pytest.mark.slow
def test_a_live_replays_work_folder_and_container_survive_another_replays_sweep(docker_engine, tmp_path, temp):
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", SLEEP_AT_REPLAY.format(seconds=8), *ANALYSIS_CELLS)
    package = tmp_path / "study.crate.zip"
    assert _run(temp, "export", str(project), "-o", str(package), "--restrict", RESTRICTED).returncode == 0
    live = subprocess.Popen(
        _command("replay", str(package), "--inputs", str(project), "--record", str(tmp_path / "r1")),
        env=_env(temp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: [c for c in _replay_containers(docker_engine, live.pid) if c.status == "running"], 300)
        (work,) = _owned_by(temp, "repropack-work-", live.pid)
        other = _run(temp, "replay", str(package), "--record", str(tmp_path / "r2"))  # sweeps, then stops
        assert other.returncode == 3
        assert (work / "work" / RESTRICTED).is_file()
        assert [c.status for c in _replay_containers(docker_engine, live.pid)] == ["running"]
        _, stderr = live.communicate(timeout=300)
        assert live.returncode == 0, stderr  # reproduced, undisturbed
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert os.listdir(temp) == []


def _kill_when(process: subprocess.Popen, appeared, seconds: float = 300) -> list[Path]:
    """SIGKILL ``process`` as soon as ``appeared()`` finds something; returns what it found."""
    try:
        found = wait_for(lambda: appeared() or (process.poll() is not None and ["exited"]), seconds, step=0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert found and found != ["exited"], "the export ended before it could be killed mid-write"
    return found


@pytest.mark.slow
def test_a_killed_exports_staging_files_beside_the_output_are_removed_by_the_next_export(tmp_path, temp):
    project = make_project(tmp_path / "study")
    (project / "data" / "big.bin").write_bytes(os.urandom(96 * 2**20))  # writing the zip takes a moment
    out = tmp_path / "out"
    out.mkdir()
    output = out / "study.crate.zip"
    export = subprocess.Popen(
        _command("export", str(project), "-o", str(output)),
        env=_env(temp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = _kill_when(export, lambda: [p for p in out.iterdir() if ".repropack-tmp-" in p.name])
    left = [p for p in out.iterdir() if ".repropack-tmp-" in p.name]
    assert left and not output.exists()  # what kill -9 leaves beside the output

    done = _run(temp, "export", str(project), "-o", str(output))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["study.crate.zip"]
    assert not any(p.exists() for p in staging)


@pytest.mark.slow
def test_a_killed_exports_scratch_copies_with_restricted_files_are_removed_by_the_next_export(tmp_path, temp):
    project = make_project(tmp_path / "study")
    # Run 1 sleeps while run 2's scratch copy (restricted file included) waits in the temp folder.
    write_notebook(project / "analysis.ipynb", "import time\ntime.sleep(120)", *ANALYSIS_CELLS)
    export = subprocess.Popen(
        _command("export", str(project), "-o", str(tmp_path / "a.crate.zip"), "--runs", "2", "--restrict", RESTRICTED),
        env=_env(temp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (scratch,) = _kill_when(
        export, lambda: [p for p in _owned_by(temp, "repropack-runs-", export.pid) if list(p.rglob(RESTRICTED))]
    )
    assert list(scratch.rglob(RESTRICTED))  # the plaintext copy kill -9 leaves

    other = make_project(tmp_path / "other")
    done = _run(temp, "export", str(other), "-o", str(tmp_path / "b.crate.zip"))
    assert done.returncode == 0, done.stderr
    assert not scratch.exists()
    assert os.listdir(temp) == []
