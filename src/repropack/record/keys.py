"""Ed25519 key pairs that sign run records: where they live, how they are made and read.

A key pair is two PEM files side by side: ``NAME.key`` (PKCS8, unencrypted,
readable by its owner only) and ``NAME.pub`` (SubjectPublicKeyInfo, shareable).
A key is named by its key id, ``ed25519:`` plus the first 16 hex digits of the
sha256 of the raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from repropack.errors import BadInput, CannotRun
from repropack.fs.atomic import write_bytes_atomically
from repropack.fs.shown_paths import shown_path

DEFAULT_KEY_NAME = "repropack"
PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"

_KEY_DIR_MODE = 0o700
_PRIVATE_MODE = 0o600
_PUBLIC_MODE = 0o644
_KEY_ID_HEX_DIGITS = 16


@dataclass(frozen=True)
class KeyPair:
    """The two files of a key pair and the id of its key."""

    private_path: Path
    public_path: Path
    key_id: str


def default_key_dir() -> Path:
    """The user's key folder: ``keys`` in repropack's user config folder (honours XDG_CONFIG_HOME)."""
    return Path(platformdirs.user_config_dir("repropack")) / "keys"


def default_private_key() -> Path | None:
    """The default private key file when it exists, else None."""
    path = default_key_dir() / f"{DEFAULT_KEY_NAME}{PRIVATE_SUFFIX}"
    return path if path.is_file() else None


def key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519:`` + the first 16 hex digits of the sha256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:_KEY_ID_HEX_DIGITS]


def generate_key_pair(directory: Path | None = None, *, name: str = DEFAULT_KEY_NAME, force: bool = False) -> KeyPair:
    """Make a new key pair as ``directory/NAME.key`` and ``directory/NAME.pub``.

    ``directory`` defaults to ``default_key_dir()`` and is created mode 0700
    when missing (an existing folder's mode is left alone). The private key is
    0600 from the moment its file exists, the public key 0644, whatever the
    umask. Each file is replaced atomically, so a failure never leaves a
    half-written key. Raises ``BadInput`` when either file exists and ``force``
    is false, or ``name`` is not a plain file name; ``CannotRun`` when the
    files cannot be written.
    """
    if not name or name in {".", ".."} or "/" in name or "\x00" in name:
        raise BadInput(f"invalid key name {name!r}: use a plain file name")
    folder = default_key_dir() if directory is None else directory
    private_path = folder / f"{name}{PRIVATE_SUFFIX}"
    public_path = folder / f"{name}{PUBLIC_SUFFIX}"
    if not force:
        for path in (private_path, public_path):
            if os.path.lexists(path):
                raise BadInput(
                    f"{shown_path(path)}: a key already exists; pass --force to replace it, or --name another"
                )

    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _make_key_dir(folder)
        # Each file has its final mode from the moment it exists: the private bytes never sit in a file others could open.
        write_bytes_atomically(private_path, private_pem, mode=_PRIVATE_MODE)
        write_bytes_atomically(public_path, public_pem, mode=_PUBLIC_MODE)
    except OSError as error:
        raise CannotRun(f"cannot write key pair in {folder}: {error.strerror or error}") from error
    return KeyPair(private_path, public_path, key_id(private_key.public_key()))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file.

    Raises ``BadInput`` when the file cannot be read or holds anything else
    (another key type, an encrypted key, a public key, garbage).
    """
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # TypeError: the key is encrypted; repropack keys never are.
        raise BadInput(f"{path}: not an Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a ``.pub`` PEM file, or derived from a private key file.

    Raises ``BadInput`` when the file cannot be read or holds no Ed25519 key.
    """
    data = _read_key_file(path)
    try:
        key: object = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise BadInput(f"{path}: not an Ed25519 public or private key") from None
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput(f"{path}: not an Ed25519 public or private key")
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error.strerror or error}") from None


def _make_key_dir(folder: Path) -> None:
    if folder.is_dir():
        return
    folder.mkdir(parents=True, mode=_KEY_DIR_MODE)
    folder.chmod(_KEY_DIR_MODE)  # mkdir's mode is narrowed by the umask; make it exactly 0700


def signing_key(key: Path | None) -> Path:
    """The private key to sign with: ``key`` when given, else the user's default, made now if missing."""
    if key is not None:
        return key
    existing = default_private_key()
    return existing if existing is not None else generate_key_pair().private_path
