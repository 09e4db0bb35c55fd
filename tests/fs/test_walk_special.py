"""Special files a sandbox left (FIFOs, sockets, devices) are removed without being opened."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

from repropack.fs.walk import remove_special_files, special_kind


def test_fifos_and_sockets_are_removed_unopened_and_named(tmp_path: Path):
    (tmp_path / "outputs" / "deep").mkdir(parents=True)
    (tmp_path / "outputs" / "counts.csv").write_text("a\n")
    os.mkfifo(tmp_path / "outputs" / "deep" / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "outputs" / "sock"))
    os.symlink("/etc/passwd", tmp_path / "link")  # not special: left for remove_symlinks
    found = {}
    try:
        thread = threading.Thread(target=lambda: found.update(removed=remove_special_files(tmp_path)), daemon=True)
        thread.start()
        thread.join(timeout=10)
    finally:
        server.close()
    assert not thread.is_alive(), "the walk blocked on a FIFO"
    assert found["removed"] == {"outputs/deep/pipe": "a FIFO", "outputs/sock": "a socket"}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["counts.csv", "deep", "link", "outputs"]


def test_kinds_are_named():
    assert special_kind(stat.S_IFCHR) == "a character device"
    assert special_kind(stat.S_IFBLK) == "a block device"
