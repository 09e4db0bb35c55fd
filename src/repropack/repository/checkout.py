"""Checking a package out of a repository: its files, re-assembled from the store and verified on the way out.

``checkout`` writes the version's every stored file into a folder built beside ``out`` and renamed into
place only once complete (``fs.atomic.staged_folder``), or, when ``out`` ends with ``.zip``, the
deterministic zip ``export`` writes (``fs.archive.write_deterministic_zip``, with the entries' timestamp
recorded at import), and says whether it is byte-identical to the archive that was imported. Every blob
is hashed as it is copied: a damaged store is an error, never a silently different package. A file
imported with an execute bit gets one again (its read bits copied to its execute bits, within the umask),
so the zip of a package imported as a zip is byte-identical to it. Restricted files are described by the
catalog only; the store never had their bytes, so they are listed, not written.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from repropack.errors import BadInput, CannotRun
from repropack.fs.archive import ZIP_MIN_DATE_TIME, write_deterministic_zip
from repropack.fs.atomic import scratch_folder, staged_folder
from repropack.fs.shown_paths import shown_path
from repropack.model.layout import is_safe_package_path
from repropack.repository.catalog.tables import FileRow, PackageRow, VersionRow
from repropack.repository.opened import Repository
from repropack.repository.queries import Ref, resolve_ref
from repropack.repository.store import Store

_CHUNK = 1 << 20


@dataclass(frozen=True)
class CheckoutOutcome:
    """What ``checkout`` wrote. ``same_as_imported``: for a zip, whether its sha256 is the imported archive's
    (None when the version was imported from a folder, so there is no archive to compare with)."""

    out: Path
    public_id: str
    version: int
    files_written: int
    bytes_written: int
    restricted: tuple[str, ...]  # described, not written
    zip_sha256: str | None = None
    imported_sha256: str | None = None

    @property
    def same_as_imported(self) -> bool | None:
        if self.zip_sha256 is None or self.imported_sha256 is None:
            return None
        return self.zip_sha256 == self.imported_sha256

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "id": self.public_id,
            "version": self.version,
            "reference": f"{self.public_id}@{self.version}",
            "files_written": self.files_written,
            "bytes_written": self.bytes_written,
            "restricted": list(self.restricted),
            "zip_sha256": self.zip_sha256,
            "imported_sha256": self.imported_sha256,
            "same_as_imported": self.same_as_imported,
        }


@dataclass(frozen=True)
class _Version:
    public_id: str
    number: int
    source_sha256: str | None
    zip_date_time: str | None
    files: tuple[tuple[str, str, int, bool, bool], ...]  # path, sha256, size, restricted, executable


def checkout(repository: Repository, ref: Ref | str, out: Path) -> CheckoutOutcome:
    """Write the version ``ref`` names (its latest without ``@N``) to ``out``: a new folder, or a ``.zip``.

    BadInput when ``ref`` names nothing or ``out`` exists (nothing is ever replaced); CannotRun when a blob is
    missing or its bytes no longer hash to its name (``out`` is not created then).
    """
    version = _version(repository, resolve_ref(ref) if isinstance(ref, str) else ref)
    exists = f"{shown_path(out)}: already exists; checkout writes a new folder or zip and never replaces one"
    if os.path.lexists(out):
        raise BadInput(exists)
    if out.name.lower().endswith(".zip"):
        with scratch_folder(out) as scratch:
            written, nbytes = _write_files(repository.store, version, scratch)
            write_deterministic_zip(scratch, out, date_time=_date_time(version.zip_date_time))
        return _outcome(version, out, written, nbytes, zip_sha256=_sha256(out))
    with staged_folder(out, exists_message=exists) as stage:
        written, nbytes = _write_files(repository.store, version, stage)
    return _outcome(version, out, written, nbytes)


def _version(repository: Repository, ref: Ref) -> _Version:
    with repository.catalog.session() as session:
        package = session.execute(select(PackageRow).where(PackageRow.public_id == ref.public_id)).scalar_one_or_none()
        if package is None:
            raise BadInput(f"{ref.public_id}: no such package in this repository")
        query = select(VersionRow).where(VersionRow.package_id == package.id)
        if ref.number is None:
            query = query.order_by(VersionRow.number.desc()).limit(1)
        else:
            query = query.where(VersionRow.number == ref.number)
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise BadInput(f"{ref}: {ref.public_id} has no such version")
        files = session.execute(
            select(FileRow.path, FileRow.sha256, FileRow.size, FileRow.restricted, FileRow.executable)
            .where(FileRow.version_id == row.id)
            .order_by(FileRow.path)
        ).all()
        return _Version(
            package.public_id, row.number, row.source_sha256, row.zip_date_time, tuple(tuple(f) for f in files)
        )


def _write_files(store: Store, version: _Version, root: Path) -> tuple[int, int]:
    written = nbytes = 0
    for path, sha256, size, restricted, executable in version.files:
        if restricted:
            continue
        if not is_safe_package_path(path):  # admission never catalogues one; a tampered catalog might
            raise CannotRun(f"{version.public_id}@{version.number}: catalog path {path!r} is not a safe package path")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_verified(store, sha256, size, target, f"{version.public_id}@{version.number} {path}")
        if executable:
            mode = os.stat(target).st_mode
            os.chmod(target, mode | (mode & 0o444) >> 2)
        written += 1
        nbytes += size
    return written, nbytes


def _copy_verified(store: Store, sha256: str, size: int, target: Path, what: str) -> None:
    digest = hashlib.sha256()
    count = 0
    with store.open(sha256) as reader, open(target, "xb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            count += len(chunk)
            writer.write(chunk)
    if count != size or digest.hexdigest() != sha256:
        raise CannotRun(
            f"{what}: the store's blob {sha256} is damaged ({count} bytes hashing to {digest.hexdigest()}); "
            "run 'repropack repository check'"
        )


def _date_time(text: str | None) -> tuple[int, int, int, int, int, int]:
    if text is None:
        return ZIP_MIN_DATE_TIME
    date, _, time = text.partition("T")
    year, month, day = (int(part) for part in date.split("-"))
    hour, minute, second = (int(part) for part in time.split(":"))
    return (year, month, day, hour, minute, second)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _outcome(version: _Version, out: Path, written: int, nbytes: int, zip_sha256: str | None = None) -> CheckoutOutcome:
    return CheckoutOutcome(
        out=out,
        public_id=version.public_id,
        version=version.number,
        files_written=written,
        bytes_written=nbytes,
        restricted=tuple(path for path, _, _, restricted, _ in version.files if restricted),
        zip_sha256=zip_sha256,
        imported_sha256=version.source_sha256 if zip_sha256 is not None else None,
    )
