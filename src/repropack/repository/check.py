"""``repository check``: the store and the catalog agree, and every stored byte is what its name says.

Problems (each one line, and any makes the check fail):

- a blob the catalog lists (``blobs``) that is missing from the store or whose bytes hash to another digest;
- a file of a version (not restricted) whose sha256 is not a catalogued blob;
- a blob row whose size is not the size of a file that names it;
- a version whose ``is_latest`` or ``newest_verdict`` disagrees with its package's versions or its governed runs
  (what search filters on; see ``catalog.latest``).

Notes (true, worth saying, not wrong):

- blobs stored but not catalogued: what an import killed between storing and cataloguing leaves. They are
  harmless (content-addressed, verified) and the next import of that package finds them present, so they
  are reported, not removed: removing them could race an import that is about to catalogue them.
- staging files of dead importers, which the check removes (their writers can never finish them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from repropack.repository.catalog.latest import disagreements
from repropack.repository.catalog.tables import BlobRow, FileRow, GovernedRunRow, PackageRow, VersionRow
from repropack.repository.opened import Repository


@dataclass(frozen=True)
class CheckReport:
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    blobs_checked: int
    files_checked: int

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "blobs_checked": self.blobs_checked,
            "files_checked": self.files_checked,
        }


def check_repository(repository: Repository) -> CheckReport:
    """Hash every catalogued blob and cross-check the catalog's files, its blobs and the store both ways."""
    problems: list[str] = []
    notes: list[str] = []
    swept = repository.store.sweep_staging()
    if swept:
        notes.append(f"removed {len(swept)} staging file(s) of importers that died mid-write")
    with repository.catalog.session() as session:
        blobs = {sha256: size for sha256, size in session.execute(select(BlobRow.sha256, BlobRow.size))}
        files = session.execute(
            select(PackageRow.public_id, VersionRow.number, FileRow.path, FileRow.sha256, FileRow.size)
            .join(FileRow.version)
            .join(VersionRow.package)
            .where(FileRow.restricted.is_(False))
            .order_by(PackageRow.public_id, VersionRow.number, FileRow.path)
        ).all()
        records = session.execute(
            select(PackageRow.public_id, VersionRow.number, GovernedRunRow.record_sha256, GovernedRunRow.record_blob)
            .join(GovernedRunRow.version)
            .join(VersionRow.package)
            .where(GovernedRunRow.record_blob.is_not(None))
            .order_by(GovernedRunRow.id)
        ).all()
        problems.extend(disagreements(session))
    for sha256 in sorted(blobs):
        problem = repository.store.verify(sha256)
        if problem is not None:
            problems.append(problem)
    for public_id, number, path, sha256, size in files:
        if sha256 not in blobs:
            problems.append(f"{public_id}@{number} {path!r}: its blob {sha256} is not in the catalog's blobs")
        elif blobs[sha256] != size:
            problems.append(f"{public_id}@{number} {path!r}: {size} bytes, but its blob {sha256} is {blobs[sha256]}")
    for public_id, number, record_sha256, blob in records:
        if blob not in blobs:
            problems.append(
                f"{public_id}@{number}: the record of run {record_sha256[:16]}… is not in the catalog's blobs"
            )
    uncatalogued = sorted(set(repository.store.blobs()) - set(blobs))
    if uncatalogued:
        notes.append(
            f"{len(uncatalogued)} blob(s) stored but not catalogued (left by an interrupted import; harmless, "
            f"reused by the next import of that package): {', '.join(b[:12] for b in uncatalogued[:5])}"
            + ("…" if len(uncatalogued) > 5 else "")
        )
    return CheckReport(tuple(problems), tuple(notes), len(blobs), len(files))
