"""The lock's wheels for an image's platform, fetched by the host into a content-addressed cache.

A replay's build installs from a folder of wheels the host put in its context,
with no index and no network, when that folder covers every pin (otherwise the
build asks the reviewer's index for the rest, as before). The host fetches
exactly the lock's artifacts: for each pin whose marker applies to the image,
the reviewer's index (``PipIndex``, never a URL the package names; the lock
holds names, versions and hashes only) lists the version's files through the
Simple Repository API, and of the wheels whose sha256 the lock names, the one
the image's Python prefers (``Target.tags``) is used. A file name from the
index that is not a plain wheel file name (a ``/``, ``..``) is refused; only
http(s) URLs are fetched.

The cache is ``$REPROPACK_CACHE_DIR/wheels/<sha256>`` (by default
``~/.cache/repropack/wheels`` on Linux, via platformdirs). A file enters it
only after its sha256 matched (written to a temporary name, then renamed), and
is hashed again each time it is used: a file that no longer matches is deleted
and fetched again, never used. Nothing else is kept there, so the folder is
safe to delete at any time; it is not bounded (each distinct wheel once, the
size of what was built).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from repropack.environment.pipindex import PipIndex, shown
from repropack.fs.hashing import default_cache_dir, sha256_file
from repropack.model import LockedDistribution

REQUEST_TIMEOUT = 30.0  # seconds to connect and between bytes of one page or file
MAX_WHEEL_BYTES = 4 * 2**30  # the largest wheel fetched (GPU builds of torch are about 2.5 GiB)
_WORKERS = 6
_CHUNK = 2**20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508, as model.lock parses names
#: glibc versions that also have a legacy manylinux name (PEP 600), as pip's tags list them.
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def cache_folder() -> Path:
    """Where fetched wheels are kept, by sha256: safe to delete."""
    return default_cache_dir() / "wheels"


@dataclass(frozen=True)
class Target:
    """The platform an image installs for: its wheel tags (most preferred first) and marker environment."""

    tags: tuple[Tag, ...]
    markers: Mapping[str, str]

    @classmethod
    def of_image(cls, markers: Mapping[str, str], glibc: str) -> Target:
        """The target of a CPython on glibc ``glibc`` ("2.36") whose PEP 508 marker values are ``markers``.

        ValueError when the facts are not those of a CPython on a glibc Linux.
        """
        if markers.get("implementation_name") != "cpython" or markers.get("sys_platform") != "linux":
            raise ValueError("not a CPython on Linux")
        major, minor = (int(part) for part in markers["python_version"].split(".")[:2])
        glibc_major, glibc_minor = (int(part) for part in glibc.split(".")[:2])
        machine = markers["platform_machine"]
        if glibc_major != 2 or not re.fullmatch(r"[a-z0-9_]+", machine):
            raise ValueError(f"glibc {glibc} on {machine} is not a manylinux platform")
        platforms = []
        for version in range(glibc_minor, 4, -1):
            platforms.append(f"manylinux_2_{version}_{machine}")
            if version in _LEGACY_MANYLINUX:
                platforms.append(f"{_LEGACY_MANYLINUX[version]}_{machine}")
        platforms.append(f"linux_{machine}")
        python = (major, minor)
        abi = f"cp{major}{minor}"
        tags = (*cpython_tags(python, abis=[abi], platforms=platforms), *compatible_tags(python, abi, platforms))
        return cls(tuple(tags), dict(markers))


@dataclass(frozen=True)
class FetchedWheels:
    """What ``fetch_wheels`` put in its folder (file name -> sha256) and what it could not cover.

    ``uncovered`` names each needed pin with no usable wheel and why; when it is
    empty, the folder alone installs the lock. ``downloaded``/``downloaded_bytes``
    count files fetched now, ``reused`` files the cache already had.
    """

    wheels: Mapping[str, str] = field(default_factory=dict)
    uncovered: tuple[str, ...] = ()
    downloaded: int = 0
    downloaded_bytes: int = 0
    reused: int = 0

    @property
    def complete(self) -> bool:
        return not self.uncovered

    def summary(self) -> str:
        """One line for the build log."""
        line = (
            f"wheels: {len(self.wheels)} for the build, {self.reused} from the cache, "
            f"{self.downloaded} downloaded ({self.downloaded_bytes / 1e6:.1f} MB)"
        )
        if self.uncovered:
            line += f"; from the index in the build: {'; '.join(self.uncovered)}"
        return line


@dataclass(frozen=True)
class _Candidate:
    pin: str  # name==version, as shown
    filename: str
    url: str
    sha256: str


def fetch_wheels(
    lock: Sequence[LockedDistribution],
    index: PipIndex,
    target: Target,
    into: Path,
    *,
    ca_bundle: Path | None = None,
    cache: Path | None = None,
    session_factory: Callable[[], object] | None = None,
) -> FetchedWheels:
    """Put in ``into`` (an existing folder) one verified wheel for each pin of ``lock`` that the image needs.

    Never raises for the network or the index: what cannot be fetched is
    ``uncovered``. ``ca_bundle`` verifies the index's TLS (else the host's
    defaults, REQUESTS_CA_BUNDLE included). ``session_factory`` makes the HTTP
    session (a ``requests.Session`` by default).
    """
    import requests

    needed = [d for d in lock if not d.local and _applies(d, target)]
    if not needed:
        return FetchedWheels()
    if not all(d.hashes for d in needed):
        return FetchedWheels(uncovered=("the lock has no artifact hashes",))
    cache = cache or cache_folder()
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    session = (session_factory or requests.Session)()
    if ca_bundle is not None:
        session.verify = str(ca_bundle)
    rank = {tag: position for position, tag in enumerate(target.tags)}
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        chosen = list(pool.map(lambda d: _choose(session, index, d, rank), needed))
        uncovered = [reason for _, reason in chosen if reason]
        outcomes = list(pool.map(lambda c: _place(session, c, cache, into), [c for c, _ in chosen if c]))
    wheels: dict[str, str] = {}
    downloaded = downloaded_bytes = reused = 0
    for candidate, fetched_bytes, problem in outcomes:
        if problem:
            uncovered.append(f"{candidate.pin}: {problem}")
            continue
        wheels[candidate.filename] = candidate.sha256
        if fetched_bytes is None:
            reused += 1
        else:
            downloaded += 1
            downloaded_bytes += fetched_bytes
    return FetchedWheels(wheels, tuple(sorted(uncovered)), downloaded, downloaded_bytes, reused)


def _applies(dist: LockedDistribution, target: Target) -> bool:
    if not dist.marker:
        return True
    try:
        return Marker(dist.marker).evaluate(dict(target.markers))
    except (InvalidMarker, KeyError, ValueError):
        return True  # the build's installer decides; without a wheel here it goes to the index


def _choose(
    session, index: PipIndex, dist: LockedDistribution, rank: Mapping[Tag, int]
) -> tuple[_Candidate | None, str]:
    """The preferred wheel of ``dist`` among the index's files the lock's hashes name; else why there is none."""
    from pypi_simple import ACCEPT_JSON_PREFERRED, NoSuchProjectError, PyPISimple

    pin = f"{dist.name}=={dist.version}"
    if not _NAME.fullmatch(dist.name):  # the name goes into the index's URL: nothing but a project name
        return None, f"{pin!r}: not a project name; not asked of the index"
    try:
        wanted = Version(dist.version)
    except InvalidVersion:
        return None, f"{pin}: not a version"
    allowed = set(dist.hashes)
    best: tuple[int, _Candidate] | None = None
    refused = ""
    for url in index.urls:
        client = PyPISimple(endpoint=url.rstrip("/") + "/", session=session, accept=ACCEPT_JSON_PREFERRED)
        try:
            page = client.get_project_page(canonicalize_name(dist.name), timeout=REQUEST_TIMEOUT)
        except NoSuchProjectError:
            continue
        except Exception as exc:  # requests' errors, an unparsable page: this index cannot be used now
            return None, f"{pin}: {shown(url)} could not be asked ({type(exc).__name__})"
        for package in page.packages:
            digest = (package.digests.get("sha256") or "").lower()
            if digest not in allowed or not _SHA256.fullmatch(digest):
                continue
            problem = _filename_problem(package.filename)
            if problem:
                refused = f"{pin}: the index's file name {package.filename!r} is refused ({problem})"
                continue
            name, version, _, tags = parse_wheel_filename(package.filename)
            if name != canonicalize_name(dist.name) or version != wanted:
                continue
            if urlsplit(package.url).scheme not in ("http", "https"):
                refused = f"{pin}: the index's URL for {package.filename} is not http(s)"
                continue
            position = min((rank[tag] for tag in tags if tag in rank), default=None)
            if position is not None and (best is None or position < best[0]):
                best = (position, _Candidate(pin, package.filename, package.url, digest))
    if best is None:
        return None, refused or f"{pin}: no wheel for the image's platform"
    return best[1], ""


def _filename_problem(filename: str) -> str:
    """Why ``filename`` (from the index) cannot name a file in the build's wheel folder; "" when it can."""
    if not filename or PurePosixPath(filename).name != filename or "\\" in filename or filename.startswith("."):
        return "not a plain file name"
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.whl", filename):
        return "not a wheel file name"
    try:
        parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return "not a valid wheel file name"
    return ""


def _place(session, candidate: _Candidate, cache: Path, into: Path) -> tuple[_Candidate, int | None, str]:
    """Link (or copy) the verified cached file into ``into``; fetch it first when the cache has no good copy.

    Returns the bytes downloaded (None when the cache had it) and a problem ("" when placed).
    """
    cached = cache / candidate.sha256
    target = into / candidate.filename
    fetched: int | None = None
    for _attempt in range(2):
        if not cached.is_file():
            fetched, problem = _download(session, candidate, cache)
            if problem:
                return candidate, None, problem
        _link_or_copy(cached, target)
        if sha256_file(target).sha256 == candidate.sha256:
            return candidate, fetched, ""
        # The cache's copy was damaged after it entered (or a link shares its damage): never used.
        target.unlink()
        cached.unlink(missing_ok=True)
    return candidate, None, "the cached copy does not match its sha256"


def _download(session, candidate: _Candidate, cache: Path) -> tuple[int | None, str]:
    """Fetch ``candidate`` into the cache under its sha256, if its bytes have that sha256; (bytes, problem)."""
    digest = hashlib.sha256()
    size = 0
    fd, temp = tempfile.mkstemp(prefix=".fetch-", dir=cache)
    try:
        with os.fdopen(fd, "wb") as out, session.get(candidate.url, stream=True, timeout=REQUEST_TIMEOUT) as response:
            if response.status_code != 200:
                return None, f"{candidate.filename}: the index answered HTTP {response.status_code}"
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > MAX_WHEEL_BYTES:
                    return None, f"{candidate.filename}: larger than {MAX_WHEEL_BYTES} bytes"
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != candidate.sha256:
            return None, f"{candidate.filename}: the downloaded file does not match the lock's sha256"
        os.replace(temp, cache / candidate.sha256)
        temp = ""
        return size, ""
    except Exception as exc:  # requests' errors, a full disk: this file is not cached, the build asks the index
        return None, f"{candidate.filename}: not downloaded ({type(exc).__name__})"
    finally:
        if temp:
            Path(temp).unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(source, target)


def cached_files(cache: Path | None = None) -> Iterable[Path]:
    """The files in the wheel cache (each named by its sha256)."""
    folder = cache or cache_folder()
    return sorted(p for p in folder.iterdir() if _SHA256.fullmatch(p.name)) if folder.is_dir() else []
