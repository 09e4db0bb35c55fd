"""Limits the engine enforces (issue 12, item 6): a notebook cannot fill the host's disk.

Real containers, the real console script. The work folder is a file system of its own of ``--disk``
bytes, the exchange folder one of 64 MiB, so a write past either fails *inside* the sandbox with
"No space left on device"; the failure is ``out of disk`` naming the limit and the flag; nothing is
left outside the record. Every project is the shared stdlib-only one (one image for all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.fs.sized import ENFORCED
from tests.conftest import make_project, write_notebook

pytestmark = [
    pytest.mark.usefixtures("docker_engine"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the disk limit is enforced by a mount: root only"),
]

MIB = 2**20


def repropack(*args: str, temp: Path | None = None) -> subprocess.CompletedProcess:
    """The console script; with ``temp`` its temp folders go there (others' runs share /tmp meanwhile)."""
    exe = Path(sys.executable).with_name("repropack")
    env = {**os.environ, "COLUMNS": "200", **({"TMPDIR": str(temp)} if temp else {})}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=600)


def assert_nothing_left(outside, tmp_path: Path, record: Path) -> None:
    """Nothing new under the test's folder but the record, and the run's temp folder empty (no mount left)."""
    assert [p for p in outside.new_entries(allowed=(record,)) if Path(p).is_relative_to(tmp_path)] == []
    assert sorted(os.listdir(tmp_path / "tmp")) == []


def _package(tmp_path: Path, *cells: str) -> Path:
    """A package of the shared project whose notebook runs ``cells`` (at export too: keep them harmless there)."""
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", *cells)
    package = tmp_path / "study.crate.zip"
    done = repropack("export", str(project), "-o", str(package))
    assert done.returncode == 0, done.stderr
    return package


def _replay(package: Path, record: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    temp = record.parent / "tmp"
    temp.mkdir(exist_ok=True)
    done = repropack("replay", str(package), "--record", str(record), "--json", *args, temp=temp)
    return done, (json.loads(done.stdout) if done.stdout.strip() else {})


# Big only in the sandbox (where /replay exists): at export the notebook writes a few bytes.
AT_REPLAY = "import os\nbig = os.path.isdir('/replay')"


def test_a_write_past_disk_fails_inside_the_sandbox_and_the_cause_names_the_limit_and_the_flag(tmp_path, outside):
    package = _package(
        tmp_path, AT_REPLAY, "with open('scratch.bin', 'wb') as fh:\n    fh.write(b'x' * (40 << 20 if big else 10))"
    )
    outside.__post_init__()
    record = tmp_path / "record"
    done, result = _replay(package, record, "--disk", "20m")
    assert done.returncode == 3, done.stderr
    assert result["cause_kind"] == "out of disk"
    assert "No space left on device" in result["cause"]
    assert "the work folder hit its size limit, limit 20m (as given)" in result["cause"]
    assert result["cause"].endswith("raise it with --disk")
    assert result["sandbox"]["disk"] == "20m" and result["sandbox"]["disk_enforcement"] == ENFORCED
    assert result["settings"]["disk"] == {"value": "20m", "source": "flag"}
    assert_nothing_left(outside, tmp_path, record)  # a mount left behind would leave its folder too


def test_many_small_files_run_out_of_room_too(tmp_path, outside):
    # Inodes are space as well: a file system of its own has a fixed number of them.
    package = _package(
        tmp_path,
        AT_REPLAY,
        "os.makedirs('many', exist_ok=True)\nfor i in range(200000 if big else 1):\n    open(f'many/{i}', 'w').close()",
    )
    outside.__post_init__()
    record = tmp_path / "record"
    done, result = _replay(package, record, "--disk", "20m")
    assert done.returncode == 3, done.stderr
    assert result["cause_kind"] == "out of disk", result["cause"]
    assert "raise it with --disk" in result["cause"]
    assert_nothing_left(outside, tmp_path, record)


def test_the_exchange_folder_cannot_be_filled_either(tmp_path, outside):
    # /replay is writable by the sandbox (the runner's report goes there): it has a limit of its own.
    package = _package(
        tmp_path,
        AT_REPLAY,
        # The notebook removes what it wrote once refused, so that the runner can still report.
        "if big:\n    try:\n        with open('/replay/junk', 'wb') as fh:\n            for _ in range(100):\n"
        "                fh.write(b'x' * (1 << 20))\n    finally:\n        os.remove('/replay/junk')",
    )
    outside.__post_init__()
    record = tmp_path / "record"
    done, result = _replay(package, record)
    assert done.returncode == 3, done.stderr
    assert "No space left on device" in result["cause"]
    assert result["cause_kind"] == "cell error"  # not the work folder: its limit is not the one to raise
    assert_nothing_left(outside, tmp_path, record)


def test_package_files_bigger_than_disk_fail_before_anything_runs(tmp_path, outside):
    project = make_project(tmp_path / "study")
    (project / "data" / "big.bin").write_bytes(os.urandom(12 * MIB))
    package = tmp_path / "study.crate.zip"
    assert repropack("export", str(project), "-o", str(package)).returncode == 0
    outside.__post_init__()
    record = tmp_path / "record"
    done, result = _replay(package, record, "--disk", "8m")
    assert done.returncode == 3, done.stderr
    assert result["cause"] == (
        "out of disk: the package's files do not fit in the work folder, limit 8m (as given); "
        "the package's files take 12 MiB; raise it with --disk"
    )
    assert "Traceback" not in done.stderr
    assert_nothing_left(outside, tmp_path, record)


@pytest.mark.parametrize("value", ["abc", "0", "-5m", "20x", "1.5g", ""])
def test_a_disk_that_is_no_size_is_refused_with_one_line(tmp_path, value):
    done = repropack("replay", str(tmp_path / "none.crate.zip"), "--disk", value)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'disk' must be a size such as '20m' or '1g'" in lines[0], done.stderr


def test_a_replay_within_the_limit_reproduces_and_says_how_the_limit_held(tmp_path):
    package = _package(
        tmp_path,
        AT_REPLAY,
        "with open('scratch.bin', 'wb') as fh:\n    fh.write(b'x' * (5 << 20))\nos.remove('scratch.bin')",
    )
    done, result = _replay(package, tmp_path / "record", "--disk", "20m")
    assert done.returncode == 0, result.get("cause")
    assert result["sandbox"]["disk_enforcement"] == ENFORCED


@pytest.mark.slow
def test_a_notebook_cannot_stop_or_kill_the_containers_own_deadline(docker_engine):
    # What a hostile notebook (the same uid as everything in the container) can try on the watchdog, pid 1:
    # stop it, kill it, terminate it (it passes TERM on; the notebook ignores it), then outlive the limit.
    from repropack.sandbox.docker.stale import SELF_KILL_MARGIN, deadline_command

    attack = "trap '' TERM; kill -STOP 1; kill -KILL 1; kill -TERM 1; kill -TSTP 1; sleep 600"
    started = time.monotonic()
    container = docker_engine.containers.run(
        DEFAULT_BASE_IMAGE,
        entrypoint=deadline_command(["sh", "-c", attack], 2),
        command=[],
        detach=True,
        network_mode="none",
        user="1000:1000",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    try:
        status = container.wait(timeout=120)  # only this test waits; nothing kills it from outside
        took = time.monotonic() - started
        # 137: killed at the deadline. 143: the TERM the watchdog passes on ended the run early (whether it
        # reaches the sleeping child first is a race): the attacker only cut its own run short. Either way the
        # container ended by the deadline; the one failure is a container still running (no status in time).
        assert status["StatusCode"] in (137, 143), (status, container.logs().decode())
        assert took < 2 + SELF_KILL_MARGIN + 15
    finally:
        container.remove(force=True)


def test_a_huge_sparse_file_within_the_limit_is_never_read_by_the_host(tmp_path, outside):
    # 50 GiB by its size, no block on disk: inside the limit, and the host must not read or copy it.
    package = _package(
        tmp_path, AT_REPLAY, "if big:\n    with open('huge.bin', 'wb') as fh:\n        fh.truncate(50 << 30)"
    )
    outside.__post_init__()
    record = tmp_path / "record"
    started = time.monotonic()
    done, result = _replay(package, record, "--disk", "20m")
    assert time.monotonic() - started < 240
    assert done.returncode == 0, result.get("cause")
    assert {o["path"]: o["status"] for o in result["outputs"]}["huge.bin"] == "unexpected"
    assert "huge.bin" not in result["replayed"]["files"]
    assert_nothing_left(outside, tmp_path, record)
    assert sum(p.stat().st_size for p in record.rglob("*") if p.is_file()) < 50 * MIB
