"""age encryption of restricted inputs, through ``pyrage`` (never hand-written crypto).

A recipient is an age X25519 public key (``age1...``); an identity is its secret key
(``AGE-SECRET-KEY-1...``), kept in a file readable by its owner only (``repropack keys identity``).
A package records, for each encrypted input, the recipients it was encrypted to, so a replay can say
"not encrypted to you" before trying, and the plaintext's sha256, so a decrypted input is checked
before any notebook reads it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyrage
from pyrage import x25519

from repropack.errors import BadInput

RECIPIENT_PREFIX = "age1"
IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
_MAX_IDENTITY_FILE = 64 * 1024
_MAX_RECIPIENTS = 256


@dataclass(frozen=True)
class Identity:
    """An age identity read from ``path``: its secret (never shown) and its public recipient."""

    path: Path
    recipient: str
    _secret: x25519.Identity

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"Identity(path={str(self.path)!r}, recipient={self.recipient!r})"


def parse_recipient(text: str, where: str) -> str:
    """``text`` as a canonical age X25519 recipient, or BadInput naming ``where``."""
    candidate = text.strip()
    if not candidate.startswith(RECIPIENT_PREFIX):
        raise BadInput(f"{where}: {candidate[:80]!r} is not an age recipient (age1...)")
    try:
        return str(x25519.Recipient.from_str(candidate))
    except Exception:  # pyrage.RecipientError and bech32 errors: one line, whatever the library said
        raise BadInput(f"{where}: {candidate[:80]!r} is not a valid age X25519 recipient") from None


def recipients_from(values: Iterable[str]) -> tuple[str, ...]:
    """Each value an ``age1...`` recipient or the path of a file of them (one per line, ``#`` comments,
    like ``age -R``); sorted, without duplicates. BadInput for anything else, and for none at all."""
    found: set[str] = set()
    for value in values:
        if value.strip().startswith(RECIPIENT_PREFIX):
            found.add(parse_recipient(value, "--encrypt-to"))
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            raise BadInput(f"--encrypt-to {value}: neither an age recipient (age1...) nor a file of recipients")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(
                f"{path}: cannot read the recipients file: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                found.add(parse_recipient(line, f"{path}:{number}"))
    if not found:
        raise BadInput("--encrypt-to: no recipient given; name at least one age recipient (age1...)")
    if len(found) > _MAX_RECIPIENTS:
        raise BadInput(f"--encrypt-to: {len(found)} recipients; at most {_MAX_RECIPIENTS}")
    return tuple(sorted(found))


def new_identity() -> tuple[str, str]:
    """A fresh identity: (its secret as text ``AGE-SECRET-KEY-1...``, its recipient ``age1...``)."""
    secret = x25519.Identity.generate()
    return str(secret), str(secret.to_public())


def load_identity(path: Path) -> Identity:
    """The identity in ``path`` (age's identity file format: one ``AGE-SECRET-KEY-1...`` line, ``#``
    comments). BadInput when it is missing, a link, readable by others, too large or not an identity."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the identity: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{path}: the identity must be a regular file (not a link or a folder)")
    if info.st_mode & 0o077:
        raise BadInput(f"{path}: the identity is readable by others (mode {info.st_mode & 0o777:o}); chmod 600 it")
    if info.st_size > _MAX_IDENTITY_FILE:
        raise BadInput(f"{path}: too large for an age identity file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the identity: {getattr(exc, 'strerror', None) or exc}") from None
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(keys) != 1 or not keys[0].startswith(IDENTITY_PREFIX):
        raise BadInput(f"{path}: not an age identity file (one AGE-SECRET-KEY-1... line expected)")
    try:
        secret = x25519.Identity.from_str(keys[0])
    except Exception:  # pyrage.IdentityError: never echo the line, it is a secret
        raise BadInput(f"{path}: not a valid age X25519 identity") from None
    return Identity(path, str(secret.to_public()), secret)


def encrypt(plaintext: bytes, recipients: Sequence[str]) -> bytes:
    """``plaintext`` encrypted to every one of ``recipients`` (each already checked by ``parse_recipient``)."""
    return pyrage.encrypt(plaintext, [x25519.Recipient.from_str(r) for r in recipients])


def decrypt_input(ciphertext: bytes, identity: Identity, *, path: str, recipients: Sequence[str], sha256: str) -> bytes:
    """The plaintext of the restricted input at package ``path``, checked against its recorded ``sha256``.

    BadInput, one line each: the package was not encrypted to ``identity`` (by its recorded
    ``recipients``); the ciphertext cannot be decrypted with it (tampered, or the recorded recipients
    are not the real ones); the plaintext is not what the package describes.
    """
    if identity.recipient not in recipients:
        shown = ", ".join(recipients) or "no recipient"
        raise BadInput(
            f"{path}: encrypted to {shown}, not to your identity {identity.recipient} ({identity.path}); "
            "ask the package's author to export it to your recipient"
        )
    try:
        plaintext = pyrage.decrypt(ciphertext, [identity._secret])
    except Exception:  # pyrage.DecryptError: a wrong key, a changed header or a failed authentication tag
        raise BadInput(
            f"{path}: the encrypted copy cannot be decrypted with {identity.path}: it was tampered with "
            "or not encrypted to this identity"
        ) from None
    if hashlib.sha256(plaintext).hexdigest() != sha256:
        raise BadInput(f"{path}: the decrypted input does not match the sha256 the package records")
    return plaintext
