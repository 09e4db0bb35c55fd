"""SHA-256 digests of project files, in parallel, with a persistent cache.

A cache entry is trusted while a file's absolute path, size, mtime_ns and inode
are unchanged, so re-hashing an unchanged project reads no file contents.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import platformdirs

from repropack.errors import BadInput
from repropack.model import Digest

#: Environment variable naming the folder that holds the hash cache.
CACHE_DIR_ENV = "REPROPACK_CACHE_DIR"

_CACHE_FILENAME = "hashes.sqlite"

# Seconds a writer waits for another process's transaction before giving up.
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL
) WITHOUT ROWID
"""

ProgressCallback = Callable[[int], None]

#: Files adding up to at most this many bytes are hashed one after another in the calling thread.
_SERIAL_MAX_BYTES = 4 << 20


def default_cache_dir() -> Path:
    """The user's cache folder: ``$REPROPACK_CACHE_DIR`` if set, else the platform cache folder."""
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("repropack"))


_COPY_CHUNK = 1 << 20


def sha256_file(path: Path, chunk_size: int = 1 << 20, *, on_bytes: ProgressCallback | None = None) -> Digest:
    """Return the SHA-256 and size of the bytes read from ``path``.

    Memory use is one ``chunk_size`` buffer whatever the file size.
    ``on_bytes`` is called with the length of each chunk once it is hashed.
    Raises ``OSError`` when the file cannot be read.
    """
    digest = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    total = 0
    # Unbuffered reads straight into one reused buffer: no per-chunk allocation
    # and no extra copy through Python's read buffer.
    with open(path, "rb", buffering=0) as stream:
        while read := stream.readinto(buffer):
            digest.update(view[:read])
            total += read
            if on_bytes is not None:
                on_bytes(read)
    return Digest(sha256=digest.hexdigest(), size=total)


class HashCache:
    """Digests remembered across runs in a SQLite file.

    Several processes may share one cache file. The cache is only an
    optimisation: a damaged file is replaced, and a database error while
    looking up or storing is a miss or a dropped write, never an exception.
    One instance may be used from several threads.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        self._connection = _open_or_replace(db_path)

    @classmethod
    def default(cls) -> HashCache:
        """The user's cache: ``$REPROPACK_CACHE_DIR`` if set, else the platform cache folder."""
        return cls(default_cache_dir() / _CACHE_FILENAME)

    def lookup(self, path: Path, st: os.stat_result) -> Digest | None:
        """The cached digest of ``path`` if it was stored for this same size, mtime_ns and inode."""
        try:
            with self._lock:
                row = self._connection.execute(
                    "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                    (_cache_key(path), st.st_size, st.st_mtime_ns, st.st_ino),
                ).fetchone()
        except sqlite3.DatabaseError:
            return None
        return None if row is None else Digest(sha256=row[0], size=st.st_size)

    def store_many(self, entries: Iterable[tuple[Path, os.stat_result, Digest]]) -> None:
        """Remember digests in one transaction; an entry replaces any older one for its path."""
        rows = [
            (_cache_key(path), st.st_size, st.st_mtime_ns, st.st_ino, digest.sha256) for path, st, digest in entries
        ]
        if not rows:
            return
        try:
            with self._lock, self._connection:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, inode, sha256) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.DatabaseError:
            # Another process held the database past the timeout, or the file
            # went bad under us: these digests will simply be computed again.
            pass

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def hash_files(
    paths: Sequence[Path],
    *,
    cache: HashCache | None = None,
    workers: int | None = None,
    on_bytes: ProgressCallback | None = None,
) -> dict[Path, Digest]:
    """Return the digest of every path, each path once, in the order given.

    Files are hashed by ``workers`` threads (default: one per CPU), largest
    first; files totalling at most 4 MiB (or a single file) in the calling thread. Cache hits read no file contents. Fresh digests are stored in the
    cache in one transaction, except for files whose stat changed while they
    were read: their digest is returned but not trusted for later runs.

    ``on_bytes`` is called, possibly from worker threads, with increments that
    add up to the total size of all files: a cache hit counts as done at once,
    a hashed file counts as its chunks are read.

    Raises ``BadInput("cannot read PATH: reason")`` for a path that cannot be
    read, after the readable files were hashed and cached.
    """
    unique = list(dict.fromkeys(paths))
    stats = {path: _stat(path) for path in unique}
    results: dict[Path, Digest] = {}
    misses: list[Path] = []
    for path in unique:
        cached = cache.lookup(path, stats[path]) if cache is not None else None
        if cached is None:
            misses.append(path)
        else:
            results[path] = cached
            if on_bytes is not None:
                on_bytes(cached.size)

    # Largest first, so one big file does not start last and run alone at the end.
    misses.sort(key=lambda path: stats[path].st_size, reverse=True)
    trusted: list[tuple[Path, os.stat_result, Digest]] = []
    failure: BadInput | None = None
    for path, outcome in _hashed(misses, stats, workers, on_bytes):
        if isinstance(outcome, BadInput):
            # Finish the other files so their digests reach the cache:
            # the run that follows the fix then re-reads only this one.
            failure = failure or outcome
            continue
        digest, st_after = outcome
        results[path] = digest
        if _same_file_state(stats[path], st_after, digest):
            trusted.append((path, st_after, digest))
    if cache is not None:
        cache.store_many(trusted)
    if failure is not None:
        raise failure
    return {path: results[path] for path in unique}


def _hashed(
    paths: list[Path], stats: Mapping[Path, os.stat_result], workers: int | None, on_bytes: ProgressCallback | None
) -> Iterator[tuple[Path, tuple[Digest, os.stat_result] | BadInput]]:
    """Each path's digest and stat after reading, or the BadInput saying why it could not be read, in order.

    A few small files are hashed in this thread: starting a pool costs more than reading them.
    """
    if len(paths) <= 1 or sum(stats[path].st_size for path in paths) <= _SERIAL_MAX_BYTES:
        for path in paths:
            try:
                yield path, _hash_one(path, on_bytes)
            except BadInput as error:
                yield path, error
        return
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = {path: pool.submit(_hash_one, path, on_bytes) for path in paths}
        for path, future in futures.items():
            try:
                yield path, future.result()
            except BadInput as error:
                yield path, error


def _hash_one(path: Path, on_bytes: ProgressCallback | None) -> tuple[Digest, os.stat_result]:
    try:
        digest = sha256_file(path, on_bytes=on_bytes)
        return digest, os.stat(path)
    except OSError as error:
        raise _unreadable(path, error) from error


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as error:
        raise _unreadable(path, error) from error


def _unreadable(path: Path, error: OSError) -> BadInput:
    return BadInput(f"cannot read {path}: {error.strerror or error}")


def _same_file_state(before: os.stat_result, after: os.stat_result, digest: Digest) -> bool:
    return (
        before.st_size == after.st_size == digest.size
        and before.st_mtime_ns == after.st_mtime_ns
        and before.st_ino == after.st_ino
    )


def _cache_key(path: Path) -> str:
    # Absolute but not resolved: stat follows symlinks, so the inode in the key
    # already ties the entry to the file actually read.
    return os.path.abspath(path)


def _open_or_replace(db_path: Path) -> sqlite3.Connection:
    try:
        return _open(db_path)
    except sqlite3.DatabaseError as error:
        if _is_busy(error):
            # A healthy cache held by another process: do without it this time.
            return _open_in_memory()
    except OSError:
        # The parent folder cannot be created: hash without persistence.
        return _open_in_memory()
    # Not a database, malformed or unopenable: start again from an empty cache.
    try:
        _remove_database(db_path)
        return _open(db_path)
    except (sqlite3.DatabaseError, OSError):
        # The folder cannot hold a database (read-only, full): hash without persistence.
        return _open_in_memory()


def _open(db_path: Path) -> sqlite3.Connection:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(db_path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
    try:
        _use_write_ahead_log(connection)
        connection.execute(_SCHEMA)
    except BaseException:
        connection.close()
        raise
    return connection


def _use_write_ahead_log(connection: sqlite3.Connection) -> None:
    # WAL lets readers in other processes proceed while one process writes.
    # Switching to it needs an exclusive lock, and SQLite reports BUSY at once
    # instead of waiting, so retry here; the mode then persists in the file.
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)


def _open_in_memory() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.execute(_SCHEMA)
    return connection


def _is_busy(error: sqlite3.DatabaseError) -> bool:
    # SQLITE_BUSY / SQLITE_LOCKED messages; the error codes are only exposed from Python 3.11.
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _remove_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def copy_and_hash(
    files: Mapping[Path, tuple[Path, FileState]],
    *,
    cache: HashCache | None = None,
    workers: int | None = None,
    on_bytes: ProgressCallback | None = None,
    label: Callable[[Path], str] = str,
    previous: Mapping[Path, Path] | None = None,
) -> dict[Path, Digest]:
    """Copy each source to its new destination path and return the sources' digests, each file read once.

    ``files`` maps a source to (destination, the state it had when it was
    listed). A source whose digest the cache holds is copied by the kernel
    (no read into this process); any other is read once, each chunk hashed and
    written. Files are done by ``workers`` threads (default: one per CPU),
    largest first; destination folders are created first, destinations must not
    exist (never followed). Fresh digests of files that stayed unchanged are
    cached, as ``hash_files`` does. ``previous`` maps a source to a file that
    may already hold its bytes (the same path in the package being replaced):
    when the cache vouches for both with the same digest, the destination is a
    hard link to it instead of a copy.

    Raises ``BadInput("NAME: the file changed while it was being packaged; export again")`` (NAME is ``label(source)``)
    when a source's size, mtime or inode differs from its listed state before or
    after its copy, and ``BadInput("cannot read PATH: reason")`` for an unreadable
    one; the destinations already written are the caller's to remove.
    """
    for destination, _ in files.values():
        destination.parent.mkdir(parents=True, exist_ok=True)
    order = sorted(files, key=lambda source: files[source][1].size, reverse=True)
    trusted: list[tuple[Path, os.stat_result, Digest]] = []
    results: dict[Path, Digest] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = {
            source: pool.submit(_copy_one, source, *files[source], cache, on_bytes, label, (previous or {}).get(source))
            for source in order
        }
        try:
            for source, future in futures.items():
                digest, st, fresh = future.result()
                results[source] = digest
                if fresh:
                    trusted.append((source, st, digest))
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
        finally:
            if cache is not None:
                cache.store_many(trusted)
    return {source: results[source] for source in files}


def _copy_one(
    source: Path,
    destination: Path,
    listed: FileState,
    cache: HashCache | None,
    on_bytes: ProgressCallback | None,
    label: Callable[[Path], str],
    previous: Path | None,
) -> tuple[Digest, os.stat_result, bool]:
    before = _stat(source)
    if not _same_state(before, listed):
        raise _changed(label(source))
    cached = cache.lookup(source, before) if cache is not None else None
    try:
        if cached is not None and previous is not None and _holds(cache, previous, cached):
            os.link(previous, destination, follow_symlinks=False)
            digest = cached
            if on_bytes is not None:
                on_bytes(cached.size)
        elif cached is not None:
            _kernel_copy(source, destination)
            digest = cached
            if on_bytes is not None:
                on_bytes(cached.size)
        else:
            digest = _copy_hashing(source, destination, on_bytes)
        after = os.stat(source)
    except OSError as error:
        raise _unreadable(source, error) from error
    if not _same_state(after, listed) or digest.size != listed.size:
        raise _changed(label(source))
    return digest, after, cached is None


_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_hashing(source: Path, destination: Path, on_bytes: ProgressCallback | None) -> Digest:
    digest = hashlib.sha256()
    buffer = bytearray(_COPY_CHUNK)
    view = memoryview(buffer)
    total = 0
    with (
        open(source, "rb", buffering=0) as stream,
        open(os.open(destination, _NEW_FILE_FLAGS, 0o644), "wb", buffering=0) as out,
    ):
        while read := stream.readinto(buffer):
            chunk = view[:read]
            digest.update(chunk)  # hashlib and the writes release the GIL: the other workers run meanwhile
            written = 0
            while written < read:
                written += out.write(chunk[written:])
            total += read
            if on_bytes is not None:
                on_bytes(read)
    return Digest(sha256=digest.hexdigest(), size=total)


def _holds(cache: HashCache, path: Path, digest: Digest) -> bool:
    """Whether the cache vouches that the regular file at ``path`` holds ``digest``'s bytes, and nothing but
    ``path`` names it (a link to a file someone else also links to would tie the package to theirs)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        return False
    return cache.lookup(path, st) == digest


def _kernel_copy(source: Path, destination: Path) -> None:
    with (
        open(source, "rb", buffering=0) as stream,
        open(os.open(destination, _NEW_FILE_FLAGS, 0o644), "wb", buffering=0) as out,
    ):
        remaining = os.fstat(stream.fileno()).st_size
        offset = 0
        try:
            while remaining > 0:
                # Copied inside the kernel (or blocks shared, on file systems that can); a file that
                # grew after the fstat is caught by the caller's stat check.
                sent = os.copy_file_range(stream.fileno(), out.fileno(), remaining, offset, offset)
                if sent == 0:
                    break
                offset += sent
                remaining -= sent
        except (AttributeError, OSError):  # no copy_file_range here, or not between these file systems
            if offset:
                raise
            shutil.copyfileobj(stream, out, _COPY_CHUNK)


class FileState(Protocol):
    """What ``copy_and_hash`` compares: ``fs.tree.FileState`` (not imported: tree imports this module's users)."""

    size: int
    mtime_ns: int
    inode: int


def _same_state(st: os.stat_result, listed: FileState) -> bool:
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (listed.size, listed.mtime_ns, listed.inode)


def _changed(name: str) -> BadInput:
    return BadInput(f"{name}: the file changed while it was being packaged; export again")
