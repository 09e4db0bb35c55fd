"""Restricted inputs the package carries encrypted (``export --encrypt-to``), decrypted for one replay.

With the reviewer's age identity (``replay --identity FILE``, or ``identity`` in the user config's
``[replay]``), each restricted input that the reviewer did not supply as a file (``--input`` or
``--inputs``) and that has an encrypted copy is decrypted in memory, checked against the sha256
the package records, and handed to the sandbox as ``RunPlan.private_inputs``: never written on
the host's disk by repropack (the backends put it in a tmpfs or their private work dir for the
run only). Every problem is BadInput before anything is built: a missing or unreadable identity,
an input not encrypted to it, a ciphertext it cannot decrypt, a plaintext that is not the
recorded one. Without an identity such inputs are missing inputs, whose line says how to
decrypt them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repropack.encryption.age import decrypt_input, load_identity
from repropack.errors import BadInput
from repropack.model import FileRecord, layout
from repropack.model.layout import is_safe_package_path

# An age file is its plaintext plus a header (a stanza per recipient) and 16 bytes per 64 KiB chunk.
_HEADER_ROOM = 2**20
_CHUNK_TAG = 16
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class PrivateInputs:
    """The decrypted inputs (package path -> plaintext), a line per encrypted input left missing, and the
    restricted inputs left to be supplied as files (``replay/workdir.supplied_inputs``)."""

    plaintext: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    missing: tuple[str, ...] = ()
    as_files: tuple[FileRecord, ...] = ()


def decrypt_private_inputs(
    package_root: Path,
    restricted: Sequence[FileRecord],
    inputs: Mapping[str, Path],
    inputs_dir: Path | None,
    identity: Path | None,
) -> PrivateInputs:
    """Decrypt, with the identity file ``identity``, each of ``restricted`` that has an encrypted copy under
    ``package_root`` and is not supplied as a file (named by ``inputs``, or present in ``inputs_dir``).

    A supplied file always wins over the encrypted copy. BadInput, one line, for every problem with the
    identity or a ciphertext; the identity file is read only when something is to be decrypted.
    """
    encrypted = [record for record in restricted if record.encrypted_copy and not _supplied(record, inputs, inputs_dir)]
    as_files = tuple(record for record in restricted if record not in encrypted)
    if not encrypted:
        return PrivateInputs(as_files=as_files)
    if identity is None:
        return PrivateInputs(missing=tuple(_identity_hint(record) for record in encrypted), as_files=as_files)
    key = load_identity(identity)
    plaintext = {
        record.path: decrypt_input(
            _ciphertext(package_root, record),
            key,
            path=record.path,
            recipients=record.recipients,
            sha256=record.sha256,
        )
        for record in sorted(encrypted, key=lambda r: r.path)
    }
    return PrivateInputs(plaintext=plaintext, as_files=as_files)


def _supplied(record: FileRecord, inputs: Mapping[str, Path], inputs_dir: Path | None) -> bool:
    """Whether the reviewer gives ``record`` as a file: named with ``--input`` (a missing file is then their
    mistake to hear about), or found in the ``--inputs`` folder."""
    return record.path in inputs or (inputs_dir is not None and (inputs_dir / record.path).is_file())


def _identity_hint(record: FileRecord) -> str:
    recipients = ", ".join(record.recipients) or "no recipient"
    note = f"; access: {record.access_note}" if record.access_note else ""
    return (
        f"{record.path} is in the package encrypted to {recipients} (pass --identity FILE, an age identity "
        f"it was encrypted to, or --input {record.path}=FILE){note}"
    )


def _ciphertext(package_root: Path, record: FileRecord) -> bytes:
    """The bytes of ``record``'s encrypted copy: a regular file inside the package's encrypted folder, no larger
    than its plaintext's ciphertext can be. BadInput for anything else."""
    copy = record.encrypted_copy or ""
    if not is_safe_package_path(copy) or not copy.startswith(layout.ENCRYPTED + "/"):
        raise BadInput(f"{record.path}: its encrypted copy {copy!r} is not in the package's {layout.ENCRYPTED}/")
    limit = record.size + (record.size // _CHUNK + 1) * _CHUNK_TAG + _HEADER_ROOM
    try:
        fd = os.open(package_root / copy, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise BadInput(f"{record.path}: its encrypted copy {copy} cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise BadInput(f"{record.path}: its encrypted copy {copy} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInput(f"{record.path}: its encrypted copy {copy} is larger than an encryption of the input can be")
    return data
