"""A governed-run record as a reviewer may hand it on: its folder, or a zip of it.

A zip is as untrusted as a zipped package and is opened the same way: extracted with
``fs.archive.safe_extract`` (no path escapes, no links, size limits) into a temporary folder that
lives as long as the ``with`` block. Its files' bytes are unchanged by zipping, so the signature
covers the extracted folder exactly as it covered the original.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repropack.config import OpeningLimits
from repropack.errors import BadInput
from repropack.fs.archive import ExtractionLimits, safe_extract
from repropack.fs.shown_paths import shown_path
from repropack.fs.stale import owned_temp_dir
from repropack.model.layout import METADATA
from repropack.record.governed_run import RESULT_FILE
from repropack.record.signing import SIGNATURE_FILE

_RECORD_FILES = (SIGNATURE_FILE, RESULT_FILE)


def is_record(source: Path) -> bool:
    """Whether ``source`` looks like a governed-run record rather than a package: a folder holding
    ``signature.json`` and ``result.json`` as regular files, or a zip listing both at its top or in one
    folder. A zip is judged by its list of names only; whether it is safe is for its opener to say."""
    if source.is_dir() and not source.is_symlink():
        return all((source / name).is_file() and not (source / name).is_symlink() for name in _RECORD_FILES)
    if not source.is_file():
        return False
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    tops = {name.split("/", 1)[0] + "/" for name in names if "/" in name}
    return any(all(prefix + name in names for name in _RECORD_FILES) for prefix in ("", *tops))


@contextmanager
def record_folder(source: Path, limits: OpeningLimits | None = None) -> Iterator[Path]:
    """The folder of the record at ``source``: ``source`` itself, or a zip of it extracted safely.

    A zip may hold the record's files at its top or in one folder (``zip -r rec.zip rec/``).
    BadInput, naming ``source``, when it does not exist, is neither a folder nor a zip, or is a
    package rather than a record (it has metadata but neither ``signature.json`` nor ``result.json``).
    """
    limits = limits or OpeningLimits()
    if not os.path.lexists(source):
        raise BadInput(f"{shown_path(source)}: no such record")
    if source.is_dir():
        _refuse_package(source, source)
        yield source
        return
    if not source.is_file():  # a FIFO would hang the zip reader
        raise BadInput(f"{shown_path(source)}: neither a record folder nor a zip of one")
    member_limit = max(limits.max_package_bytes, ExtractionLimits().max_member_bytes)
    extraction = ExtractionLimits(max_total_bytes=limits.max_package_bytes, max_member_bytes=member_limit)
    with owned_temp_dir("repropack-open-") as tmp:  # a killed run's is swept as an opened package's (fs/stale.py)
        root = Path(tmp) / "record"
        root.mkdir()
        safe_extract(source, root, extraction)
        entries = list(root.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            root = entries[0]
        _refuse_package(root, source)
        yield root


def _refuse_package(root: Path, source: Path) -> None:
    if any(os.path.lexists(root / name) for name in (SIGNATURE_FILE, RESULT_FILE)):
        return
    if os.path.lexists(root / METADATA):
        raise BadInput(
            f"{shown_path(source)}: a package, not a governed-run record (it has no {SIGNATURE_FILE}); "
            "`repropack check` checks a package, verify-record checks what `repropack replay` writes"
        )
