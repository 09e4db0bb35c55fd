"""Temporary things of repropack runs that were killed outright, found and removed by the next run.

A run killed with ``kill -9`` runs no cleanup: its temp folders (a replay's work folder holds the
plaintext copy of every restricted input), its staging files beside an export's output, and any file
system mounted in them stay. Each such thing carries its owner so that a later run can tell a dead
run's leftovers from a live run's work:

- a temp folder made by ``owned_temp_dir`` is locked (``flock``) by its process for as long as it
  lives; the kernel drops the lock when the process dies however it dies, so a folder whose lock can
  be taken has no live owner. An owner file in it (``OWNER_FILE``) says it is repropack's and whose.
- a name (a temp sibling, a container label) carries ``owner_token()``: this host, the pid and the
  pid's start time, so a reused pid is not mistaken for the owner. A token of another host is never
  judged dead here.

``remove_stale_temp_dirs`` and ``remove_stale`` never remove what a live process owns, nor what
carries no owner (made by an older repropack, or by a run killed in the instant between making its
folder and locking it, before anything was written in it).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from repropack.fs.sized import unmount_under

OWNER_FILE = ".repropack-owner"

#: The prefixes of repropack's temp folders whose leftovers a later run removes: folders that can hold
#: plaintext restricted inputs or what the sandbox wrote. Kept work folders (``repropack-kept-work-``)
#: were asked for and are never swept.
SWEPT_PREFIXES = (
    "repropack-work-",  # a replay's work folder: the package tree and the restricted inputs
    "repropack-replay-io-",  # the runner and the exchange with the sandbox
    "repropack-replayed-",  # replayed outputs waiting for the record
    "repropack-runs-",  # export's scratch copies of the project (restricted files included)
    "repropack-export-",  # export's downloaded wheels
    "repropack-compare-runs-",  # export's copies of each run's notebooks, outputs and all
    "repropack-observe-",  # export's kernel log and observation
    "repropack-open-",  # an opened package, extracted
)

_TOKEN = re.compile(r"(?P<host>[0-9a-f]{8})\.(?P<pid>\d+)\.(?P<start>\d+)")


@dataclass(frozen=True)
class Owner:
    """A process on a host: ``host`` a short digest of the host name, ``start`` the pid's start time."""

    host: str
    pid: int
    start: int

    @property
    def token(self) -> str:
        return f"{self.host}.{self.pid}.{self.start}"


def this_host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _start_time(pid: int) -> int | None:
    """The pid's start time in clock ticks since boot; 0 when it runs but /proc does not say (another OS, or
    /proc hiding other users' processes); None when no such process runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # The command name (field 2) is in parentheses and may hold spaces: count the fields after its end.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def this_process() -> Owner:
    return Owner(this_host(), os.getpid(), _start_time(os.getpid()) or 0)


def owner_token() -> str:
    """This process as a name part: ``HOST.PID.START`` (letters, digits and dots only)."""
    return this_process().token


def parse_owner(text: str) -> Owner | None:
    """The owner at the start of ``text`` (a token, or a name part beginning with one), None if there is none."""
    found = _TOKEN.match(text)
    if found is None:
        return None
    return Owner(found["host"], int(found["pid"]), int(found["start"]))


def owner_is_dead(owner: Owner | None) -> bool:
    """True only when ``owner`` was a process on this host that no longer runs; unknown owners are alive."""
    if owner is None or owner.host != this_host():
        return False
    start = _start_time(owner.pid)
    return start is None or (start != owner.start and start != 0 and owner.start != 0)


# --- temp folders ------------------------------------------------------------------------------


@contextmanager
def owned_temp_dir(prefix: str, root: Path | None = None) -> Iterator[Path]:
    """A new temp folder (mode 0700) locked by this process until the ``with`` ends; then removed
    (with anything mounted in it unmounted first).

    Like ``tempfile.TemporaryDirectory``, and a killed run's folder is found by
    ``remove_stale_temp_dirs``. The lock is taken before anything is written in the folder.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while a sweeper is looking at it
        (path / OWNER_FILE).write_text(f"{owner_token()}\n")
        yield path
    finally:
        try:
            _remove_tree(path)
        finally:
            os.close(fd)


def remove_stale_temp_dirs(prefixes: Iterable[str] = SWEPT_PREFIXES, root: Path | None = None) -> list[Path]:
    """Remove the temp folders under ``root`` (the system temp folder) with one of ``prefixes`` whose
    owner is dead: each has an owner file and nobody holds its lock. Returns what was removed."""
    root = Path(root or tempfile.gettempdir())
    wanted = tuple(prefixes)
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    removed = []
    for name in names:
        if name.startswith(wanted) and _remove_if_dead(root / name):
            removed.append(root / name)
    return removed


def _remove_if_dead(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False  # gone, a link, or no folder: nothing of ours
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False  # its owner is alive
            raise
        if not os.path.lexists(path / OWNER_FILE):
            return False  # not marked: an older repropack's, or made this instant
        _remove_tree(path)
        return True
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """``path`` and everything in it, unmounting what is mounted under it first; never follows a link."""
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


# --- names beside an output --------------------------------------------------------------------


def remove_stale(paths: Iterable[Path], owner_of) -> list[Path]:
    """Remove each of ``paths`` whose owner (``owner_of(path)``, an ``Owner`` or None) is dead; returns those."""
    removed = []
    for path in paths:
        if owner_is_dead(owner_of(path)):
            with suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    _remove_tree(path)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
    return removed
