"""Artifact hashes asked of a real package index on loopback (PEP 691 JSON), and every way it can fail."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from repropack.environment.hashes import IndexLookups, hash_lock
from repropack.environment.indexcache import IndexCache
from repropack.environment.pipindex import PipIndex
from repropack.model import LockedDistribution

A, B, C = "a" * 64, "b" * 64, "c" * 64
PAGES = {
    "numpy": [
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", A),
        ("numpy-1.26.4.tar.gz", B),
        ("numpy-1.26.3.tar.gz", C),  # another version: not this pin's
    ],
    "six": [("six-1.16.0-py2.py3-none-any.whl", C)],
}
LOCK = (
    LockedDistribution("numpy", "1.26.4", ("imported",)),
    LockedDistribution("six", "1.16.0", ("dependency",)),
    LockedDistribution("mypkg", "0.1", (), local=True),
)


class _Index(BaseHTTPRequestHandler):
    pages: ClassVar[dict] = PAGES
    delay: ClassVar[float] = 0.0
    asked: ClassVar[list] = []

    def do_GET(self) -> None:
        time.sleep(self.delay)
        name = self.path.strip("/").split("/")[-1]
        self.asked.append(name)
        files = self.pages.get(name)
        if files is None:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(
            {
                "meta": {"api-version": "1.0"},
                "name": name,
                "files": [{"filename": f, "url": f"/files/{f}", "hashes": {"sha256": h}} for f, h in files],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _serve(handler: type[_Index]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def index() -> Iterator[str]:
    _Index.asked = []
    yield from _serve(_Index)


def test_every_pin_gets_the_hashes_of_every_artifact_of_its_version(index):
    hashed = hash_lock(LOCK, PipIndex(index))
    numpy, six, local = hashed.lock
    assert numpy.hashes == (A, B) and six.hashes == (C,)
    assert local == LOCK[2]  # a local distribution is not on any index
    assert "--require-hashes" in hashed.note and "127.0.0.1" in hashed.note
    assert sorted(_Index.asked) == ["numpy", "six"]


def test_a_pin_the_index_does_not_list_leaves_the_whole_lock_unhashed_and_says_which(index):
    lock = (*LOCK, LockedDistribution("ghost", "1.0", ("declared",)))
    hashed = hash_lock(lock, PipIndex(index))
    assert hashed.lock == lock
    assert hashed.note.startswith("no artifact hashes: ghost==1.0 has no hashed artifact on the index")


def test_an_extra_index_fills_in_what_the_main_one_lacks(index):
    class Other(_Index):
        pages: ClassVar[dict] = {"ghost": [("ghost-1.0-py3-none-any.whl", A)]}

    for other in _serve(Other):
        lock = (LOCK[0], LockedDistribution("ghost", "1.0", ("declared",)))
        hashed = hash_lock(lock, PipIndex(index, (other,)))
        assert [d.hashes for d in hashed.lock] == [(A, B), (A,)]


def test_an_unreachable_index_gives_the_lock_unchanged_and_a_note():
    hashed = hash_lock(LOCK, PipIndex("http://127.0.0.1:9/simple"))  # the discard port: nothing listens
    assert hashed.lock == LOCK
    assert hashed.note.startswith("no artifact hashes: the index could not be asked for")


def test_a_slow_index_is_given_up_on_within_the_total_limit():
    class Slow(_Index):
        delay = 3.0

    for url in _serve(Slow):
        started = time.monotonic()
        hashed = hash_lock(LOCK, PipIndex(url), total_timeout=0.5)
        assert time.monotonic() - started < 2.5
        assert hashed.lock == LOCK and "did not answer within" in hashed.note


def test_credentials_in_the_index_url_never_reach_the_note(index):
    with_password = index.replace("http://", "http://user:s3cret@") + "?token=s3cret"
    hashed = hash_lock(LOCK, PipIndex(with_password))
    assert "s3cret" not in hashed.note and "user" not in hashed.note


def test_a_lock_of_local_distributions_only_asks_nothing():
    lock = (LockedDistribution("mypkg", "0.1", (), local=True),)
    assert hash_lock(lock, PipIndex("http://127.0.0.1:9/simple")).lock == lock


def test_a_second_lookup_with_the_same_user_cache_asks_nothing(index, tmp_path):
    cache_path = tmp_path / "index-answers.sqlite"
    first = hash_lock(LOCK, PipIndex(index), lookups=IndexLookups(IndexCache(cache_path)))
    assert sorted(_Index.asked) == ["numpy", "six"]
    _Index.asked = []
    again = hash_lock(LOCK, PipIndex(index), lookups=IndexLookups(IndexCache(cache_path)))  # a new process
    assert _Index.asked == [] and again == first


def test_a_malformed_cache_entry_is_asked_again_and_the_lock_has_the_index_hashes(index, tmp_path):
    cache = IndexCache(tmp_path / "index-answers.sqlite")
    hash_lock(LOCK, PipIndex(index), lookups=IndexLookups(cache))
    with sqlite3.connect(cache.db_path) as db:  # another process of this user wrote over the answers
        db.execute("UPDATE release_files SET files = ? WHERE project = 'numpy'", (json.dumps([["x.whl", "zz"]]),))
        db.execute(
            "UPDATE release_files SET files = ? WHERE project = 'six'", ('[["six-1.16.0.tar.gz", "' + "g" * 64 + '"]]',)
        )
    _Index.asked = []
    hashed = hash_lock(LOCK, PipIndex(index), lookups=IndexLookups(cache))
    assert sorted(_Index.asked) == ["numpy", "six"]
    assert [d.hashes for d in hashed.lock[:2]] == [(A, B), (C,)]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for d in hashed.lock for h in d.hashes)


def test_prefetched_pages_are_asked_in_parallel_and_the_lock_waits_only_for_them(tmp_path):
    class Slow(_Index):
        delay = 0.5
        asked: ClassVar[list] = []
        pages: ClassVar[dict] = {f"p{i}": [(f"p{i}-1.0-py3-none-any.whl", A)] for i in range(8)}

    lock = tuple(LockedDistribution(f"p{i}", "1.0", ("imported",)) for i in range(8))
    for url in _serve(Slow):
        lookups = IndexLookups(IndexCache(tmp_path / "index-answers.sqlite"))
        started = time.monotonic()
        lookups.prefetch(PipIndex(url), [(d.name, d.version) for d in lock])
        assert time.monotonic() - started < 0.2  # returns at once: the notebooks run meanwhile
        hashed = hash_lock(lock, PipIndex(url), lookups=lookups)
        elapsed = time.monotonic() - started
        assert all(d.hashes == (A,) for d in hashed.lock)
        assert elapsed < 2.5, f"8 pages of 0.5 s each took {elapsed:.1f} s: not in parallel"  # one by one: 4 s
        assert sorted(Slow.asked) == sorted(d.name for d in lock)  # each asked once, prefetch and lock together


def test_a_prefetch_that_failed_is_asked_again_by_the_lock(tmp_path):
    lookups = IndexLookups(IndexCache(tmp_path / "index-answers.sqlite"))
    lookups.prefetch(PipIndex("http://127.0.0.1:9/simple"), [("numpy", "1.26.4")])  # nothing listens
    for url in _serve(_Index):
        _Index.asked = []
        lookups.prefetch(PipIndex(url), [("numpy", "1.26.4")])
        hashed = hash_lock(LOCK[:1], PipIndex(url), lookups=lookups)
        assert hashed.lock[0].hashes == (A, B)
    assert hash_lock(LOCK[:1], PipIndex("http://127.0.0.1:9/simple"), lookups=lookups).note.startswith(
        "no artifact hashes: the index could not be asked for numpy"
    )
