"""Replayed outputs a record keeps are new files: no setuid, setgid or execute bit comes from the sandbox."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from repropack.replay.kept import keep_outputs


def test_a_setuid_output_is_kept_as_a_plain_file(tmp_path: Path):
    work = tmp_path / "work"
    (work / "outputs").mkdir(parents=True)
    shutil.copy("/bin/sh", work / "outputs" / "s")
    os.chmod(work / "outputs" / "s", 0o6755)
    os.chmod(work / "outputs", 0o3777)
    kept = keep_outputs(work, ["outputs/s"], tmp_path / "kept")
    assert kept.files == ("outputs/s",)
    copy = tmp_path / "kept" / "outputs" / "s"
    assert copy.read_bytes() == Path("/bin/sh").read_bytes()
    assert not os.stat(copy).st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert not os.stat(copy.parent).st_mode & (stat.S_ISGID | stat.S_ISVTX)
    assert os.stat(copy).st_uid == os.geteuid()
