"""Outputs that appear whole or not at all: build beside the destination, then rename into place.

Everything is built under a *temp sibling* of its destination (same folder, so
same file system, so the final rename is atomic) whose name says whose it is:
``.NAME.repropack-tmp-OWNER.TOKEN``, OWNER being the process that made it
(``fs/stale.py``: host, pid, start time). An error, Ctrl-C included, removes
what was built and leaves the destination as it was. A process killed outright
can leave a temp sibling behind; ``temp_siblings`` finds those (export never
packs them) and ``remove_dead_siblings`` removes those whose owner is dead.

- ``write_bytes_atomically``: one file from bytes, optionally with an exact mode.
- ``staged_folder``: a folder built by the caller.
- ``staged_file``: a file built by another tool (a zip writer) at a path it is given.
- ``scratch_folder``: a working folder beside an output, always removed.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repropack.errors import BadInput
from repropack.fs.stale import owner_token, parse_owner, remove_stale

TEMP_MARKER = ".repropack-tmp-"

_NEW_FILE_MODE = 0o666  # what open() asks for; the umask narrows it


def temp_sibling(path: Path, token: str | None = None) -> Path:
    """A temporary path beside ``path``, on the same file system so a rename is atomic.

    ``token`` defaults to this process's owner token and a fresh random part. A temp
    sibling of a temp sibling is named after the original, so ``temp_siblings`` of the
    original finds it too.
    """
    token = f"{owner_token()}.{secrets.token_hex(4)}" if token is None else token
    if _is_temp_name(path.name):
        return path.parent / f"{path.name}-{token}"
    return path.parent / f".{path.name}{TEMP_MARKER}{token}"


def temp_siblings(path: Path) -> list[Path]:
    """Existing temporary paths of ``path`` (left by a killed process), sorted."""
    prefix = f".{path.name}{TEMP_MARKER}"
    try:
        names = os.listdir(path.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(path.parent / name for name in names if name.startswith(prefix))


def remove_dead_siblings(path: Path) -> list[Path]:
    """Remove the temp siblings of ``path`` whose owner died (a killed export's); returns them.

    One whose owner is alive, on another host, or not named (an older repropack's) is left.
    """
    prefix = f".{path.name}{TEMP_MARKER}"
    return remove_stale(temp_siblings(path), lambda sibling: parse_owner(sibling.name[len(prefix) :]))


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and TEMP_MARKER in name


def write_bytes_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with a file holding ``data``; readers see the old file or the new one, never a part.

    With ``mode`` the file has exactly that mode, whatever the umask, from the
    moment it exists (the bytes never sit in a file others could open); without,
    it gets 0666 narrowed by the umask, like ``open``. The bytes are fsynced
    before the rename. A symlink at ``path`` is replaced, not followed. On any
    failure the temp file is removed and ``path`` is untouched.
    """
    temp = temp_sibling(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, _NEW_FILE_MODE if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None:
                os.fchmod(stream.fileno(), mode)  # O_CREAT's mode is narrowed by the umask
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def staged_folder(
    destination: Path,
    *,
    replace: bool = False,
    parents: bool = False,
    mode: int = 0o777,
    exists_message: str | None = None,
) -> Iterator[Path]:
    """Yield a new empty folder beside ``destination``; on normal exit it becomes ``destination``.

    ``mode`` is the folder's ``mkdir`` mode (the umask narrows it); ``parents``
    creates missing parent folders of ``destination`` first. If the ``with``
    body raises (KeyboardInterrupt included), the staging folder is removed
    and ``destination`` is untouched. When ``destination`` exists (a dangling
    symlink counts), raises ``BadInput(exists_message)`` unless ``replace``, both
    before building and again before the rename; with ``replace`` the old
    ``destination`` is kept until the new one is in place, so a failure loses
    nothing.
    """
    _refuse_existing(destination, replace, exists_message)
    if parents:
        destination.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_sibling(destination)
    staging.mkdir(mode=mode)
    try:
        yield staging
        _commit(staging, destination, replace, exists_message)
    finally:
        _remove(staging)


@contextmanager
def staged_file(destination: Path, *, replace: bool = False, exists_message: str | None = None) -> Iterator[Path]:
    """Yield a path beside ``destination`` for the ``with`` body to create; on normal exit it becomes ``destination``.

    For a file another tool writes (a zip, a download). Failures, existence
    and ``replace`` behave as in ``staged_folder``; an existing ``destination``
    file is replaced in one rename.
    """
    _refuse_existing(destination, replace, exists_message)
    staging = temp_sibling(destination)
    try:
        yield staging
        _commit(staging, destination, replace, exists_message)
    finally:
        _remove(staging)


@contextmanager
def scratch_folder(beside: Path) -> Iterator[Path]:
    """Yield a new empty folder beside ``beside`` (a temp sibling of it), removed on exit whatever happens."""
    scratch = temp_sibling(beside)
    scratch.mkdir()
    try:
        yield scratch
    finally:
        _remove(scratch)


def _refuse_existing(destination: Path, replace: bool, exists_message: str | None) -> None:
    if not replace and os.path.lexists(destination):
        raise BadInput(exists_message or f"{destination}: already exists")


def _commit(built: Path, destination: Path, replace: bool, exists_message: str | None) -> None:
    _refuse_existing(destination, replace, exists_message)  # it may have appeared while we built
    if not os.path.lexists(destination):
        os.replace(built, destination)
        return
    if not built.is_dir() and not _is_real_dir(destination):
        os.replace(built, destination)  # a file over a file (or link): one atomic rename keeps the old until then
        return
    # A folder cannot be renamed over a non-empty folder: move the old one aside first
    # and put it back if the new one cannot take its place.
    old = temp_sibling(destination, f"{owner_token()}.{secrets.token_hex(4)}-old")
    os.replace(destination, old)
    try:
        os.replace(built, destination)
    except BaseException:
        if os.path.lexists(old) and not os.path.lexists(destination):
            os.replace(old, destination)
        raise
    _remove(old)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove(path: Path) -> None:
    """Remove a file, link or folder tree at ``path`` if there is one (never following a link)."""
    if _is_real_dir(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class StagingFolder:
    """A folder being built beside ``destination`` that becomes it only when ``commit`` is called."""

    def __init__(self, path: Path, destination: Path, replace: bool, exists_message: str | None) -> None:
        self.path = path
        self.destination = destination
        self._replace = replace
        self._exists_message = exists_message
        self.committed = False

    def commit(self) -> None:
        """Rename the folder into place (refusing or replacing an existing destination as ``staging_folder`` says)."""
        _commit(self.path, self.destination, self._replace, self._exists_message)
        self.committed = True


@contextmanager
def staging_folder(
    destination: Path, *, replace: bool = False, exists_message: str | None = None
) -> Iterator[StagingFolder]:
    """``staged_folder`` for a folder whose completion is decided later: it becomes ``destination`` only through
    ``StagingFolder.commit()``; leaving the ``with`` without a commit (an error, or no call) removes it."""
    _refuse_existing(destination, replace, exists_message)
    staging = temp_sibling(destination)
    staging.mkdir()
    try:
        yield StagingFolder(staging, destination, replace, exists_message)
    finally:
        _remove(staging)
