"""The repository's blob store: file contents by sha256, each written once and verified on the way in and out.

A blob is written to a staging file on the same filesystem, hashed while it is copied, flushed to disk,
made read-only and renamed into place: a reader never sees a partial blob, two writers of the same
content race harmlessly (the second rename replaces identical bytes), and a process killed mid-write
leaves only a staging file, which ``sweep_staging`` removes once its owner is dead.

Durability: when ``put`` or ``put_many`` returns, every blob it wrote is on disk in place (its bytes
and its name), so a catalog transaction committed after it never names a blob a crash could lose. The
bytes are made durable *before* the rename, so a blob found in place (which ``put`` trusts without
reading) is never one whose bytes a crash lost. ``put_many`` does this once for a whole batch: on
Linux two ``syncfs(2)`` of the store's filesystem (one for the staged bytes, one for the renames),
elsewhere an fsync of each staged file and then of each folder a rename touched; one fsync per blob
cost more than the rest of importing a small package.

``Store`` is the extension point (``STORES``): the local folder is the default, and an object store can
be added by implementing the same five methods.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

from repropack.errors import BadInput, CannotRun
from repropack.fs.stale import owner_is_dead, owner_token, parse_owner
from repropack.plugins import Registry

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_BLOB_MODE = 0o444


class Store(ABC):
    """Bytes by their sha256. Implementations must make ``put`` atomic and verify what they are given."""

    name: ClassVar[str]

    @abstractmethod
    def has(self, sha256: str) -> bool:
        """Whether the blob is stored (not whether it is intact: that is ``verify``)."""

    @abstractmethod
    def put(self, source: Path, sha256: str, size: int) -> bool:
        """Store the bytes of ``source`` as ``sha256``; True when written, False when already held.

        BadInput when the bytes read are not ``size`` bytes hashing to ``sha256`` (nothing is stored then).
        """

    def put_many(
        self, items: Iterable[tuple[Path, str, int]], on_stored: Callable[[int], None] | None = None
    ) -> list[bool]:
        """``put`` each ``(source, sha256, size)``, in order; True for each newly written.

        When it returns, every blob written is as durable as ``put`` makes one (a store may do that once
        for the batch). BadInput as ``put``: then none of the blobs not yet durable is left anywhere.
        ``on_stored`` is called with each item's size once it is copied.
        """
        written = []
        for source, sha256, size in items:
            written.append(self.put(source, sha256, size))
            if on_stored is not None:
                on_stored(size)
        return written

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """The blob for reading; CannotRun when it is missing."""

    @abstractmethod
    def blobs(self) -> Iterator[str]:
        """The sha256 of every stored blob, in no particular order."""

    @abstractmethod
    def verify(self, sha256: str) -> str | None:
        """None when the blob is there and hashes to its name, else one line saying what is wrong."""


STORES: Registry[type[Store]] = Registry(kind="store", group="repropack.stores", built_in=(__name__,))


def check_digest(sha256: str) -> str:
    """``sha256`` when it is 64 lowercase hex digits; ValueError otherwise (a name must never become a path)."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 digest: {sha256!r}")
    return sha256


@STORES.register
class LocalStore(Store):
    """Blobs as read-only files ``ROOT/sha256/ab/<digest>``, staged in ``staging`` (same filesystem as ROOT)."""

    name = "local"

    def __init__(self, root: Path, staging: Path) -> None:
        self.root = root
        self.staging = staging

    def path_of(self, sha256: str) -> Path:
        digest = check_digest(sha256)
        return self.root / "sha256" / digest[:2] / digest

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put(self, source: Path, sha256: str, size: int) -> bool:
        return self.put_many([(source, sha256, size)])[0]

    def put_many(
        self, items: Iterable[tuple[Path, str, int]], on_stored: Callable[[int], None] | None = None
    ) -> list[bool]:
        written: list[bool] = []
        staged: dict[Path, Path] = {}  # target -> staging file, bytes not yet durable
        try:
            for source, sha256, size in items:
                target = self.path_of(sha256)
                fresh = not target.is_file() and target not in staged
                if fresh:
                    self.staging.mkdir(parents=True, exist_ok=True)
                    staged[target] = self.staging / f"{owner_token()}.{secrets.token_hex(6)}"
                    self._copy_verified(source, staged[target], sha256, size)
                written.append(fresh)
                if on_stored is not None:
                    on_stored(size)
            if staged:
                self._move_durably(staged)
        except BaseException:
            for path in staged.values():
                path.unlink(missing_ok=True)
            raise
        return written

    def _move_durably(self, staged: dict[Path, Path]) -> None:
        """Make the staged bytes durable, rename them into place, make the renames durable."""
        folders: set[Path] = set()
        for target in staged:
            folders |= _made_folders(target.parent)
        if not _sync_filesystem(self.staging):
            for path in staged.values():
                _fsync(path)
        for target, path in staged.items():
            os.replace(path, target)
        if not _sync_filesystem(self.root):
            for folder in folders:
                _fsync(folder)

    @staticmethod
    def _copy_verified(source: Path, staged: Path, sha256: str, size: int) -> None:
        digest = hashlib.sha256()
        written = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with open(source, "rb") as reader, os.fdopen(os.open(staged, flags, 0o600), "wb") as writer:
            while chunk := reader.read(_CHUNK):
                written += len(chunk)
                if written > size:
                    break
                digest.update(chunk)
                writer.write(chunk)
        if written != size or digest.hexdigest() != sha256:
            raise BadInput(f"{source}: its bytes changed while being stored (expected {size} bytes, sha256 {sha256})")
        os.chmod(staged, _BLOB_MODE)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_of(sha256).open("rb")
        except FileNotFoundError:
            raise CannotRun(f"blob {sha256} is missing from the store at {self.root}") from None

    def blobs(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(os.listdir(base)):
            folder = base / prefix
            if not folder.is_dir():
                continue
            for name in sorted(os.listdir(folder)):
                if _SHA256.fullmatch(name) and name.startswith(prefix):
                    yield name

    def verify(self, sha256: str) -> str | None:
        path = self.path_of(sha256)
        if path.is_symlink() or not path.is_file():
            return f"blob {sha256}: missing from the store"
        digest = hashlib.sha256()
        with path.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            return f"blob {sha256}: its bytes hash to {digest.hexdigest()}"
        return None

    def sweep_staging(self) -> list[Path]:
        """Remove staging files whose writer died (a killed import's); returns them."""
        if not self.staging.is_dir():
            return []
        removed = []
        for name in sorted(os.listdir(self.staging)):
            if owner_is_dead(parse_owner(name.rsplit(".", 1)[0])):
                path = self.staging / name
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        return removed


def _made_folders(folder: Path) -> set[Path]:
    """Create ``folder`` and any missing parents; the folders whose entries changed (to be made durable)."""
    changed = {folder}
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
        changed.add(folder)
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return changed


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # the C library the interpreter is linked with
    except (OSError, AttributeError, TypeError):  # none to load, or one without syncfs (not Linux)
        return None


_SYNCFS = _load_syncfs()


def _sync_filesystem(folder: Path) -> bool:
    """Flush everything written to the filesystem holding ``folder`` (syncfs(2)); False where unavailable.

    CannotRun when the flush fails: a write the kernel could not make durable must not be catalogued.
    """
    if _SYNCFS is None:
        return False
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(descriptor) != 0:
            error = ctypes.get_errno()
            raise CannotRun(f"{folder}: cannot flush the blob store to disk ({os.strerror(error)})")
    finally:
        os.close(descriptor)
    return True
