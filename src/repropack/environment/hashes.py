"""The sha256 of every artifact of each pinned version, asked of the package index at export.

With them in the lock, a replay installs with ``pip --require-hashes``: the
reviewer gets the bytes the researcher's index served, whatever index the
reviewer uses. The index is asked through the Simple Repository API (PEP 691
JSON, PEP 503 HTML) with ``pypi-simple``, one project page per pin, in
parallel (a pool of daemon threads, so a slow index never holds up the
process's exit), each request and the whole within a time limit. When any pin
cannot be hashed the lock carries no hashes at all (pip checks every
requirement or none) and ``HashedLock.note`` says why.

Answers are kept in the user's cache (``indexcache``), and ``IndexLookups.prefetch``
starts the lookups before the lock is known (export calls it while the
notebooks run); ``hash_lock`` then waits only for what is still in flight. A
lookup that failed is asked once more by ``hash_lock``; a failure is never cached.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repropack.environment.indexcache import IndexCache, ReleaseFiles
from repropack.environment.pipindex import PipIndex, shown
from repropack.model import LockedDistribution

REQUEST_TIMEOUT = 10.0  # seconds for one project page
TOTAL_TIMEOUT = 60.0  # seconds for the whole lock
_WORKERS = 8
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class HashedLock:
    """The lock, with hashes on every pin or on none; ``note`` is one line saying which and why."""

    lock: tuple[LockedDistribution, ...]
    note: str


class _Unhashable(Exception):
    """One pin the index could not hash: the message says why."""


class _Late(Exception):
    """The indexes did not answer within the lock's time limit."""


class _NotListed(Exception):
    """The index has no page for the project (404): the other indexes may."""


class IndexLookups:
    """Lookups of one release's files on one index, each asked at most once per process (until it fails).

    ``cache`` None: the user's cache (``IndexCache.default_path()`` at each lookup).
    Safe to use from several threads.
    """

    def __init__(self, cache: IndexCache | None = None, workers: int = _WORKERS) -> None:
        self._cache = cache
        self._workers = workers
        self._lock = threading.Lock()
        self._futures: dict[tuple[str, str, str], Future] = {}
        self._clients: dict[str, Any] = {}
        self._default_caches: dict[Path, IndexCache] = {}
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], ReleaseFiles]]] = queue.SimpleQueue()
        self._started = 0

    def prefetch(self, index: PipIndex, releases: Iterable[tuple[str, str]]) -> None:
        """Start asking every index of ``index`` for each (name, version), in the background; returns at once."""
        for name, version in releases:
            for url in index.urls:
                self.lookup(url, name, version)

    def lookup(self, url: str, name: str, version: str, *, again: bool = False) -> Future:
        """The files of ``name`` ``version`` on the index at ``url``, as a future: ``ReleaseFiles``, or raises
        ``_NotListed`` or the client's error. ``again``: a lookup that failed is asked anew."""
        key = (url, canonicalize_name(name), version)
        with self._lock:
            future = self._futures.get(key)
            failed = future is not None and future.done() and future.exception() is not None
            if future is None or (again and failed):
                future = self._futures[key] = Future()
                self._queue.put((future, lambda: self._release_files(url, name, version)))
                if self._started < self._workers:
                    self._started += 1
                    threading.Thread(target=self._work, name="repropack-index", daemon=True).start()
            return future

    def _work(self) -> None:
        while True:
            future, ask = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(ask())
            except BaseException as exc:  # handed to whoever waits for the answer
                future.set_exception(exc)

    def _release_files(self, url: str, name: str, version: str) -> ReleaseFiles:
        cache = self._user_cache()
        cached = cache.release_files(url, name, version)
        if cached is not None:
            return cached  # empty: no page, or no file of this version; either way, no hash from this index
        from pypi_simple import NoSuchProjectError

        wanted = Version(version)
        try:
            page = self._client(url).get_project_page(canonicalize_name(name), timeout=REQUEST_TIMEOUT)
        except NoSuchProjectError:
            cache.store_release_files(url, name, version, ())
            raise _NotListed(name) from None
        files = tuple(
            sorted(
                {
                    (package.filename, package.digests.get("sha256", "").lower())
                    for package in page.packages
                    if _same_version(package.version, wanted)
                    and _SHA256.fullmatch(package.digests.get("sha256", "").lower())
                }
            )
        )
        cache.store_release_files(url, name, version, files)
        return files

    def _user_cache(self) -> IndexCache:
        if self._cache is not None:
            return self._cache
        path = IndexCache.default_path()  # looked up each time: $REPROPACK_CACHE_DIR may change (tests do)
        with self._lock:
            if path not in self._default_caches:
                self._default_caches[path] = IndexCache(path)
            return self._default_caches[path]

    def _client(self, url: str) -> Any:
        from pypi_simple import ACCEPT_JSON_PREFERRED, PyPISimple

        with self._lock:
            if url not in self._clients:
                self._clients[url] = PyPISimple(endpoint=url.rstrip("/") + "/", accept=ACCEPT_JSON_PREFERRED)
            return self._clients[url]


#: The process's lookups: export's prefetch and its lock share them.
SHARED_LOOKUPS = IndexLookups()


def hash_lock(
    lock: Sequence[LockedDistribution],
    index: PipIndex,
    *,
    total_timeout: float = TOTAL_TIMEOUT,
    lookups: IndexLookups | None = None,
) -> HashedLock:
    """``lock`` with each pin's artifact hashes from ``index`` (every index it names, the main one first).

    Uses (and waits for) what ``lookups`` (default ``SHARED_LOOKUPS``) already asked;
    a lookup that failed is asked again. Never raises for the network: an
    unreachable index, a slow one, a pin it does not list give the lock
    unchanged and a note naming the reason (the index shown without credentials).
    """
    pinned = [d for d in lock if not d.local]
    if not pinned:
        return HashedLock(tuple(lock), "")
    lookups = lookups or SHARED_LOOKUPS
    where = ", ".join(shown(url) for url in index.urls)
    deadline = time.monotonic() + total_timeout
    asked = {d.name: [lookups.lookup(url, d.name, d.version, again=True) for url in index.urls] for d in pinned}
    try:
        found = {d.name: _hashes_of(d, asked[d.name], deadline) for d in pinned}
    except _Late:
        return HashedLock(tuple(lock), f"no artifact hashes: {where} did not answer within {total_timeout:.0f} s")
    except _Unhashable as exc:
        return HashedLock(tuple(lock), f"no artifact hashes: {exc} ({where})")
    hashed = tuple(replace(d, hashes=found[d.name]) if not d.local else d for d in lock)
    return HashedLock(hashed, f"artifact hashes from {where}: a replay installs with --require-hashes")


def _hashes_of(dist: LockedDistribution, answers: Sequence[Future], deadline: float) -> tuple[str, ...]:
    """The sha256 of every file of ``dist``'s version on any of the indexes, sorted; _Unhashable otherwise."""
    digests: set[str] = set()
    for answer in answers:
        if not wait([answer], timeout=max(0.0, deadline - time.monotonic())).done:
            raise _Late
        try:
            files = answer.result()
        except _NotListed:
            continue
        except Exception as exc:  # requests' errors, an unparsable page: the index cannot be used
            raise _Unhashable(f"the index could not be asked for {dist.name} ({type(exc).__name__})") from None
        digests.update(digest for _, digest in files if _SHA256.fullmatch(digest))
    if not digests:
        raise _Unhashable(f"{dist.name}=={dist.version} has no hashed artifact on the index")
    return tuple(sorted(digests))


def _same_version(text: str | None, wanted: Version) -> bool:
    try:
        return text is not None and Version(text) == wanted
    except InvalidVersion:
        return False
