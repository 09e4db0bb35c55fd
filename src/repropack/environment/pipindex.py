"""The package index of whoever runs repropack, as their pip is configured; never a package's.

Export asks this index for the artifact hashes of the lock's pins; replay builds
with it (passed to the build as arguments). ``pip config list`` reports the
merged settings -- ``PIP_*`` variables and every pip config file -- so the
answer is the one that person's ``pip install`` would use.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

#: pip's own default, when nothing is configured.
DEFAULT_INDEX = "https://pypi.org/simple"
_CONFIG_TIMEOUT = 30


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
    pip's default (PyPI) when pip cannot say. Asked once per interpreter and ``PIP_*`` variables."""
    return _configured_index(python, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PIP_"))))


@functools.lru_cache(maxsize=16)
def _configured_index(python: str, _variables: tuple[tuple[str, str], ...]) -> PipIndex:
    try:
        done = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=_CONFIG_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return PipIndex()
    settings = _parse_config_list(done.stdout if done.returncode == 0 else "")
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
    return PipIndex(main_urls[0] if main_urls else None, _web(extra.split()))


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
