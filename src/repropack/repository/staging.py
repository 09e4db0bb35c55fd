"""Private work folders inside a repository's staging folder (``tmp/``), for work whose files must stay on the
store's filesystem: each named for its process (``fs.stale.owner_token``), so ``LocalStore.sweep_staging``
removes it should that process die, and removed whole when the work ends, read-only folders included."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repropack.fs.stale import owner_token
from repropack.repository.location import RepositoryLocation


@contextmanager
def private_folder(location: RepositoryLocation) -> Iterator[Path]:
    """A new folder (mode 0700) in ``location``'s staging folder for the ``with`` block, removed after it."""
    staging = location.staging
    staging.mkdir(parents=True, exist_ok=True)
    folder = staging / f"{owner_token()}.{secrets.token_hex(6)}"
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        _remove(folder)


def _remove(folder: Path) -> None:
    """``folder`` and everything in it, read-only folders included (a record or a package may make some)."""
    for parent, folders, _ in os.walk(folder):  # top down, never into a link: each folder writable before its turn
        for name in folders:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(folder)
