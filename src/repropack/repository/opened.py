"""A repository opened for work: its location, its store, and its catalog opened only when first needed.

The catalog is opened lazily on purpose: opening SQLite creates ``-wal``/``-shm`` files beside it, and an
import that refuses a package must leave the repository folder byte-identical, so the importer asks for
the catalog only once admission has accepted the package. ``init_repository`` makes a new repository.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from repropack.errors import BadInput
from repropack.fs.atomic import write_bytes_atomically
from repropack.fs.shown_paths import shown_path
from repropack.repository.catalog.database import Catalog, open_catalog, shown_url, upgrade_catalog
from repropack.repository.location import (
    MARKER,
    POLICY,
    RepositoryLocation,
    marker_text,
    open_location,
    sqlite_url,
)
from repropack.repository.policy import Policy, default_policy_text, load_policy
from repropack.repository.store import LocalStore


class Repository:
    """One repository for the life of a command: ``store`` at once, ``catalog`` on first use, ``close`` at the end."""

    def __init__(self, location: RepositoryLocation) -> None:
        self.location = location
        self.store = LocalStore(location.blobs, location.staging)

    @classmethod
    def open(cls, root: Path | None = None, catalog: str | None = None) -> Repository:
        """The repository ``--repository``/``REPROPACK_REPOSITORY``/the default names (BadInput when it is none)."""
        return cls(open_location(root, catalog))

    @cached_property
    def catalog(self) -> Catalog:
        return open_catalog(self.location.catalog_url)

    def policy(self) -> Policy:
        return load_policy(self.location.root)

    def settings_used(self) -> dict[str, dict[str, str]]:
        """Which repository, catalog and policy a command used and where each was chosen (for ``--json``)."""
        location = self.location
        policy_source = POLICY if location.policy_file.is_file() else "defaults"
        return {
            "repository": {"value": str(location.root), "source": location.source},
            "catalog": {"value": shown_url(location.catalog_url), "source": location.catalog_source},
            "policy": {"value": str(location.policy_file), "source": policy_source},
        }

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def init_repository(root: Path, catalog_url: str | None = None) -> RepositoryLocation:
    """Make ``root`` a repository (marker, commented default policy, blob and staging folders) and create or
    upgrade its catalog to the newest schema; ``catalog_url`` None is the SQLite file inside ``root``.

    Idempotent: an existing repository keeps its policy and marker and only has its catalog upgraded (a
    different ``catalog_url`` than its marker records is BadInput). BadInput when ``root`` is a file, or a
    non-empty folder that is not a repository.
    """
    marker = root / MARKER
    if marker.is_file():
        location = open_location(root)
        if catalog_url is not None and catalog_url != location.catalog_url:
            raise BadInput(
                f"{shown_path(root)}: already a repository with the catalog {location.catalog_url}; "
                "pass --catalog only when creating one"
            )
        upgrade_catalog(location.catalog_url)
        return location
    if os.path.lexists(root) and not (root.is_dir() and not root.is_symlink()):
        raise BadInput(f"{shown_path(root)}: not a folder; a repository is a folder")
    if root.is_dir() and any(root.iterdir()):
        raise BadInput(f"{shown_path(root)}: a folder with files in it and no {MARKER}; give an empty or new folder")
    root.mkdir(parents=True, exist_ok=True)
    url = catalog_url or sqlite_url(root)
    upgrade_catalog(url)
    location = RepositoryLocation(root, url, "--repository")
    location.blobs.mkdir(exist_ok=True)
    location.staging.mkdir(exist_ok=True)
    write_bytes_atomically(location.policy_file, default_policy_text().encode("utf-8"))
    # The marker last: a folder is a repository only once everything it promises is there.
    recorded = None if url == sqlite_url(root) else url
    write_bytes_atomically(marker, marker_text(recorded).encode("utf-8"))
    return location
