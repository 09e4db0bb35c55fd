"""Restricted inputs that travel encrypted: ``export --encrypt-to RECIPIENT`` (the ``encrypt_to`` setting).

A restricted file is still described by its plaintext's sha256 and size, and its
plaintext is still never packed (``export.restricted_guard``). With recipients, the
package also carries its age ciphertext at ``layout.encrypted_copy(path)``: a support
file described by the ciphertext's own sha256, which the restricted file's record
names (``encrypted_copy``) with the recipients it was encrypted to. Only a holder of
one of those identities can replay with it (``replay --identity``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from repropack.config import ResolvedSettings
from repropack.encryption.age import RECIPIENT_PREFIX, encrypt, recipients_from
from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.model import FileRecord, FileRole, layout

#: The media type of an age file (age's own spec registers none; this is what its tools and others use).
AGE_FORMAT = "application/x-age-encryption"
_FLAG = "--encrypt-to"


def with_checked_recipients(settings: ResolvedSettings, project: Path) -> ResolvedSettings:
    """``settings`` whose ``encrypt_to`` holds the canonical recipients (sorted, once each), so settings.json
    records the public keys themselves, never the path of a recipients file.

    A recipients file named in a config file (not on the command line) is relative to ``project``.
    BadInput, one line, for a value that is neither a valid recipient nor a readable file of them:
    called before any notebook runs, so nothing is written.
    """
    given = settings.values.encrypt_to
    if not given:
        return settings
    values = []
    for value in given:
        if value.strip().startswith(RECIPIENT_PREFIX) or settings.origin("encrypt_to", value) == _FLAG:
            values.append(value)
        else:
            values.append(str(project / Path(value).expanduser()))  # an absolute path stays itself
    return replace(settings, values=replace(settings.values, encrypt_to=recipients_from(values)))


@dataclass(frozen=True)
class EncryptedInputs:
    """What encrypting the restricted inputs adds to a package.

    ``records`` are the package's file records with each restricted one naming its
    ciphertext and recipients, plus a SUPPORT record per ciphertext; ``ciphertexts``
    the bytes to write, by package path; ``notes`` warnings for the export.
    """

    records: tuple[FileRecord, ...]
    ciphertexts: dict[str, bytes]
    notes: tuple[str, ...] = ()


def encrypt_restricted(project: Path, records: Sequence[FileRecord], recipients: Sequence[str]) -> EncryptedInputs:
    """Encrypt each restricted file of ``records`` (read from ``project``) to ``recipients``.

    No recipients: ``records`` unchanged. Recipients but no restricted file: a note, nothing
    encrypted. Each plaintext is read once and checked against its record's sha256 before it
    is encrypted, so a file changed since it was hashed is refused (BadInput) rather than
    packed as bytes the record does not describe. ``recipients`` are canonical
    (``with_checked_recipients``).
    """
    if not recipients:
        return EncryptedInputs(tuple(records), {})
    restricted = [r for r in records if r.restricted]
    if not restricted:
        return EncryptedInputs(
            tuple(records),
            {},
            (f"{_FLAG} was given but no file is restricted (the `restrict` setting): nothing was encrypted",),
        )
    ciphertexts: dict[str, bytes] = {}
    out: list[FileRecord] = []
    for record in records:
        if not record.restricted:
            out.append(record)
            continue
        copy = layout.encrypted_copy(record.path)
        ciphertext = encrypt(_plaintext(project, record), recipients)
        ciphertexts[copy] = ciphertext
        out.append(replace(record, encrypted_copy=copy, recipients=tuple(recipients)))
        out.append(
            FileRecord(copy, hashlib.sha256(ciphertext).hexdigest(), len(ciphertext), AGE_FORMAT, FileRole.SUPPORT)
        )
    return EncryptedInputs(tuple(out), ciphertexts)


def _plaintext(project: Path, record: FileRecord) -> bytes:
    """The restricted file's bytes, exactly those its record describes."""
    try:
        data = read_regular_file(project / record.path, limit=record.size, what=record.path)
    except UnsafeData as error:  # grown past its recorded size, replaced by a link, gone
        raise BadInput(f"cannot encrypt the restricted input {error}; nothing was written") from None
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise BadInput(f"{record.path}: the restricted input changed while the export ran; nothing was written")
    return data
