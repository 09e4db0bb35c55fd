"""The sha256 of every artifact of each pinned version, asked of the package index at export.

With them in the lock, a replay installs with ``pip --require-hashes``: the
reviewer gets the bytes the researcher's index served, whatever index the
reviewer uses. The index is asked through the Simple Repository API (PEP 691
JSON, PEP 503 HTML) with ``pypi-simple``, one project page per pin, in
parallel, each request and the whole within a time limit. When any pin cannot
be hashed the lock carries no hashes at all (pip checks every requirement or
none) and ``HashedLock.note`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, replace

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repropack.environment.pipindex import PipIndex, shown
from repropack.model import LockedDistribution

REQUEST_TIMEOUT = 10.0  # seconds for one project page
TOTAL_TIMEOUT = 60.0  # seconds for the whole lock
_WORKERS = 8
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: (indexes, name, version) -> hashes, for this process only: an index may add a file to a release later,
#: so answers are not kept on disk, but one process exporting a project again asks nothing twice.
_ANSWERED: dict[tuple[tuple[str, ...], str, str], tuple[str, ...]] = {}


@dataclass(frozen=True)
class HashedLock:
    """The lock, with hashes on every pin or on none; ``note`` is one line saying which and why."""

    lock: tuple[LockedDistribution, ...]
    note: str


class _Unhashable(Exception):
    """One pin the index could not hash: the message says why."""


def hash_lock(
    lock: Sequence[LockedDistribution], index: PipIndex, *, total_timeout: float = TOTAL_TIMEOUT
) -> HashedLock:
    """``lock`` with each pin's artifact hashes from ``index`` (every index it names, the main one first).

    Never raises for the network: an unreachable index, a slow one, a pin it does
    not list give the lock unchanged and a note naming the reason (the index
    shown without credentials).
    """
    pinned = [d for d in lock if not d.local]
    if not pinned:
        return HashedLock(tuple(lock), "")
    from pypi_simple import ACCEPT_JSON_PREFERRED, PyPISimple

    clients = [PyPISimple(endpoint=url.rstrip("/") + "/", accept=ACCEPT_JSON_PREFERRED) for url in index.urls]
    where = ", ".join(shown(url) for url in index.urls)
    executor = ThreadPoolExecutor(max_workers=_WORKERS)
    try:
        futures = {d.name: executor.submit(_hashes_of, clients, d) for d in pinned}
        found = {name: future.result(timeout=total_timeout) for name, future in futures.items()}
    except FuturesTimeout:
        return HashedLock(tuple(lock), f"no artifact hashes: {where} did not answer within {total_timeout:.0f} s")
    except _Unhashable as exc:
        return HashedLock(tuple(lock), f"no artifact hashes: {exc} ({where})")
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    hashed = tuple(replace(d, hashes=found[d.name]) if not d.local else d for d in lock)
    return HashedLock(hashed, f"artifact hashes from {where}: a replay installs with --require-hashes")


def _hashes_of(clients: Sequence, dist: LockedDistribution) -> tuple[str, ...]:
    """The sha256 of every file of ``dist``'s version on any of the indexes, sorted; _Unhashable otherwise."""
    from pypi_simple import NoSuchProjectError

    key = (tuple(c.endpoint for c in clients), canonicalize_name(dist.name), dist.version)
    if key in _ANSWERED:
        return _ANSWERED[key]
    wanted = Version(dist.version)
    digests: set[str] = set()
    for client in clients:
        try:
            page = client.get_project_page(canonicalize_name(dist.name), timeout=REQUEST_TIMEOUT)
        except NoSuchProjectError:
            continue
        except Exception as exc:  # requests' errors, an unparsable page: the index cannot be used
            raise _Unhashable(f"the index could not be asked for {dist.name} ({type(exc).__name__})") from None
        for package in page.packages:
            digest = package.digests.get("sha256", "").lower()
            if _same_version(package.version, wanted) and _SHA256.fullmatch(digest):
                digests.add(digest)
    if not digests:
        raise _Unhashable(f"{dist.name}=={dist.version} has no hashed artifact on the index")
    _ANSWERED[key] = tuple(sorted(digests))
    return _ANSWERED[key]


def _same_version(text: str | None, wanted: Version) -> bool:
    try:
        return text is not None and Version(text) == wanted
    except InvalidVersion:
        return False
