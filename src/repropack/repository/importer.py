"""Importing into a repository: a package (admitted, stored, catalogued) or a governed-run record.

A package goes through three steps, in this order, and each relies on the one before:

1. **admit** (``admission.admit``): open it safely outside the repository, refuse it if hostile or
   invalid. Nothing in the repository is touched until this has said yes: the catalog is at most read
   (content held already is not validated again), and only once no hostile refusal is left.
2. **store** every file's bytes in the blob store (``Store.put_many``: idempotent, verifies what it is
   given, renames each blob into place whole, and returns only once all of them are durable), so a
   crash here leaves at worst blobs no version names yet (``repository check`` notes them; the next
   import of the package finds them present), and a version never commits before its blobs are durable.
3. **catalogue** in ONE transaction: package, version, files, blobs, people, keywords and the
   ``imports`` audit row (the search index follows ``versions`` by trigger or expression index). The
   version is visible exactly when that transaction commits, and never in part.

Idempotence is by ``content_digest`` (every stored file's path and sha256): the same content again is
``unchanged`` and writes nothing at all, not even an audit row, so "importing twice changes nothing"
holds of the whole repository folder. Same key (DOI, root identifier, or title and first author),
different content: a new version linked to the latest.

Two importers at once: blobs race harmlessly (same bytes, atomic rename); on SQLite the write
transactions queue (``BEGIN IMMEDIATE`` with a busy timeout); on PostgreSQL two first imports of one key
race to insert the package, and the loser's transaction is retried once it sees the winner's row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repropack.config import OpeningLimits
from repropack.errors import BadInput, CannotRun, CheckFailed
from repropack.fs.hashing import sha256_file
from repropack.fs.shown_paths import shown_path
from repropack.model import Person
from repropack.progress import Progress, SilentProgress
from repropack.record.archived import is_record, record_folder
from repropack.record.opened import open_record, result_of
from repropack.repository.admission import Admitted, admit
from repropack.repository.catalog.latest import retire_latest
from repropack.repository.catalog.search import index_text
from repropack.repository.catalog.tables import (
    BlobRow,
    FileRow,
    GovernedRunRow,
    ImportRow,
    KeywordRow,
    PackageRow,
    PersonRow,
    VersionKeywordRow,
    VersionPersonRow,
    VersionRow,
)
from repropack.repository.history import add_governed_run, store_record
from repropack.repository.opened import Repository
from repropack.repository.policy import Policy
from repropack.repository.queries import resolve_ref

_DERIVED_ID_DIGITS = 12
# A transaction that lost a race on a unique key (two first imports of one package on PostgreSQL) is retried:
# the next attempt sees the winner's row. More than a few losses in a row is not a race but a bug.
_ATTEMPTS = 5


@dataclass(frozen=True)
class ImportOutcome:
    """What one import did. ``outcome``: "imported" (a new package), "new-version", "unchanged" (this content
    was there already: nothing was written) or "record" (a governed run joined its package's history)."""

    source: Path
    outcome: str
    public_id: str
    version: int
    title: str
    files_stored: int = 0  # blobs this import wrote
    files_present: int = 0  # blobs the store held already (another package's, an earlier version's)
    bytes_written: int = 0
    restricted: int = 0  # files described only: the store holds no bytes of them
    findings: tuple[str, ...] = ()  # advice from admission that did not refuse
    verdict: str | None = None  # of an imported record
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"{self.public_id}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "outcome": self.outcome,
            "id": self.public_id,
            "version": self.version,
            "reference": self.reference,
            "title": self.title,
            "files_stored": self.files_stored,
            "files_present": self.files_present,
            "bytes_written": self.bytes_written,
            "restricted": self.restricted,
            "findings": list(self.findings),
            **({"verdict": self.verdict} if self.verdict is not None else {}),
            **self.details,
        }


def import_source(
    repository: Repository,
    source: Path,
    policy: Policy,
    operator: str | None,
    *,
    as_id: str | None = None,
    limits: OpeningLimits | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """``import_record`` for a governed-run record, ``import_package`` for anything else."""
    if is_record(source):
        if as_id is not None:
            raise BadInput(f"{shown_path(source)}: --as names a package; a record joins the package it replayed")
        return import_record(repository, source, operator, limits=limits)
    return import_package(repository, source, policy, operator, as_id=as_id, limits=limits, progress=progress)


def import_package(
    repository: Repository,
    source: Path,
    policy: Policy,
    operator: str | None,
    *,
    as_id: str | None = None,
    limits: OpeningLimits | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Admit ``source``, store its files and catalogue it as a new package, a new version, or nothing new.

    ``as_id``: the public id of the package this is a version of (when its key changed, say a new title), or
    the id a new package gets (default: derived from its key). Raises what admission raises (BadInput for
    hostile input, CheckFailed for an invalid or disallowed package) with the repository untouched; BadInput
    when ``as_id`` is not a valid id or names a package other than the one the key already belongs to.
    """
    progress = progress or SilentProgress()
    if as_id is not None:
        _refuse_bad_id(as_id)

    # No stage before admission has said yes: a refused package's stderr is its one error line. Admission
    # asks whether the content is held already only once no hostile refusal is left; the catalog is opened
    # for that, read-only, which leaves the repository folder byte-identical (SQLite removes -wal/-shm when
    # the last connection closes) should validation refuse the package after all.
    held: list[tuple[str, int, str]] = []  # the version holding the content, when admission asked and it is held

    def is_known(content_digest: str) -> bool:
        with repository.catalog.session() as session:
            found = _found_content(session, content_digest)
        if found is not None:
            held.append(found)
        return found is not None

    with admit(source, policy, limits or OpeningLimits(), is_known=is_known) as admitted:
        if admitted.known:
            return _unchanged(admitted, held[0])
        if as_id is not None:
            with repository.catalog.session() as session:
                _named_by_as(session, admitted.facts.key, as_id)  # refused before anything is stored
        stored = _store_blobs(repository, admitted, progress)
        progress.stage("Cataloguing")
        return _catalogue_retrying(repository, admitted, stored, operator, as_id)


def _catalogue_retrying(
    repository: Repository, admitted: Admitted, stored: _Stored, operator: str | None, as_id: str | None
) -> ImportOutcome:
    lost = 0
    while True:
        try:
            with repository.catalog.session(write=True) as session:
                return _catalogue(session, admitted, stored, operator, as_id)
        except IntegrityError as error:
            lost += 1
            if lost == _ATTEMPTS:
                raise CannotRun(
                    f"{shown_path(admitted.source)}: the catalog refused it {lost} times in a row: {error.orig}"
                ) from None


def _refuse_bad_id(as_id: str) -> None:
    """BadInput unless ``as_id`` is what a reference's id may be (``queries.resolve_ref``), with no ``@N``."""
    try:
        ref = resolve_ref(as_id)
    except BadInput:
        ref = None
    if ref is None or ref.number is not None:
        raise BadInput(f"--as {as_id!r}: a package id is 1-32 letters, digits, '.', '_' or '-', starting alnum")


@dataclass(frozen=True)
class _Stored:
    written: int
    present: int
    bytes_written: int


def _store_blobs(repository: Repository, admitted: Admitted, progress: Progress) -> _Stored:
    held = [f for f in admitted.files if not f.restricted]
    distinct = {f.sha256: f for f in held}  # one file per content: two paths with the same bytes are one blob
    progress.hashing(sum(f.size for f in distinct.values()))  # the store hashes every byte it copies
    repository.store.sweep_staging()  # a killed import's staged blobs
    files = list(distinct.values())
    # One batch: the store makes all the new blobs durable at once, before the catalog may name them.
    fresh = repository.store.put_many(
        [(admitted.root / f.path, f.sha256, f.size) for f in files], on_stored=progress.hashed
    )
    written = sum(fresh)
    nbytes = sum(f.size for f, new in zip(files, fresh, strict=True) if new)
    return _Stored(written, len(files) - written, nbytes)


def _found_content(session: Session, content_digest: str) -> tuple[str, int, str] | None:
    row = session.execute(
        select(PackageRow.public_id, VersionRow.number, VersionRow.title)
        .join(VersionRow.package)
        .where(VersionRow.content_digest == content_digest)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _unchanged(admitted: Admitted, found: tuple[str, int, str], stored: _Stored | None = None) -> ImportOutcome:
    public_id, number, title = found
    return ImportOutcome(
        source=admitted.source,
        outcome="unchanged",
        public_id=public_id,
        version=number,
        title=title,
        files_stored=stored.written if stored else 0,
        files_present=stored.present if stored else 0,
        bytes_written=stored.bytes_written if stored else 0,
        restricted=sum(f.restricted for f in admitted.files),
        findings=admitted.findings,
    )


def _catalogue(
    session: Session, admitted: Admitted, stored: _Stored, operator: str | None, as_id: str | None
) -> ImportOutcome:
    """Everything the catalog learns of one admitted package, in the caller's transaction."""
    found = _found_content(session, admitted.content_digest)  # another importer may have won the race
    if found is not None:
        return _unchanged(admitted, found, stored)
    facts = admitted.facts
    now = datetime.now(timezone.utc)
    package, created = _package_for(session, facts.key, as_id, now)
    latest = None
    if not created:
        latest = session.execute(
            select(VersionRow).where(VersionRow.package_id == package.id).order_by(VersionRow.number.desc()).limit(1)
        ).scalar_one_or_none()
    version = VersionRow(
        package_id=package.id,
        number=(latest.number + 1) if latest else 1,
        previous_id=latest.id if latest else None,
        content_digest=admitted.content_digest,
        format=admitted.format,
        title=facts.title,
        description=facts.description or "",
        license=facts.license,
        doi=facts.doi,
        work_version=facts.work_version,
        date_published=facts.date_published,
        tool_version=facts.tool_version or "",
        metadata_sha256=admitted.metadata_sha256,
        source_name=admitted.source.name,
        source_sha256=admitted.source_sha256,
        zip_date_time=_zip_date_time_text(admitted.zip_date_time),
        file_count=len(admitted.files),
        total_bytes=sum(f.size for f in admitted.files),
        imported_at=now,
        search_text=search_text(admitted),
        is_latest=True,
    )
    if latest is not None:
        retire_latest(session, package.id)
    session.add(version)
    session.flush()
    _insert_ignoring_duplicates(
        session,
        BlobRow,
        [
            {"sha256": f.sha256, "size": f.size}
            for f in {f.sha256: f for f in admitted.files if not f.restricted}.values()
        ],
        ["sha256"],
    )
    session.execute(
        FileRow.__table__.insert(),
        [
            {
                "version_id": version.id,
                "path": f.path,
                "sha256": f.sha256,
                "size": f.size,
                "role": f.role,
                "encoding_format": f.encoding_format,
                "restricted": f.restricted,
                "executable": f.executable,
            }
            for f in admitted.files
        ],
    )
    _link_people(session, version.id, facts.authors)
    _link_keywords(session, version.id, facts.keywords)
    outcome = "new-version" if latest else "imported"
    session.execute(
        ImportRow.__table__.insert(),
        [
            {
                "version_id": version.id,
                "source_name": admitted.source.name,
                "source_sha256": admitted.source_sha256,
                "outcome": outcome,
                "operator": operator,
                "at": now,
            }
        ],
    )
    return ImportOutcome(
        source=admitted.source,
        outcome=outcome,
        public_id=package.public_id,
        version=version.number,
        title=facts.title,
        files_stored=stored.written,
        files_present=stored.present,
        bytes_written=stored.bytes_written,
        restricted=sum(f.restricted for f in admitted.files),
        findings=admitted.findings,
    )


def _named_by_as(session: Session, key: str, as_id: str) -> tuple[PackageRow | None, PackageRow | None]:
    """The package ``as_id`` names and the one ``key`` names; BadInput when the key is another package's."""
    by_key = session.execute(select(PackageRow).where(PackageRow.key == key)).scalar_one_or_none()
    named = session.execute(select(PackageRow).where(PackageRow.public_id == as_id)).scalar_one_or_none()
    if by_key is not None and (named is None or named.id != by_key.id):
        raise BadInput(f"--as {as_id}: this package is already {by_key.public_id} (same {key!r})")
    return named, by_key


def _package_for(session: Session, key: str, as_id: str | None, now: datetime) -> tuple[PackageRow, bool]:
    """The package a version of the work ``key`` belongs to, and whether it was created just now (no versions)."""
    if as_id is not None:
        named, _ = _named_by_as(session, key, as_id)
        if named is not None:
            # The work is known by its newest facts from now on: its next version needs no --as.
            named.key = key
            return named, False
    else:
        by_key = session.execute(select(PackageRow).where(PackageRow.key == key)).scalar_one_or_none()
        if by_key is not None:
            return by_key, False
    package = PackageRow(public_id=as_id or _derived_id(session, key), key=key, created_at=now)
    session.add(package)
    session.flush()  # a racing first import of the same key fails here, and the transaction is retried
    return package, True


def _derived_id(session: Session, key: str) -> str:
    """``pkg-`` and the first hex digits of the key's sha256: the same work gets the same id in every repository
    (more digits in the unlikely case those are taken)."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    for digits in range(_DERIVED_ID_DIGITS, 29):
        candidate = f"pkg-{digest[:digits]}"
        if session.execute(select(PackageRow.id).where(PackageRow.public_id == candidate)).first() is None:
            return candidate
    raise AssertionError(f"every id derived from {key!r} is taken")  # 17 sha256 prefixes colliding


def _link_people(session: Session, version_id: int, authors: Iterable[Person]) -> None:
    seen: set[int] = set()
    links = []
    for position, person in enumerate(authors):
        name, identifier = person.name, person.identifier or ""
        _insert_ignoring_duplicates(
            session, PersonRow, [{"name": name, "identifier": identifier}], ["name", "identifier"]
        )
        person_id = session.execute(
            select(PersonRow.id).where(PersonRow.name == name, PersonRow.identifier == identifier)
        ).scalar_one()
        if person_id in seen:  # one person named twice in the metadata is one author
            continue
        seen.add(person_id)
        links.append({"version_id": version_id, "person_id": person_id, "role": "author", "position": position})
    if links:
        session.execute(VersionPersonRow.__table__.insert(), links)


def _link_keywords(session: Session, version_id: int, keywords: Iterable[str]) -> None:
    words = sorted({word.strip().casefold() for word in keywords if word.strip()})
    if not words:
        return
    _insert_ignoring_duplicates(session, KeywordRow, [{"word": word} for word in words], ["word"])
    ids = session.execute(select(KeywordRow.id).where(KeywordRow.word.in_(words))).scalars().all()
    session.execute(VersionKeywordRow.__table__.insert(), [{"version_id": version_id, "keyword_id": i} for i in ids])


def _insert_ignoring_duplicates(session: Session, table: type, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert ``rows``, leaving any whose ``keys`` are there already (shared rows: blobs, people, keywords)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).on_conflict_do_nothing(index_elements=keys), rows)


def search_text(admitted: Admitted) -> str:
    """What full-text search reads of a version: title, description, authors, keywords and file paths,
    split and folded as ``catalog.search`` matches them."""
    facts = admitted.facts
    return index_text(
        facts.title,
        facts.description or "",
        [person.name for person in facts.authors],
        facts.keywords,
        [f.path for f in admitted.files],
    )


def _zip_date_time_text(value: tuple | None) -> str | None:
    if value is None:
        return None
    year, month, day, hour, minute, second = value
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


# --- governed-run records ---------------------------------------------------------------------------


def import_record(
    repository: Repository, source: Path, operator: str | None, *, limits: OpeningLimits | None = None
) -> ImportOutcome:
    """Verify the governed-run record at ``source`` (folder or zip) and add its run to the history of the version
    it replayed, found by the sha256 of that package's metadata, which the signed result names.

    BadInput (nothing touched) for a record that fails verification (tampered) or is not a replay result;
    CheckFailed when this repository holds no version with that metadata. The same record again (by the
    sha256 of its signature.json, which covers every file) is "unchanged" and writes nothing.
    """
    with record_folder(source, limits or OpeningLimits()) as folder:
        record = open_record(folder)
        result = result_of(record)  # BadInput when result.json is not what a replay writes
    metadata_sha256 = result.package.metadata_sha256
    with repository.catalog.session(write=True) as session:
        target = session.execute(
            select(VersionRow, PackageRow.public_id)
            .join(VersionRow.package)
            .where(VersionRow.metadata_sha256 == metadata_sha256)
            .order_by(VersionRow.id)
            .limit(1)
        ).first()
        if target is None:
            raise CheckFailed(
                f"{shown_path(source)}: replayed a package this repository does not hold (metadata sha256 "
                f"{metadata_sha256[:16]}…); import that package first"
            )
        version, public_id = target
        verdict = result.verdict.value
        outcome = ImportOutcome(
            source=source,
            outcome="record",
            public_id=public_id,
            version=version.number,
            title=version.title,
            verdict=verdict,
            details={"record_sha256": record.signature_sha256, "signer": record.key_id},
        )
        known = session.execute(
            select(GovernedRunRow.id).where(GovernedRunRow.record_sha256 == record.signature_sha256)
        ).first()
        if known is not None:
            return replace(outcome, outcome="unchanged")
        now = datetime.now(timezone.utc)
        add_governed_run(
            session,
            version.id,
            result,
            record_sha256=record.signature_sha256,
            signer=record.key_id,
            source="import",
            record_blob=store_record(repository, source),  # every signed record is kept, as a zip in the store
            now=now,
        )
        session.add(
            ImportRow(
                version_id=version.id,
                source_name=source.name,
                source_sha256=sha256_file(source).sha256 if source.is_file() else None,  # a folder has no one byte form
                outcome="record",
                operator=operator,
                at=now,
            )
        )
    return outcome
