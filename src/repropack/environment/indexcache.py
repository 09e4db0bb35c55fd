"""What package indexes answered, kept in the user's cache across exports.

Two kinds of answer are kept in one SQLite file next to the hash cache
(``$REPROPACK_CACHE_DIR`` or the platform cache folder):

- the files of one release, per (index, project, version): each artifact's
  file name and sha256. On PyPI a file name, once uploaded, always names the
  same bytes, but files can be added to a release later (a wheel for a new
  Python), so an answer is kept for ``RELEASE_TTL`` (7 days); an index that
  listed no file of that version is remembered for ``MISSING_TTL`` (one
  hour), as the release may appear soon;
- what pip is configured with (``pipindex.configured_index``), for
  ``CONFIG_TTL`` or until any pip config file it names changes.

The file is written by whoever runs as this user, so every row is read as
hostile input: strict bounded JSON, each file name a wheel or sdist of that
very project and version, each digest 64 lowercase hex. A row that does not
pass is ignored (and asked again), never an error and never a hash in a lock.
A damaged database is replaced; a busy one means no cache this time. Index
URLs are keyed by their sha256, so a token in one is never written here.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from repropack.fs.bounded import UnsafeData, loads_bounded
from repropack.fs.hashing import default_cache_dir

FILENAME = "index-answers.sqlite"
RELEASE_TTL = 7 * 24 * 3600.0  # seconds
MISSING_TTL = 3600.0
CONFIG_TTL = 24 * 3600.0
_MAX_ROW_CHARS = 2**20  # a release of thousands of files is far below; a planted huge row is not read
_MAX_FILES = 10_000
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_files (
    index_key TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    files TEXT NOT NULL,
    stored REAL NOT NULL,
    PRIMARY KEY (index_key, project, version)
);
CREATE TABLE IF NOT EXISTS pip_config (
    key TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    stored REAL NOT NULL
);
"""

ReleaseFiles = tuple[tuple[str, str], ...]  # (file name, sha256), sorted


class IndexCache:
    """The answers, in the SQLite file at ``db_path``. Never raises: a database error is a miss or a lost write.

    One instance may be used from several threads.
    """

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        self._connection = _open(db_path)

    @classmethod
    def default(cls) -> IndexCache:
        """The user's cache, at ``default_path()``."""
        return cls(cls.default_path())

    @staticmethod
    def default_path() -> Path:
        """In ``$REPROPACK_CACHE_DIR`` if set, else the platform cache folder (as the hash cache)."""
        return default_cache_dir() / FILENAME

    # --- release files ------------------------------------------------------------------

    def release_files(self, index_url: str, project: str, version: str) -> ReleaseFiles | None:
        """The files the index listed for this version, if asked recently and the row is well-formed; else None.

        An empty tuple: the index listed none (asked within ``MISSING_TTL``).
        """
        row = self._one(
            "SELECT files, stored FROM release_files WHERE index_key = ? AND project = ? AND version = ?",
            (_index_key(index_url), canonicalize_name(project), version),
        )
        if row is None:
            return None
        files = _valid_files(row[0], project, version)
        if files is None or not _fresh(row[1], RELEASE_TTL if files else MISSING_TTL):
            return None
        return files

    def store_release_files(self, index_url: str, project: str, version: str, files: Sequence[tuple[str, str]]) -> None:
        """Remember what the index listed; files the cache could not read back are not stored at all."""
        text = json.dumps(sorted([name, digest] for name, digest in files))
        if _valid_files(text, project, version) is None:
            return  # e.g. an egg: asked again next time rather than kept in a form that reads back as damaged
        self._write(
            "INSERT OR REPLACE INTO release_files (index_key, project, version, files, stored) VALUES (?, ?, ?, ?, ?)",
            (_index_key(index_url), canonicalize_name(project), version, text, time.time()),
        )

    # --- pip's configuration --------------------------------------------------------------

    def pip_config(self, key: str) -> object | None:
        """The stored answer for ``key`` (parsed, bounded JSON; the caller checks its shape), if recent."""
        row = self._one("SELECT answer, stored FROM pip_config WHERE key = ?", (key,))
        if row is None or not isinstance(row[0], str) or len(row[0]) > _MAX_ROW_CHARS or not _fresh(row[1], CONFIG_TTL):
            return None
        try:
            return loads_bounded(row[0], max_depth=4, max_values=10_000, what="cached pip configuration")
        except UnsafeData:
            return None

    def store_pip_config(self, key: str, answer: object) -> None:
        self._write(
            "INSERT OR REPLACE INTO pip_config (key, answer, stored) VALUES (?, ?, ?)",
            (key, json.dumps(answer), time.time()),
        )

    # --- plumbing -----------------------------------------------------------------------

    def _one(self, sql: str, args: tuple) -> tuple | None:
        if self._connection is None:
            return None
        try:
            with self._lock:
                return self._connection.execute(sql, args).fetchone()
        except sqlite3.DatabaseError:
            return None

    def _write(self, sql: str, args: tuple) -> None:
        if self._connection is None:
            return
        try:
            with self._lock, self._connection:
                self._connection.execute(sql, args)
        except sqlite3.DatabaseError:
            pass  # busy past the timeout, or gone bad: the answer is asked for again next time


def _open(db_path: Path | None) -> sqlite3.Connection | None:
    """A connection with the schema, a fresh file for a damaged one, None when there can be no cache."""
    if db_path is None:
        return None
    for attempt in range(2):
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(db_path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
            connection.executescript(_SCHEMA)
            return connection
        except OSError:
            return None
        except sqlite3.DatabaseError as error:
            if "locked" in str(error) or attempt:
                return None  # another process holds it: do without this time
            try:
                db_path.unlink()  # not a database (truncated, planted): start again
            except OSError:
                return None
    return None


def _index_key(index_url: str) -> str:
    return hashlib.sha256(index_url.encode("utf-8", "surrogatepass")).hexdigest()


def _fresh(stored: object, ttl: float) -> bool:
    now = time.time()
    return isinstance(stored, (int, float)) and now - ttl <= stored <= now + 60  # a row from the future is planted


def _valid_files(text: object, project: str, version: str) -> ReleaseFiles | None:
    """The rows' (file name, sha256) pairs when every one is a wheel or sdist of ``project`` ``version``."""
    if not isinstance(text, str) or len(text) > _MAX_ROW_CHARS:
        return None
    try:
        rows = loads_bounded(text, max_depth=2, max_values=3 * _MAX_FILES, what="cached index answer")
        wanted = Version(version)
    except (UnsafeData, InvalidVersion):
        return None
    if not isinstance(rows, list) or len(rows) > _MAX_FILES:
        return None
    found = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(v, str) for v in row)):
            return None
        name, digest = row
        if not _SHA256.fullmatch(digest) or not _is_release_file(name, canonicalize_name(project), wanted):
            return None
        found.append((name, digest))
    return tuple(sorted(found))


def _is_release_file(filename: str, project: str, version: Version) -> bool:
    if "/" in filename or "\\" in filename or not filename.isprintable():
        return False
    try:
        if filename.endswith(".whl"):
            name, found, _, _ = parse_wheel_filename(filename)
        else:
            name, found = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return False
    return name == project and found == version
