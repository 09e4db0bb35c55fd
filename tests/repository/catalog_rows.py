"""A real repository (marker, SQLite catalog at the newest schema, local store) filled row by row through the tables.

For tests of the read side that must not depend on the importer: every fact is chosen by the test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from repropack.repository.catalog.database import Catalog, open_catalog, upgrade_catalog
from repropack.repository.catalog.search import index_text
from repropack.repository.catalog.tables import (
    BlobRow,
    FileRow,
    GovernedRunRow,
    KeywordRow,
    PackageRow,
    PersonRow,
    PublicationRow,
    VersionKeywordRow,
    VersionPersonRow,
    VersionRow,
)
from repropack.repository.location import MARKER, RepositoryLocation, marker_text, sqlite_url
from repropack.repository.store import LocalStore

WHEN = datetime(2026, 11, 24, 10, 15, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SampleFile:
    path: str
    data: bytes
    role: str = "other"
    encoding_format: str | None = "text/plain"
    restricted: bool = False


@dataclass(frozen=True)
class SampleRun:
    verdict: str
    record_sha256: str
    cause: str | None = None
    finished_at: datetime = WHEN
    signer: str | None = "ed25519:abcd"
    base_image: str | None = None


@dataclass(frozen=True)
class SampleVersion:
    title: str
    files: tuple[SampleFile, ...]
    description: str = ""
    authors: tuple[tuple[str, str], ...] = (("Ada Lovelace", "https://orcid.org/0000-0002-1825-0097"),)
    keywords: tuple[str, ...] = ()
    license: str | None = "CC-BY-4.0"
    doi: str | None = None
    runs: tuple[SampleRun, ...] = ()
    imported_at: datetime = WHEN


def make_repository(root: Path, catalog_url: str | None = None) -> RepositoryLocation:
    """An empty repository at ``root`` (what ``repository init`` makes); its catalog the SQLite file inside unless
    ``catalog_url`` names another."""
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(marker_text(catalog_url), encoding="utf-8")
    url = catalog_url or sqlite_url(root)
    upgrade_catalog(url)
    return RepositoryLocation(root, url)


def add_package(
    location: RepositoryLocation, public_id: str, *versions: SampleVersion, dois: tuple[str, ...] = ()
) -> None:
    """Insert a package with ``versions`` (numbered from 1) and linked ``dois``; store every unrestricted file."""
    store = LocalStore(location.blobs, location.staging)
    staging = location.root.parent / f"{location.root.name}-staging"
    staging.mkdir(exist_ok=True)
    catalog: Catalog = open_catalog(location.catalog_url)
    try:
        with catalog.session(write=True) as session:
            package = PackageRow(public_id=public_id, key=f"id:{public_id}", created_at=WHEN)
            session.add(package)
            session.flush()
            previous = None
            for number, sample in enumerate(versions, start=1):
                latest = number == len(versions)
                previous = _add_version(session, store, staging, package, number, previous, sample, latest)
            for doi in dois:
                session.add(PublicationRow(package_id=package.id, doi=doi, linked_at=WHEN))
    finally:
        catalog.close()


def newest_verdict(runs: Iterable[tuple[str, datetime | None]]) -> str | None:
    """The verdict the catalog keeps for runs (verdict, finished_at) inserted in this order: the latest finish,
    unfinished ones older than any finished one, ties to the one inserted last (the higher id)."""
    ordered = [
        (finished is not None, finished or WHEN, index, verdict) for index, (verdict, finished) in enumerate(runs)
    ]
    return max(ordered)[3] if ordered else None


def _add_version(session, store, staging, package, number, previous, sample: SampleVersion, latest: bool) -> int:
    digest = hashlib.sha256(
        "".join(f"{f.path}\0{hashlib.sha256(f.data).hexdigest()}\n" for f in sample.files).encode()
        + package.public_id.encode()
    ).hexdigest()
    version = VersionRow(
        package_id=package.id,
        number=number,
        previous_id=previous,
        content_digest=digest,
        format="repropack",
        title=sample.title,
        description=sample.description,
        license=sample.license,
        doi=sample.doi,
        work_version=None,
        date_published=WHEN,
        tool_version="repropack 0.1.0",
        metadata_sha256="0" * 64,
        source_name=f"{package.public_id}.crate.zip",
        file_count=len(sample.files),
        total_bytes=sum(len(f.data) for f in sample.files),
        imported_at=sample.imported_at,
        search_text=index_text(
            sample.title,
            sample.description,
            [name for name, _ in sample.authors],
            sample.keywords,
            [f.path for f in sample.files],
        ),
        is_latest=latest,
        newest_verdict=newest_verdict((run.verdict, run.finished_at) for run in sample.runs),
    )
    session.add(version)
    session.flush()
    for f in sample.files:
        sha = hashlib.sha256(f.data).hexdigest()
        session.add(FileRow(version_id=version.id, path=f.path, sha256=sha, size=len(f.data), role=f.role,
                            encoding_format=f.encoding_format, restricted=f.restricted))  # fmt: skip
        if f.restricted:
            continue
        if session.get(BlobRow, sha) is None:
            session.add(BlobRow(sha256=sha, size=len(f.data)))
        source = staging / sha
        source.write_bytes(f.data)
        store.put(source, sha, len(f.data))
    for position, (name, identifier) in enumerate(sample.authors):
        person = session.query(PersonRow).filter_by(name=name, identifier=identifier).one_or_none()
        if person is None:
            person = PersonRow(name=name, identifier=identifier)
            session.add(person)
            session.flush()
        session.add(VersionPersonRow(version_id=version.id, person_id=person.id, role="author", position=position))
    for word in sample.keywords:
        keyword = session.query(KeywordRow).filter_by(word=word).one_or_none()
        if keyword is None:
            keyword = KeywordRow(word=word)
            session.add(keyword)
            session.flush()
        session.add(VersionKeywordRow(version_id=version.id, keyword_id=keyword.id))
    for run in sample.runs:
        session.add(GovernedRunRow(version_id=version.id, verdict=run.verdict, cause=run.cause, started_at=None,
                                   finished_at=run.finished_at, record_sha256=run.record_sha256, signer=run.signer,
                                   signature_verified=True, source="import", imported_at=WHEN,
                                   base_image=run.base_image))  # fmt: skip
    session.flush()
    return version.id
