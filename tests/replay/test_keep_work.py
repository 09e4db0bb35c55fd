"""--keep's copy of the work folder: names and bytes only, nothing special, nothing setuid, 0700."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest

from repropack.replay.keep_work import LEFT_OUT_FILE, keep_work_dir


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "outputs").mkdir(parents=True)
    (work / "outputs" / "counts.csv").write_text("group,n\na,2\n")
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(work / "run.sh", 0o755)
    (work / "data").mkdir()
    (work / "data" / "claims.csv").write_text("id,secret\n1,RESTRICTED-ROW\n")
    return work


@pytest.fixture
def kept_folders():
    made = []
    yield made
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def _keep(work, kept_folders, **kwargs):
    kept = keep_work_dir(work, **kwargs)
    kept_folders.append(kept.folder)
    return kept


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_copy_is_0700_owned_by_this_user_with_files_0600_or_0700(work, kept_folders):
    kept = _keep(work, kept_folders)
    assert kept.left_out == ()
    assert not (kept.folder / LEFT_OUT_FILE).exists()
    assert (kept.work / "outputs" / "counts.csv").read_text() == "group,n\na,2\n"
    assert _mode(kept.folder) == 0o700 and _mode(kept.work) == 0o700 and _mode(kept.work / "outputs") == 0o700
    assert _mode(kept.work / "outputs" / "counts.csv") == 0o600
    assert _mode(kept.work / "run.sh") == 0o700  # the owner could run it: still runnable, by the owner only
    for path in (kept.folder, kept.work, kept.work / "run.sh"):
        assert os.lstat(path).st_uid == os.geteuid()


def test_setuid_setgid_and_sticky_bits_are_never_copied(work, kept_folders):
    shutil.copy("/bin/sh", work / "outputs" / "s")
    os.chmod(work / "outputs" / "s", 0o4755)
    os.chmod(work / "outputs" / "counts.csv", 0o2666)
    os.chmod(work / "outputs", 0o3777)
    os.chown(work / "outputs" / "s", 0, 0)
    kept = _keep(work, kept_folders)
    assert _mode(kept.work / "outputs" / "s") == 0o700
    assert _mode(kept.work / "outputs" / "counts.csv") == 0o600
    assert _mode(kept.work / "outputs") == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="a file owned by someone else needs root to make")
def test_a_file_the_sandbox_user_owns_is_copied_as_the_replaying_user(work, kept_folders):
    os.chown(work / "outputs" / "counts.csv", 1000, 1000)
    kept = _keep(work, kept_folders)
    assert os.lstat(kept.work / "outputs" / "counts.csv").st_uid == os.geteuid()


def test_symlinks_are_left_out_never_followed(work, tmp_path, kept_folders):
    (tmp_path / "host-secret").write_text("HOST-ONLY")
    os.symlink(tmp_path / "host-secret", work / "outputs" / "link.csv")
    os.symlink(tmp_path, work / "linked-folder")
    kept = _keep(work, kept_folders)
    assert kept.left_out == (
        "linked-folder: a symbolic link; left out, never followed",
        "outputs/link.csv: a symbolic link; left out, never followed",
    )
    assert not os.path.lexists(kept.work / "outputs" / "link.csv")
    assert not os.path.lexists(kept.work / "linked-folder")
    assert (kept.folder / LEFT_OUT_FILE).read_text().splitlines() == list(kept.left_out)


def test_fifos_sockets_and_devices_are_left_out_without_blocking(work, kept_folders):
    os.mkfifo(work / "outputs" / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(work / "outputs" / "sock"))
    devices = os.geteuid() == 0
    if devices:
        os.mknod(work / "outputs" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    found = {}
    try:
        thread = threading.Thread(target=lambda: found.update(kept=_keep(work, kept_folders)), daemon=True)
        thread.start()
        thread.join(timeout=20)
    finally:
        server.close()
    assert not thread.is_alive(), "the copy blocked on a FIFO"
    expected = [
        *(["outputs/null: a character device; left out, never opened"] if devices else []),
        "outputs/pipe: a FIFO; left out, never opened",
        "outputs/sock: a socket; left out, never opened",
    ]
    assert list(found["kept"].left_out) == expected
    assert sorted(os.listdir(found["kept"].work / "outputs")) == ["counts.csv"]


def test_restricted_inputs_are_left_out_unless_asked_for(work, kept_folders):
    kept = _keep(work, kept_folders, restricted={"data/claims.csv"})
    assert kept.left_out == ("data/claims.csv: a restricted input; left out (--keep-restricted keeps it)",)
    assert not (kept.work / "data" / "claims.csv").exists()
    asked = _keep(work, kept_folders, restricted={"data/claims.csv"}, keep_restricted=True)
    assert asked.left_out == ()
    assert (asked.work / "data" / "claims.csv").read_text() == "id,secret\n1,RESTRICTED-ROW\n"
    assert _mode(asked.work / "data" / "claims.csv") == 0o600


def test_what_the_replay_already_removed_is_listed_too(work, kept_folders):
    kept = _keep(work, kept_folders, removed={"outputs/p": "a FIFO", "x": "a symbolic link to '/etc/shadow'"})
    assert kept.left_out == ("outputs/p: a FIFO; removed unread", "x: a symbolic link to '/etc/shadow'; removed unread")


def test_a_sparse_file_past_the_disk_limit_is_left_out_not_grown_on_the_host(work, kept_folders):
    with open(work / "outputs" / "sparse.bin", "wb") as fh:  # 2 GiB that take no room in the sandbox
        fh.truncate(2 * 2**30)
    kept = _keep(work, kept_folders, limit=20 * 2**20)

    assert not (kept.work / "outputs" / "sparse.bin").exists()
    assert (
        "outputs/sparse.bin: 2147483648 bytes would take the kept copy past the disk limit; left out" in kept.left_out
    )
    assert (kept.work / "outputs" / "counts.csv").read_text() == "group,n\na,2\n"  # what fits is kept


def test_files_are_kept_until_the_limit_is_reached(work, kept_folders):
    (work / "outputs" / "a.bin").write_bytes(b"a" * 600)
    (work / "outputs" / "b.bin").write_bytes(b"b" * 600)
    kept = _keep(work, kept_folders, limit=1000)

    copied = [p.name for p in (kept.work / "outputs").iterdir() if p.suffix == ".bin"]
    assert len(copied) == 1
    assert sum(1 for line in kept.left_out if "past the disk limit" in line) >= 1
