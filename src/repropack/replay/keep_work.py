"""``--keep``: a copy of the work folder for debugging, safe to leave on a shared machine.

The work folder was written by the sandbox, and repropack may run as root, so
the copy takes nothing from it but names and bytes: it is made with a no-follow
walk (``fs/walk.py``), of regular files and folders only (symlinks, FIFOs,
sockets and devices are left out, never opened), each file new and owned by
the user running the replay, mode 0600 (0700 when its owner could execute it:
a script stays runnable), every folder 0700, never a setuid, setgid or sticky
bit. The kept folder itself is 0700: ``work/`` holds the copy and
``left-out.txt`` lists, one line each, what was not copied. Restricted inputs
are left out unless the reviewer asks for them (``--keep-restricted``); inputs
decrypted from the package are never kept, whatever is asked. The copy
holds at most ``limit`` bytes (the replay's disk limit): a sparse file the sandbox
left within its limit would otherwise grow to its full size on the host's disk.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from repropack.fs.walk import EntryKind, special_kind, walk_open

_FILE_MODE = 0o600
_EXECUTABLE_MODE = 0o700
_FOLDER_MODE = 0o700
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
LEFT_OUT_FILE = "left-out.txt"


@dataclass(frozen=True)
class KeptWork:
    """Where the copy is (``folder / "work"``) and one line per path left out of it."""

    folder: Path
    left_out: tuple[str, ...] = ()

    @property
    def work(self) -> Path:
        return self.folder / "work"


def keep_work_dir(
    work: Path,
    *,
    restricted: Collection[str] = (),
    keep_restricted: bool = False,
    private: Collection[str] = (),
    removed: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> KeptWork:
    """Copy ``work`` into a new 0700 folder under the temp folder and return it.

    ``restricted`` lists package paths of restricted inputs, left out unless
    ``keep_restricted``; ``private`` lists those decrypted from the package, never kept. ``removed`` (path -> what it was) names what the replay
    already removed from ``work`` (planted links and special files): listed as
    left out too. A file that would take the copy past ``limit`` bytes is left out
    and listed. Never raises for what the sandbox left; an entry that cannot be
    copied is listed.
    """
    folder = Path(tempfile.mkdtemp(prefix="repropack-kept-work-"))  # 0700, this process's user
    target = folder / "work"
    os.mkdir(target, _FOLDER_MODE)
    os.chmod(target, _FOLDER_MODE)  # mkdir's mode obeys the umask
    left_out = [f"{path}: {what}; removed unread" for path, what in (removed or {}).items()]
    unlisted: list[str] = []

    def unreadable(path: Path, error: OSError) -> None:
        unlisted.append(f"{_relative(path, work)}/: cannot be listed ({error.strerror or error}); left out")

    skipped: list[str] = []  # folders not copied: nothing under them is
    budget = _Budget(limit)
    for entry, dir_fd in walk_open(work, on_error=unreadable):
        if any(entry.relpath.startswith(folder_path + "/") for folder_path in skipped):
            continue
        if entry.kind is EntryKind.DIR:
            try:
                os.mkdir(target / entry.relpath, _FOLDER_MODE)
                os.chmod(target / entry.relpath, _FOLDER_MODE)
            except OSError as error:
                skipped.append(entry.relpath)
                left_out.append(f"{entry.relpath}/: {error.strerror or error}; left out")
        elif entry.kind is EntryKind.SYMLINK:
            left_out.append(f"{entry.relpath}: a symbolic link; left out, never followed")
        elif entry.kind is EntryKind.OTHER:
            mode = os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            left_out.append(f"{entry.relpath}: {special_kind(mode)}; left out, never opened")
        elif entry.relpath in private:
            left_out.append(f"{entry.relpath}: an input decrypted from the package; never kept")
        elif entry.relpath in restricted and not keep_restricted:
            left_out.append(f"{entry.relpath}: a restricted input; left out (--keep-restricted keeps it)")
        else:
            problem = _copy_file(entry.name, dir_fd, target / entry.relpath, budget)
            if problem:
                left_out.append(f"{entry.relpath}: {problem}; left out")
    left_out.extend(unlisted)
    if left_out:
        (folder / LEFT_OUT_FILE).write_text("".join(f"{line}\n" for line in sorted(left_out)), encoding="utf-8")
    return KeptWork(folder, tuple(sorted(left_out)))


@dataclass
class _Budget:
    """How many bytes the copy may still take (no limit when ``left`` is None)."""

    left: int | None

    def take(self, size: int) -> bool:
        if self.left is None:
            return True
        if size > self.left:
            return False
        self.left -= size
        return True


def _copy_file(name: str, dir_fd: int, destination: Path, budget: _Budget) -> str:
    """Copy the regular file ``name`` (in ``dir_fd``) to a new file; why not ("" when copied)."""
    try:
        source = os.open(name, _READ, dir_fd=dir_fd)
    except OSError as error:
        return error.strerror or str(error)
    try:
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):  # swapped since the walk listed it
            return "no longer a regular file"
        if not budget.take(info.st_size):
            return f"{info.st_size} bytes would take the kept copy past the disk limit"
        mode = _EXECUTABLE_MODE if info.st_mode & stat.S_IXUSR else _FILE_MODE
        with os.fdopen(os.open(destination, _CREATE, mode), "wb") as out:
            os.fchmod(out.fileno(), mode)  # os.open's mode obeys the umask
            # Never more than was counted: the sandbox may still be growing the file.
            remaining = info.st_size
            while remaining > 0 and (chunk := os.read(source, min(2**20, remaining))):
                out.write(chunk)
                remaining -= len(chunk)
    except OSError as error:
        return error.strerror or str(error)
    finally:
        os.close(source)
    return ""


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) and path != root else "."
