"""Tree walks that never follow a symbolic link.

``walk_tree`` lists everything under a root: each entry is a file, a folder, a
symlink (never followed: whatever it points to, a file, a folder, nothing, or
itself) or something else (FIFO, socket, device; never opened). The root itself
is the caller's and is taken as given. Folders are opened relative to their
parent with ``O_NOFOLLOW``, so a folder swapped for a symlink while the walk
runs is refused rather than followed; ``remove_symlinks`` and ``chown_tree`` also
act on each entry relative to its open parent, so they stay inside the tree even
then. ``Entry.path`` is for reading after the walk: it is only as safe as the
tree is quiet.

Errors: a folder that cannot be listed raises its ``OSError`` unless the caller
passes ``on_error(path, error)`` (``ignore_errors`` leaves it out, as ``os.walk``
does by default). The walk is iterative (no recursion limit) and holds one open
descriptor per level of depth, so a tree deeper than the open-file limit is an
error (EMFILE), never a partial answer unless ``on_error`` says so.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class EntryKind(str, enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # FIFO, socket, device


@dataclass(frozen=True)
class Entry:
    relpath: str  # POSIX path relative to the root ("data/raw.csv")
    kind: EntryKind
    path: Path  # root / relpath

    @property
    def name(self) -> str:
        return self.relpath.rpartition("/")[2]


OnError = Callable[[Path, OSError], None]
Descend = Callable[[Entry], bool]


def ignore_errors(path: Path, error: OSError) -> None:
    """An ``on_error`` that leaves out a folder it cannot list (what ``os.walk`` does unless told)."""


def walk_tree(root: Path, *, descend: Descend | None = None, on_error: OnError | None = None) -> Iterator[Entry]:
    """Every entry under ``root`` (not ``root`` itself), top-down, names sorted within each folder.

    Symlinks are yielded, never followed. A folder is walked into unless
    ``descend(entry)`` says no. ``on_error(path, error)`` is called for a
    folder that cannot be opened or listed (``root`` included); without it the
    error is raised.
    """
    for entry, _dir_fd in _walk(Path(root), descend, on_error):
        yield entry


def find_symlinks(root: Path, *, on_error: OnError | None = None) -> list[str]:
    """The relative POSIX paths of every symlink under ``root``, sorted; none is followed."""
    return sorted(entry.relpath for entry in walk_tree(root, on_error=on_error) if entry.kind is EntryKind.SYMLINK)


def remove_symlinks(root: Path, *, on_error: OnError | None = None) -> dict[str, str]:
    """Remove every symlink under ``root``, unread; return relative path -> what it pointed to, sorted by path.

    For a tree someone hostile wrote (``outputs/x -> /etc/shadow``): no link is
    followed, and each is read and removed relative to its open parent folder.
    """
    planted: dict[str, str] = {}
    for entry, dir_fd in _walk(Path(root), None, on_error):
        if entry.kind is EntryKind.SYMLINK:
            planted[entry.relpath] = os.readlink(entry.name, dir_fd=dir_fd)
            os.unlink(entry.name, dir_fd=dir_fd)
    return dict(sorted(planted.items()))


def remove_special_files(root: Path, *, on_error: OnError | None = None) -> dict[str, str]:
    """Remove every FIFO, socket and device under ``root``, never opened; return relative path -> what it
    was ("a FIFO"), sorted by path. A FIFO left by a sandbox would hang the reader that opens it."""
    planted: dict[str, str] = {}
    for entry, dir_fd in _walk(Path(root), None, on_error):
        if entry.kind is EntryKind.OTHER:
            planted[entry.relpath] = special_kind(os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
            os.unlink(entry.name, dir_fd=dir_fd)
    return dict(sorted(planted.items()))


def special_kind(mode: int) -> str:
    """What a file that is neither a regular file, a folder nor a symlink is, as a phrase: "a FIFO"."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def walk_open(root: Path, *, on_error: OnError | None = None) -> Iterator[tuple[Entry, int]]:
    """``walk_tree``'s entries (every folder walked), each with an open descriptor of its parent folder, valid
    until the next entry: act on ``entry.name`` relative to it (``dir_fd=``) to stay inside the tree even
    while someone swaps a folder for a link."""
    return _walk(Path(root), None, on_error)


def chown_tree(root: Path, uid: int, gid: int, *, on_error: OnError | None = None) -> None:
    """Give ``root`` and everything under it to ``uid:gid``; a symlink's own owner changes, never its target's."""
    os.chown(root, uid, gid)
    for entry, dir_fd in _walk(Path(root), None, on_error):
        os.chown(entry.name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def _walk(root: Path, descend: Descend | None, on_error: OnError | None) -> Iterator[tuple[Entry, int]]:
    """``walk_tree``'s entries, each with an open descriptor of its folder (valid until the next entry)."""
    top = _list_folder(root, "", None, on_error)
    if top is None:
        return
    stack = [top]
    try:
        while stack:
            dir_fd, pending = stack[-1]
            entry = next(pending, None)
            if entry is None:
                stack.pop()
                os.close(dir_fd)
                continue
            yield entry, dir_fd
            if entry.kind is EntryKind.DIR and (descend is None or descend(entry)):
                child = _list_folder(entry.path, entry.relpath, dir_fd, on_error)
                if child is not None:
                    stack.append(child)
    finally:
        for dir_fd, _pending in stack:
            os.close(dir_fd)


def _list_folder(
    folder: Path, relpath: str, parent_fd: int | None, on_error: OnError | None
) -> tuple[int, Iterator[Entry]] | None:
    """Open ``folder`` (relative to ``parent_fd``, never through a link, unless it is the root) and list it."""
    dir_fd = -1
    try:
        if parent_fd is None:
            dir_fd = os.open(folder, _OPEN_DIR)
        else:
            # A folder swapped for a link since its parent was listed fails here (ELOOP or ENOTDIR).
            dir_fd = os.open(folder.name, _OPEN_DIR | os.O_NOFOLLOW, dir_fd=parent_fd)
        with os.scandir(dir_fd) as listing:  # scandir reads a duplicate: dir_fd stays open
            entries = [_entry(item, folder, relpath) for item in sorted(listing, key=lambda item: item.name)]
    except OSError as error:
        if dir_fd >= 0:
            os.close(dir_fd)
        if on_error is None:
            raise
        on_error(folder, error)
        return None
    return dir_fd, iter(entries)


def _entry(item: os.DirEntry, folder: Path, relpath: str) -> Entry:
    if item.is_symlink():
        kind = EntryKind.SYMLINK
    elif item.is_dir(follow_symlinks=False):
        kind = EntryKind.DIR
    elif item.is_file(follow_symlinks=False):
        kind = EntryKind.FILE
    else:
        kind = EntryKind.OTHER
    return Entry(f"{relpath}/{item.name}" if relpath else item.name, kind, folder / item.name)
