"""Leftovers of runs killed outright: found by their owner, removed only when the owner is dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repropack.fs.atomic import remove_dead_siblings, temp_sibling
from repropack.fs.sized import mounts_under, unmount_under
from repropack.fs.stale import (
    OWNER_FILE,
    Owner,
    owned_temp_dir,
    owner_is_dead,
    parse_owner,
    remove_stale_temp_dirs,
    this_host,
    this_process,
)

_HOLD = """
import sys, time
from pathlib import Path
from repropack.fs.stale import owned_temp_dir
from repropack.fs.atomic import temp_sibling
with owned_temp_dir("repropack-work-", Path(sys.argv[1])) as folder:
    (folder / "restricted.csv").write_text("secret row\\n")
    staging = temp_sibling(Path(sys.argv[1]) / "out.zip")
    staging.write_text("partial zip")
    print(folder, staging, flush=True)
    time.sleep(600)
"""


def _killed_owner(root: Path) -> tuple[Path, Path]:
    """A process that made a temp folder and a staging file under ``root``, killed with SIGKILL."""
    child = subprocess.Popen([sys.executable, "-c", _HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    folder, staging = child.stdout.readline().split()
    child.send_signal(signal.SIGKILL)
    child.wait()
    return Path(folder), Path(staging)


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_killed_runs_folder_and_staging_file_are_removed_by_the_next_sweep(tmp_path):
    folder, staging = _killed_owner(tmp_path)
    assert (folder / "restricted.csv").is_file() and staging.is_file()  # what kill -9 leaves today
    assert remove_stale_temp_dirs(root=tmp_path) == [folder]
    assert not folder.exists()
    assert remove_dead_siblings(tmp_path / "out.zip") == [staging]
    assert not staging.exists()


def test_a_live_runs_folder_and_staging_file_survive_a_concurrent_sweep(tmp_path):
    with owned_temp_dir("repropack-work-", tmp_path) as mine:
        (mine / "restricted.csv").write_text("secret row\n")
        staging = temp_sibling(tmp_path / "out.zip")
        staging.write_text("partial")
        sweeper = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from repropack.fs.stale import remove_stale_temp_dirs; "
                "from repropack.fs.atomic import remove_dead_siblings; root = Path(sys.argv[1]); "
                "print(remove_stale_temp_dirs(root=root), remove_dead_siblings(root / 'out.zip'))",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert sweeper.stdout.strip() == "[] []"
        assert (mine / "restricted.csv").is_file() and staging.is_file()
    assert not mine.exists()  # and its own exit removes it


def test_an_owned_folder_is_private_and_says_whose_it_is(tmp_path):
    with owned_temp_dir("repropack-work-", tmp_path) as folder:
        assert folder.stat().st_mode & 0o777 == 0o700
        assert parse_owner((folder / OWNER_FILE).read_text()) == this_process()


def test_what_carries_no_owner_is_left_alone(tmp_path):
    unmarked = tmp_path / "repropack-work-old"  # an older repropack's, or made in the instant before its lock
    unmarked.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "repropack-work-link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "repropack-work-file").write_text("x")
    old_style = tmp_path / ".out.zip.repropack-tmp-0badc0de"  # the random token of an older repropack
    old_style.write_text("x")
    assert remove_stale_temp_dirs(root=tmp_path) == []
    assert remove_dead_siblings(tmp_path / "out.zip") == []
    assert unmarked.is_dir() and (tmp_path / "elsewhere").is_dir() and old_style.is_file()


def test_a_folder_of_another_prefix_is_not_swept(tmp_path):
    folder, _ = _killed_owner(tmp_path)
    assert remove_stale_temp_dirs(("repropack-kept-work-",), root=tmp_path) == []
    assert folder.is_dir()


def test_only_a_process_of_this_host_that_no_longer_runs_is_dead():
    me = this_process()
    assert not owner_is_dead(me)
    assert owner_is_dead(Owner(this_host(), _dead_pid(), me.start))
    assert owner_is_dead(Owner(this_host(), os.getpid(), me.start + 1))  # the pid reused by another process
    assert not owner_is_dead(Owner("00000000" if this_host() != "00000000" else "11111111", _dead_pid(), 1))
    assert not owner_is_dead(None)


def test_owner_tokens_round_trip_and_nothing_else_parses():
    me = this_process()
    assert parse_owner(me.token) == me
    assert parse_owner(f"{me.token}.ab12cd34-old") == me
    for text in ("", "0badc0de", "zzzzzzzz.1.2", "../../etc", "1234-old"):
        assert parse_owner(text) is None


_HOLD_MOUNTED = """
import sys, time
from pathlib import Path
from repropack.fs.sized import size_limited_folder
from repropack.fs.stale import owned_temp_dir
with owned_temp_dir("repropack-work-", Path(sys.argv[1])) as folder:
    with size_limited_folder(folder / "work", 8 << 20) as work:
        (work.path / "restricted.csv").write_text("secret row\\n")
        print(folder, flush=True)
        time.sleep(600)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_a_killed_runs_mounted_work_folder_is_unmounted_and_removed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", _HOLD_MOUNTED, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    folder = Path(child.stdout.readline().strip())
    child.send_signal(signal.SIGKILL)
    child.wait()
    try:
        assert mounts_under(folder) == [folder / "work"]  # kill -9 leaves the file system mounted
        assert remove_stale_temp_dirs(root=tmp_path) == [folder]
        assert mounts_under(tmp_path) == [] and not folder.exists()
    finally:
        unmount_under(tmp_path)


def test_a_killed_process_not_yet_reaped_is_dead_too():
    child = subprocess.Popen(["sleep", "60"])
    owner = Owner(
        this_host(), child.pid, int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    )
    assert not owner_is_dead(owner)
    child.send_signal(signal.SIGKILL)
    try:
        for _ in range(100):  # a zombie until its parent (this test) waits for it
            if Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.02)
        assert owner_is_dead(owner)
    finally:
        child.wait()
