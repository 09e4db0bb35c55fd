"""A package's governed runs as history: adding one (from a replay's result and its signed record) and reading
them back, per package or as each package's newest status.

Every run added here carries what the history and the regressions read (cause kind, base image and its engine id,
the environment's image and whether it was rebuilt, a bounded diff summary) and, when the record itself was kept,
the blob of its zip in the store (``record_blob``), listed in ``blobs`` like any package file so ``repository
check`` hashes it.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from repropack.errors import BadInput
from repropack.fs.archive import ZIP_MIN_DATE_TIME, write_deterministic_zip
from repropack.fs.hashing import sha256_file
from repropack.fs.shown_paths import shown_path
from repropack.model.governance import HistoryEntry, PackageStatus
from repropack.model.results import OutputStatus, ReplayResult
from repropack.record.archived import record_folder
from repropack.repository.catalog.latest import refresh_newest_verdict
from repropack.repository.catalog.tables import BlobRow, GovernedRunRow, GovernRunRow, PackageRow, VersionRow
from repropack.repository.opened import Repository
from repropack.repository.queries import resolve_ref, utc
from repropack.repository.staging import private_folder

_LINE_CHARS = 200
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_MORE = re.compile(r"… and ([0-9]+) more")


def diff_summary(result: ReplayResult, limit: int = 20) -> str | None:
    """One line per recorded output that differs or is missing (``path: status (detail)``), in the result's order;
    None when none does. At most ``limit`` lines (the last then says how many more), each at most 200 characters,
    control characters and line breaks replaced by a space (paths and details come from the package)."""
    bad = [o for o in result.outputs if o.status in (OutputStatus.DIFFERENT, OutputStatus.MISSING)]
    if not bad:
        return None
    limit = max(limit, 1)
    shown = bad if len(bad) <= limit else bad[: limit - 1]
    lines = []
    for output in shown:
        detail = _one_line(output.detail)
        line = f"{_one_line(output.path)}: {output.status.value}" + (f" ({detail})" if detail else "")
        lines.append(line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…")
    if len(shown) < len(bad):
        lines.append(f"… and {len(bad) - len(shown)} more")
    return "\n".join(lines)


def differing_outputs(summary: str | None) -> int:
    """How many outputs a ``diff_summary`` says differ or are missing (its truncation line included)."""
    if not summary:
        return 0
    count = 0
    for line in summary.splitlines():
        more = _MORE.fullmatch(line)
        count += int(more.group(1)) if more else 1
    return count


def _one_line(text: str) -> str:
    return _UNPRINTABLE.sub(" ", text).strip()


def store_record(repository: Repository, record: Path) -> tuple[str, int]:
    """Keep the governed-run record at ``record`` (folder or zip) in the store as a zip ``record/archived.py``
    opens (its files at the top); returns the zip's (sha256, size).

    The zip is written deterministically from the record's files (a zip given is opened safely and zipped
    again), so the same record is the same blob whichever form it came in. The store verifies and renames it
    into place whole. BadInput for a record that cannot be opened, or whose folder holds links or special files.
    """
    with private_folder(repository.location) as work:
        zipped = work / "record.zip"
        with record_folder(record) as folder:
            try:
                write_deterministic_zip(folder, zipped, date_time=ZIP_MIN_DATE_TIME, workers=1)
            except ValueError as error:
                raise BadInput(f"{shown_path(record)}: cannot keep this record: {error}") from None
        digest = sha256_file(zipped)
        repository.store.put(zipped, digest.sha256, digest.size)
        return digest.sha256, digest.size


def add_governed_run(
    session: Session,
    version_id: int,
    result: ReplayResult,
    *,
    record_sha256: str,
    signer: str | None,
    source: str,
    record_blob: tuple[str, int] | None = None,
    govern_run_id: int | None = None,
    now: datetime,
) -> GovernedRunRow:
    """Add the run ``result`` describes to ``version_id``'s history in the caller's transaction, and keep the
    version's ``newest_verdict``. The caller has verified the signed record (``record_sha256``: the sha256 of
    its signature.json; unique: the caller checks it is new). ``record_blob`` (sha256, size), when the record's
    zip is in the store already, is listed in ``blobs`` (once)."""
    if record_blob is not None:
        sha256, size = record_blob
        if session.get(BlobRow, sha256) is None:
            _insert_blob(session, sha256, size)
    row = GovernedRunRow(
        version_id=version_id,
        verdict=result.verdict.value,
        cause=str(result.cause) if result.cause else None,
        started_at=utc(result.started),
        finished_at=utc(result.ended),
        record_sha256=record_sha256,
        signer=signer,
        signature_verified=True,
        source=source,
        imported_at=utc(now),
        cause_kind=result.cause.kind.value if result.cause else None,
        base_image=result.base_image,
        base_image_id=result.base_image_id,
        image_id=result.image_id,
        image_reused=result.image_reused,
        diff_summary=diff_summary(result),
        record_blob=record_blob[0] if record_blob else None,
        govern_run_id=govern_run_id,
    )
    session.add(row)
    refresh_newest_verdict(session, version_id)
    return row


def _insert_blob(session: Session, sha256: str, size: int) -> None:
    """A blob row, leaving one a concurrent writer added first (the same bytes: the same row)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(
        insert(BlobRow).on_conflict_do_nothing(index_elements=["sha256"]), [{"sha256": sha256, "size": size}]
    )


def package_history(repository: Repository, public_id: str) -> list[HistoryEntry]:
    """Every governed run of every version of ``public_id``, oldest first (by ``finished_at``, a run not
    finished before any that is, then by id). BadInput for a malformed id, a version reference, or a package
    this repository does not hold (as ``show`` says it)."""
    ref = resolve_ref(public_id)
    if ref.number is not None:
        raise BadInput(f"{public_id!r}: the history covers every version; give the package id alone")
    with repository.catalog.session() as session:
        known = session.execute(select(PackageRow.id).where(PackageRow.public_id == ref.public_id)).first()
        if known is None:
            raise BadInput(f"{ref.public_id}: no such package in this repository")
        rows = session.execute(_runs_query().where(PackageRow.public_id == ref.public_id)).all()
    return [_entry(*row) for row in sorted(rows, key=lambda row: run_order(row[0]))]


def package_statuses(repository: Repository) -> list[PackageStatus]:
    """Each package's newest version, its newest governed run (None: never replayed) and how many runs that
    version has, ordered by public id."""
    with repository.catalog.session() as session:
        versions = session.execute(
            select(VersionRow.id, PackageRow.public_id, VersionRow.number, VersionRow.title)
            .join(VersionRow.package)
            .where(VersionRow.is_latest)
            .order_by(PackageRow.public_id)
        ).all()
        rows = session.execute(_runs_query().where(VersionRow.is_latest)).all()
    runs: dict[int, list] = {}
    for row in rows:
        runs.setdefault(row[0].version_id, []).append(row)
    statuses = []
    for version_id, public_id, number, title in versions:
        own = runs.get(version_id, [])
        newest = max(own, key=lambda row: run_order(row[0]), default=None)
        statuses.append(PackageStatus(public_id, number, title, _entry(*newest) if newest else None, len(own)))
    return statuses


def run_order(run: GovernedRunRow) -> tuple:
    """The order ``catalog.latest`` calls newest last: by finish, an unfinished run before any finished, by id."""
    finished = utc(run.finished_at) if run.finished_at else None
    return (finished is not None, finished or datetime.min.replace(tzinfo=timezone.utc), run.id)


def _runs_query():
    return (
        select(GovernedRunRow, PackageRow.public_id, VersionRow.number, GovernRunRow.public_id)
        .join(GovernedRunRow.version)
        .join(VersionRow.package)
        .outerjoin(GovernRunRow, GovernRunRow.id == GovernedRunRow.govern_run_id)
    )


def _entry(run: GovernedRunRow, public_id: str, number: int, govern_run: str | None) -> HistoryEntry:
    return HistoryEntry(
        public_id=public_id,
        version=number,
        verdict=run.verdict,
        cause_kind=run.cause_kind,
        cause=run.cause,
        started_at=utc(run.started_at) if run.started_at else None,
        finished_at=utc(run.finished_at) if run.finished_at else None,
        source=run.source,
        record_sha256=run.record_sha256,
        signer=run.signer,
        base_image=run.base_image,
        base_image_id=run.base_image_id,
        image_id=run.image_id,
        image_reused=run.image_reused,
        diff_summary=run.diff_summary,
        govern_run=govern_run,
    )
