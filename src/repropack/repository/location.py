"""Where a repository is, and what is inside its folder.

A repository is a folder: ``repository.toml`` (the marker, with the catalog's URL when it is not the
SQLite file beside it), ``policy.toml`` (the operator's admission policy), ``blobs/`` (the store) and
``tmp/`` (where blobs are staged, on the same filesystem so a rename is atomic).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from repropack.config import user_config, user_config_file
from repropack.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The environment variable naming the repository when ``--repository`` is not given.
REPOSITORY_ENV = "REPROPACK_REPOSITORY"
#: The user config's table for the repository (``path``).
USER_TABLE = "repository"
MARKER = "repository.toml"
POLICY = "policy.toml"
BLOBS = "blobs"
STAGING = "tmp"
DEFAULT_CATALOG = "catalog.sqlite"
#: The repository folder format this code reads and writes.
FORMAT = 1


@dataclass(frozen=True)
class RepositoryLocation:
    """A repository folder and the catalog it uses; ``source`` and ``catalog_source`` say where each was chosen."""

    root: Path
    catalog_url: str
    source: str = "default"
    catalog_source: str = "default"

    @property
    def blobs(self) -> Path:
        return self.root / BLOBS

    @property
    def staging(self) -> Path:
        return self.root / STAGING

    @property
    def policy_file(self) -> Path:
        return self.root / POLICY

    @property
    def marker(self) -> Path:
        return self.root / MARKER


def default_root() -> Path:
    """The repository used when neither ``--repository`` nor ``REPROPACK_REPOSITORY`` names one."""
    return Path(platformdirs.user_data_dir("repropack")) / "repository"


def sqlite_url(root: Path) -> str:
    """The URL of the SQLite catalog file inside ``root``."""
    return f"sqlite:///{(root / DEFAULT_CATALOG).resolve()}"


def choose_root(flag: Path | None, user: Mapping[str, Any] | None = None) -> tuple[Path, str]:
    """The repository folder and where it was chosen: the flag, then ``REPROPACK_REPOSITORY``, then the user
    config's ``[repository] path``, then the default. ``user`` is the user config (read when None)."""
    if flag is not None:
        return flag, "--repository"
    from_env = os.environ.get(REPOSITORY_ENV)
    if from_env:
        return Path(from_env), REPOSITORY_ENV
    table = (user_config() if user is None else user).get(USER_TABLE, {})
    where = f"{user_config_file()} [{USER_TABLE}]"
    if not isinstance(table, Mapping) or not isinstance(table.get("path", ""), str):
        raise BadInput(f"{where}: 'path' must be a folder name")
    if table.get("path"):
        return Path(table["path"]).expanduser(), where
    return default_root(), "default"


def open_location(flag: Path | None = None, catalog: str | None = None) -> RepositoryLocation:
    """An existing repository (BadInput, one line, when the folder is not one).

    ``catalog`` overrides the URL the marker records (e.g. the same folder served from a PostgreSQL copy).
    """
    root, source = choose_root(flag)
    marker = root / MARKER
    if not marker.is_file():
        raise BadInput(f"{root}: not a repropack repository (no {MARKER}; create one with 'repropack repository init')")
    recorded = read_marker(marker)
    if catalog:
        return RepositoryLocation(root, catalog, source, "--catalog")
    if recorded:
        return RepositoryLocation(root, recorded, source, MARKER)
    return RepositoryLocation(root, sqlite_url(root), source)


def read_marker(marker: Path) -> str | None:
    """The catalog URL a marker records (None: the SQLite file beside it); BadInput for a marker of another format."""
    try:
        data = tomllib.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"{marker}: unreadable repository marker: {error}") from None
    if data.get("format") != FORMAT:
        raise BadInput(f"{marker}: repository format {data.get('format')!r}, this repropack reads format {FORMAT}")
    url = data.get("catalog")
    if url is not None and not isinstance(url, str):
        raise BadInput(f"{marker}: 'catalog' must be a URL string")
    return url


def marker_text(catalog_url: str | None) -> str:
    """The marker ``repository init`` writes; the catalog URL only when it is not the default file."""
    lines = ["# A repropack package repository (repropack repository --help).", f"format = {FORMAT}"]
    if catalog_url is not None:
        lines.append(f"catalog = {_toml_string(catalog_url)}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
