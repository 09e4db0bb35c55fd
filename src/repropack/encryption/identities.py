"""The user's age identity file: where it lives, how it is made, how it is read back.

It sits beside the signing key (``record.keys.default_key_dir()``) as ``NAME.age``
(default ``repropack.age``), in age's identity file format: ``#`` comment lines
(when it was made, its public key) and one ``AGE-SECRET-KEY-1...`` line. It is
mode 0600 from the moment it exists and appears whole or not at all; an
existing identity is never replaced unless asked, since the restricted inputs
encrypted to it could not be decrypted again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from repropack.encryption.age import Identity, load_identity, new_identity
from repropack.errors import BadInput, CannotRun
from repropack.fs.atomic import temp_sibling, write_bytes_atomically
from repropack.fs.shown_paths import shown_path
from repropack.record.keys import default_key_dir

DEFAULT_IDENTITY_NAME = "repropack"
IDENTITY_SUFFIX = ".age"

_KEY_DIR_MODE = 0o700
_IDENTITY_MODE = 0o600


@dataclass(frozen=True)
class IdentityFile:
    """An identity file just written: where it is and the recipient others encrypt to."""

    path: Path
    recipient: str


def identity_path(directory: Path | None = None, name: str = DEFAULT_IDENTITY_NAME) -> Path:
    """``directory/NAME.age`` (``directory`` defaults to the key folder); BadInput for a name that is no file name."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise BadInput(f"invalid identity name {name!r}: use a plain file name")
    return (default_key_dir() if directory is None else directory) / f"{name}{IDENTITY_SUFFIX}"


def default_identity_path() -> Path:
    """Where ``repropack keys identity`` writes the user's identity when given no --dir or --name."""
    return identity_path()


def make_identity(
    directory: Path | None = None, *, name: str = DEFAULT_IDENTITY_NAME, force: bool = False
) -> IdentityFile:
    """Write a new identity at ``identity_path(directory, name)`` and return it.

    The folder is made 0700 when missing (an existing one's mode is left alone). Without
    ``force`` an existing file (or link) there is never replaced, even by another process
    racing this one: BadInput. With ``force`` it is replaced atomically. CannotRun when the
    file cannot be written.
    """
    path = identity_path(directory, name)
    if not force and os.path.lexists(path):
        raise BadInput(f"{shown_path(path)}: an identity already exists; pass --force to replace it, or --name another")
    secret, recipient = new_identity()
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    text = f"# created: {created}\n# public key: {recipient}\n{secret}\n".encode("ascii")
    try:
        _make_key_dir(path.parent)
        if force:
            write_bytes_atomically(path, text, mode=_IDENTITY_MODE)
        else:
            _write_new(path, text)
    except FileExistsError:
        raise BadInput(
            f"{shown_path(path)}: an identity already exists; pass --force to replace it, or --name another"
        ) from None
    except OSError as error:
        raise CannotRun(f"cannot write the identity in {path.parent}: {error.strerror or error}") from None
    return IdentityFile(path, recipient)


def read_identity(path: Path | None = None) -> Identity:
    """The identity in ``path`` (default: the user's), checked as ``encryption.age.load_identity`` checks it.

    BadInput, one line: the default identity does not exist yet (with how to make one), or the
    file is missing, a link, readable by others, or not an identity.
    """
    if path is None:
        path = default_identity_path()
        if not os.path.lexists(path):
            raise BadInput(f"{shown_path(path)}: no age identity yet; make one with `repropack keys identity`")
    return load_identity(path)


def _write_new(path: Path, data: bytes) -> None:
    """``data`` at ``path`` whole, mode 0600, failing with FileExistsError if anything is there.

    The bytes are written (and fsynced) to a temporary sibling, then hard-linked to ``path``:
    a link never replaces an existing name, so two processes cannot overwrite each other.
    """
    temp = temp_sibling(path)
    try:
        write_bytes_atomically(temp, data, mode=_IDENTITY_MODE)
        os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _make_key_dir(folder: Path) -> None:
    if folder.is_dir():
        return
    folder.mkdir(parents=True, mode=_KEY_DIR_MODE)
    folder.chmod(_KEY_DIR_MODE)  # mkdir's mode is narrowed by the umask
