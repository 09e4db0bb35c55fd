"""The package index of whoever runs repropack, as their pip is configured; never a package's.

Export asks this index for the artifact hashes of the lock's pins; replay builds
with it (passed to the build as arguments). ``pip config list`` reports the
merged settings -- ``PIP_*`` variables and every pip config file -- so the
answer is the one that person's ``pip install`` would use. That costs a pip
start-up (about 0.6 s), so the answer is kept in the user's cache
(``indexcache``) with the files ``pip config debug`` names: it is used again
while the interpreter, the variables that decide where pip looks and every one
of those files (present or absent, size, mtime) are unchanged. An answer with
credentials in an index URL is never written to disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from repropack.environment.indexcache import IndexCache

#: pip's own default, when nothing is configured.
DEFAULT_INDEX = "https://pypi.org/simple"
_CONFIG_TIMEOUT = 30
#: Variables that change which config files pip reads (besides ``PIP_*``, PIP_CONFIG_FILE among them), or which pip.
_LOCATING = (
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "APPDATA",
    "ALLUSERSPROFILE",
    "PROGRAMDATA",
    "VIRTUAL_ENV",
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
)
#: ``pip config debug`` names each file it reads as ``  PATH, exists: True``.
_DEBUG_FILE = re.compile(r"  (\S.*), exists: (True|False)")


@dataclass(frozen=True)
class PipIndex:
    """Where pip looks for distributions: ``index_url`` None is pip's default (PyPI)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index, the main one first."""
        return (self.index_url or DEFAULT_INDEX, *self.extra_index_urls)

    def build_args(self) -> dict[str, str]:
        """The Dockerfile template's build arguments (only those that are set)."""
        args = {}
        if self.index_url:
            args["REPROPACK_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            args["REPROPACK_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return args


def configured_index(python: str = sys.executable) -> PipIndex:
    """The index settings ``python -m pip install`` would use here: environment over ``[install]`` over
    ``[global]``. Only http(s) indexes: a ``file:`` index names this host's disk, which no build sees.
    pip's default (PyPI) when pip cannot say. Asked once per interpreter and variables, and kept in the
    user's cache while pip's config files are unchanged. Safe to call from several threads."""
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PIP_") or k in _LOCATING))
    with _ASKING_LOCK:
        asking = _ASKING.setdefault((python, variables), threading.Lock())
    with asking:  # a second caller (the export's prefetch, then its lock) waits for the first one's answer
        if (python, variables) not in _ANSWERS:
            _ANSWERS[(python, variables)] = _configured_index(python, variables)
        return _ANSWERS[(python, variables)]


_ASKING_LOCK = threading.Lock()
_ASKING: dict[tuple[str, tuple[tuple[str, str], ...]], threading.Lock] = {}
_ANSWERS: dict[tuple[str, tuple[tuple[str, str], ...]], PipIndex] = {}


def _configured_index(python: str, variables: tuple[tuple[str, str], ...]) -> PipIndex:
    key = _config_key(python, variables)
    cache = IndexCache.default() if key else None
    if cache is not None and key is not None:
        cached = _from_cache(cache.pip_config(key))
        if cached is not None:
            return cached
    try:
        # Both at once: the listing is the answer, the debug output names the files it came from.
        listing = _pip_config(python, "list")
    except (OSError, subprocess.SubprocessError):
        return PipIndex()
    try:
        debug = _pip_config(python, "debug")
    except (OSError, subprocess.SubprocessError):
        debug = None
    listed, files = _output(listing), _debug_files(_output(debug))
    if listed is None:
        return PipIndex()
    settings = _parse_config_list(listed)
    main = next(
        (settings[k] for k in (":env:.index-url", "install.index-url", "global.index-url") if k in settings), ""
    )
    extra = next(
        (
            settings[k]
            for k in (":env:.extra-index-url", "install.extra-index-url", "global.extra-index-url")
            if k in settings
        ),
        "",
    )
    main_urls = _web(main.split())
    index = PipIndex(main_urls[0] if main_urls else None, _web(extra.split()))
    if cache is not None and key is not None and files and not any(shown(url) != url for url in index.urls):
        cache.store_pip_config(
            key, {"files": files, "index_url": index.index_url, "extra_index_urls": list(index.extra_index_urls)}
        )
    return index


def _pip_config(python: str, verb: str) -> subprocess.Popen:
    return subprocess.Popen(
        [python, "-m", "pip", "config", verb],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _output(process: subprocess.Popen | None) -> str | None:
    """What ``process`` printed when it succeeded in time; None otherwise (it is ended)."""
    if process is None:
        return None
    try:
        out, _ = process.communicate(timeout=_CONFIG_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None
    return out if process.returncode == 0 else None


def _config_key(python: str, variables: tuple[tuple[str, str], ...]) -> str | None:
    """The cache key of a pip config answer: the interpreter (path and file) and the variables; hashed, as a
    variable may hold a token. None when the interpreter is not there (nothing is cached for it)."""
    try:
        info = os.stat(python)
    except OSError:
        return None
    identity = [python, os.path.realpath(python), info.st_size, info.st_mtime_ns, info.st_ino, sys.platform]
    return hashlib.sha256(json.dumps([identity, variables]).encode("utf-8", "surrogatepass")).hexdigest()


def _debug_files(text: str | None) -> list[list[object]] | None:
    """Each config file ``pip config debug`` names: [path, exists, size, mtime_ns] as it is now."""
    if text is None:
        return None
    paths = [(m.group(1), m.group(2) == "True") for m in map(_DEBUG_FILE.fullmatch, text.splitlines()) if m]
    return [_file_state(path) for path, _ in paths] or None


def _file_state(path: str) -> list[object]:
    try:
        info = os.stat(path)
    except OSError:
        return [path, False, None, None]
    return [path, True, info.st_size, info.st_mtime_ns]


def _from_cache(answer: object) -> PipIndex | None:
    """A cached answer that is well-formed and whose config files are all as they were; else None."""
    if not isinstance(answer, dict) or set(answer) != {"files", "index_url", "extra_index_urls"}:
        return None
    files, main, extra = answer["files"], answer["index_url"], answer["extra_index_urls"]
    if not isinstance(files, list) or not files or not all(isinstance(f, list) and len(f) == 4 for f in files):
        return None
    if not all(isinstance(f[0], str) and _file_state(f[0]) == f for f in files):
        return None  # a file changed, appeared or went away: ask pip again
    if not (main is None or isinstance(main, str)) or not (
        isinstance(extra, list) and all(isinstance(u, str) for u in extra)
    ):
        return None
    urls = ([main] if main else []) + extra
    if _web(urls) != tuple(urls) or any(shown(url) != url for url in urls):
        return None  # only what this module stores: http(s), no credentials
    return PipIndex(main, tuple(extra))


def shown(url: str) -> str:
    """An index URL fit to record: no user name, password or query (where credentials hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _parse_config_list(text: str) -> dict[str, str]:
    """``key='value'`` lines of ``pip config list`` as a mapping."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip().strip("'\"")
    return found


def _web(urls: list[str]) -> tuple[str, ...]:
    return tuple(u for u in urls if urlsplit(u).scheme in ("http", "https"))
