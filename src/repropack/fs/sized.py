"""A folder that cannot grow past a size: its own small file system, so the kernel refuses the write.

``size_limited_folder(path, limit)`` makes ``path`` the mount point of a fresh ext4 file system of
``limit`` bytes held in a sparse file beside it (``PATH.ext4``) and mounted through a loop device,
``nosuid,nodev``. Any process writing there, in a container or not, gets ``ENOSPC`` ("No space left on
device") once it is full; no host process has to watch. It costs about 0.1 s (mkfs, mount, umount) and
the host disk only what is written. The file system has no journal (it lives for one run) and no
``lost+found`` (a notebook listing its folder sees what it saw at export).

Mounting needs root. Without it (or without ``mkfs.ext4``, or when the mount fails) the folder is a
plain folder and the result says why the limit is not enforced; nothing raises.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ENFORCED = "an ext4 file system of its own on a loop device: the kernel refuses writes past the limit"

_STEP = 2**20  # the file system's size is a whole number of MiB
_FULL = 2**20  # less free space than this (or than 1% of a small limit) after a failed run: the run filled it
_TOOL_SECONDS = 60


@dataclass(frozen=True)
class SizedFolder:
    """A folder and its size limit; ``enforcement`` says how the limit holds, or ``not enforced: why``."""

    path: Path
    limit: int  # bytes
    enforcement: str

    @property
    def enforced(self) -> bool:
        return self.enforcement == ENFORCED

    def is_full(self) -> bool:
        """Whether the folder's file system is (about) out of space or of inodes; False when not enforced."""
        if not self.enforced:
            return False
        try:
            fs = os.statvfs(self.path)
        except OSError:
            return False
        return fs.f_bavail * fs.f_frsize < min(_FULL, self.limit // 100) or fs.f_favail == 0


@contextmanager
def size_limited_folder(path: Path, limit: int) -> Iterator[SizedFolder]:
    """Make the new folder ``path`` hold at most ``limit`` bytes for the ``with`` body; on exit it is
    unmounted (its contents go with it) and its backing file removed, whatever happened.

    ``path`` must not exist; its parent is where the backing file goes (a temp folder of the caller's).
    """
    path.mkdir(mode=0o700)
    image = path.with_name(path.name + ".ext4")
    why = _mount_limited(path, image, limit)
    if why is not None:
        image.unlink(missing_ok=True)
        yield SizedFolder(path, limit, f"not enforced: {why}")
        return
    try:
        yield SizedFolder(path, limit, ENFORCED)
    finally:
        unmount_under(path)
        image.unlink(missing_ok=True)


def _mount_limited(path: Path, image: Path, limit: int) -> str | None:
    """Mount a new ``limit``-byte file system at ``path``; None when done, else why it could not be."""
    if os.geteuid() != 0:
        return "mounting a size-limited file system needs root"
    mkfs = shutil.which("mkfs.ext4") or shutil.which("mkfs.ext4", path="/usr/sbin:/sbin")
    if mkfs is None:
        return "mkfs.ext4 (e2fsprogs) is not installed"
    try:
        with open(image, "xb") as fh:
            fh.truncate(-(-limit // _STEP) * _STEP)  # sparse: the host disk holds only what is written
    except OSError as exc:
        return f"its backing file could not be made: {exc.strerror}"
    made = _tool([mkfs, "-q", "-F", "-O", "^has_journal", "-m", "0", "-E", "nodiscard,lazy_itable_init=1", image])
    if made:
        return f"mkfs.ext4 failed: {made}"
    mounted = _tool(["mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noinit_itable", image, path])
    if mounted:
        return f"mount failed: {mounted}"
    try:
        (path / "lost+found").rmdir()
        os.chmod(path, 0o700)
    except OSError as exc:
        unmount_under(path)
        return f"the new file system could not be prepared: {exc.strerror}"
    return None


def _tool(command: list) -> str:
    """Run ``command``; "" when it succeeded, else its last line of output (or why it could not start)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if done.returncode == 0:
        return ""
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or under ``path`` (this process's view, /proc/self/mountinfo), deepest first."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    top = os.path.realpath(path)
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = _unescape(fields[4])
        if point == top or point.startswith(top.rstrip("/") + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_under(path: Path) -> None:
    """Unmount everything mounted at or under ``path`` (a busy one lazily: it goes when its last user does).

    The loop device of a ``size_limited_folder`` is released with it (mount's ``loop`` option sets autoclear).
    """
    for point in mounts_under(path):
        if _tool(["umount", point]):
            _tool(["umount", "--lazy", point])


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
