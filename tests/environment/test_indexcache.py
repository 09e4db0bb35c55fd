"""The user cache of index answers: a file any process of this user may have written, so read as hostile."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from repropack.environment.indexcache import FILENAME, MISSING_TTL, IndexCache

A, B = "a" * 64, "b" * 64
URL = "https://index.example.org/simple"
WHEEL = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"


@pytest.fixture
def cache(tmp_path: Path) -> IndexCache:
    return IndexCache(tmp_path / FILENAME)


def _plant(cache: IndexCache, files: object, stored: float | None = None, version: str = "1.26.4") -> None:
    with sqlite3.connect(cache.db_path) as db:
        db.execute(
            "INSERT OR REPLACE INTO release_files VALUES (?, ?, ?, ?, ?)",
            (
                hashlib.sha256(URL.encode()).hexdigest(),
                "numpy",
                version,
                files if isinstance(files, str) else json.dumps(files),
                time.time() if stored is None else stored,
            ),
        )


def test_stored_files_read_back_by_normalised_name(cache):
    cache.store_release_files(URL, "NumPy", "1.26.4", [(WHEEL, A), ("numpy-1.26.4.tar.gz", B)])
    assert cache.release_files(URL, "numpy", "1.26.4") == ((WHEEL, A), ("numpy-1.26.4.tar.gz", B))
    assert cache.release_files(URL, "numpy", "1.26.3") is None
    assert cache.release_files("https://other.example.org/simple", "numpy", "1.26.4") is None


@pytest.mark.parametrize(
    "planted",
    [
        "not json",
        '[["numpy-1.26.4.tar.gz", "' + A + '"], ["numpy-1.26.4.tar.gz", NaN]]',
        {"files": []},
        [[WHEEL, A.upper()]],  # not lowercase hex
        [[WHEEL, "a" * 63]],
        [[WHEEL, A, "extra"]],
        [["six-1.16.0-py2.py3-none-any.whl", A]],  # another project's file
        [["numpy-1.26.3.tar.gz", A]],  # another version's file
        [["../numpy-1.26.4.tar.gz", A]],
        [[WHEEL, 12]],
        "[" * 10_000,
    ],
)
def test_a_malformed_row_is_ignored_never_an_error(cache, planted):
    _plant(cache, planted)
    assert cache.release_files(URL, "numpy", "1.26.4") is None


def test_a_row_from_the_future_or_expired_is_ignored(cache):
    _plant(cache, [[WHEEL, A]], stored=time.time() + 3600)
    assert cache.release_files(URL, "numpy", "1.26.4") is None
    _plant(cache, [], stored=time.time() - MISSING_TTL - 1)  # "no file" is kept for an hour only
    assert cache.release_files(URL, "numpy", "1.26.4") is None
    _plant(cache, [], stored=time.time())
    assert cache.release_files(URL, "numpy", "1.26.4") == ()


def test_a_file_that_is_not_a_database_is_replaced(tmp_path):
    path = tmp_path / FILENAME
    path.write_bytes(b"\x00garbage" * 100)
    cache = IndexCache(path)
    cache.store_release_files(URL, "numpy", "1.26.4", [(WHEEL, A)])
    assert IndexCache(path).release_files(URL, "numpy", "1.26.4") == ((WHEEL, A),)


def test_no_cache_folder_means_no_cache_not_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    cache = IndexCache(tmp_path / "file" / FILENAME)  # its folder cannot be made
    cache.store_release_files(URL, "numpy", "1.26.4", [(WHEEL, A)])
    assert cache.release_files(URL, "numpy", "1.26.4") is None


def test_index_urls_are_stored_hashed_so_a_token_never_reaches_the_disk(cache):
    cache.store_release_files("https://user:s3cret-token@index.example.org/simple", "numpy", "1.26.4", [(WHEEL, A)])
    assert b"s3cret-token" not in cache.db_path.read_bytes()
