"""A folder of limited size: its own file system, so writes past the limit fail in whoever writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from repropack.fs import sized
from repropack.fs.sized import ENFORCED, mounts_under, size_limited_folder

MIB = 2**20
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def _fill(folder: Path, size: int) -> None:
    with open(folder / "big", "wb") as fh:
        fh.write(b"x" * size)


@needs_root
def test_a_write_past_the_limit_fails_with_no_space_and_everything_goes_on_exit(tmp_path):
    with size_limited_folder(tmp_path / "work", 20 * MIB) as folder:
        assert folder.enforcement == ENFORCED and folder.enforced
        assert mounts_under(folder.path) == [folder.path]
        assert os.listdir(folder.path) == []  # no lost+found: the notebook sees what it saw at export
        _fill(folder.path, 4 * MIB)
        assert not folder.is_full()
        with pytest.raises(OSError) as raised:
            _fill(folder.path, 40 * MIB)
        assert raised.value.errno == errno.ENOSPC
        assert folder.is_full()
    assert mounts_under(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["work"]  # the backing file is gone; the empty mount point stays


@needs_root
def test_an_error_in_the_body_still_unmounts(tmp_path):
    with pytest.raises(RuntimeError), size_limited_folder(tmp_path / "work", 20 * MIB):
        raise RuntimeError("the replay failed")
    assert mounts_under(tmp_path) == [] and not (tmp_path / "work.ext4").exists()


@needs_root
def test_the_folder_holds_no_setuid_or_device_power(tmp_path):
    with size_limited_folder(tmp_path / "work", 20 * MIB) as folder:
        options = [
            line.split()[5]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4] == str(folder.path)
        ]
        assert options and {"nosuid", "nodev"} <= set(options[0].split(","))


def test_without_root_the_folder_is_plain_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(sized.os, "geteuid", lambda: 1000)
    with size_limited_folder(tmp_path / "work", 20 * MIB) as folder:
        assert folder.enforcement == "not enforced: mounting a size-limited file system needs root"
        assert not folder.enforced and not folder.is_full()
        _fill(folder.path, 1024)
    assert not (tmp_path / "work.ext4").exists()


def test_without_mkfs_the_folder_is_plain_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(sized.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sized.shutil, "which", lambda *a, **k: None)
    with size_limited_folder(tmp_path / "work", 20 * MIB) as folder:
        assert folder.enforcement == "not enforced: mkfs.ext4 (e2fsprogs) is not installed"


@needs_root
def test_a_failing_mount_is_reported_not_raised(tmp_path, monkeypatch):
    real = sized._tool
    monkeypatch.setattr(sized, "_tool", lambda command: "permission denied" if command[0] == "mount" else real(command))
    with size_limited_folder(tmp_path / "work", 20 * MIB) as folder:
        assert folder.enforcement == "not enforced: mount failed: permission denied"
    assert not (tmp_path / "work.ext4").exists()
