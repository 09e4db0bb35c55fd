"""The read side of the catalog: what a package is, as ``show``, the web view and the JSON API present it.

Every function here only reads. The views are frozen dataclasses with plain values (strings, numbers,
datetimes, tuples), so a template, a terminal renderer and ``as_json`` all see the same facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from repropack.errors import BadInput
from repropack.repository.catalog.tables import PackageRow, VersionPersonRow, VersionRow

# What a public id may be: what the importer mints ("pkg-" and 12 hex digits) or an operator's --as name.
_PUBLIC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


@dataclass(frozen=True)
class Ref:
    """A package and, optionally, one of its versions (None: the latest)."""

    public_id: str
    number: int | None = None

    def __str__(self) -> str:
        return self.public_id if self.number is None else f"{self.public_id}@{self.number}"


@dataclass(frozen=True)
class PersonView:
    name: str
    identifier: str | None  # an ORCID or other URL


@dataclass(frozen=True)
class FileView:
    path: str
    size: int
    sha256: str
    role: str
    encoding_format: str | None
    restricted: bool  # described only: the store holds no bytes for it


@dataclass(frozen=True)
class RunView:
    """A governed run (a replay) of a version, newest last."""

    verdict: str
    cause: str | None
    started_at: datetime | None
    finished_at: datetime | None
    signer: str | None
    signature_verified: bool
    record_sha256: str
    source: str


@dataclass(frozen=True)
class VersionView:
    number: int
    title: str
    description: str
    authors: tuple[PersonView, ...]
    keywords: tuple[str, ...]
    license: str | None
    doi: str | None
    work_version: str | None
    format: str
    date_published: datetime | None
    imported_at: datetime
    tool_version: str
    content_digest: str
    metadata_sha256: str
    file_count: int
    total_bytes: int
    files: tuple[FileView, ...]  # sorted by path
    runs: tuple[RunView, ...]  # oldest first

    def file(self, path: str) -> FileView | None:
        """The file at exactly ``path`` in this version, or None (no normalisation: a path is a catalog key)."""
        return next((f for f in self.files if f.path == path), None)


@dataclass(frozen=True)
class VersionSummary:
    number: int
    title: str
    imported_at: datetime
    verdict: str | None  # of its newest governed run


@dataclass(frozen=True)
class PublicationView:
    doi: str
    linked_at: datetime


@dataclass(frozen=True)
class PackageView:
    """A package with every version listed and one shown in full: the one asked for, else the latest."""

    public_id: str
    created_at: datetime
    versions: tuple[VersionSummary, ...]  # oldest first
    latest: int
    version: VersionView
    publications: tuple[PublicationView, ...]  # DOIs linked with ``repropack link``, oldest first

    @property
    def dois(self) -> tuple[str, ...]:
        """Every DOI the package is known by: the shown version's own, then the linked publications'."""
        found = [self.version.doi] if self.version.doi else []
        return tuple(dict.fromkeys(found + [p.doi for p in self.publications]))


def resolve_ref(text: str) -> Ref:
    """``pkg-…`` or ``pkg-…@N`` as a Ref; BadInput (one line, naming the rule) for anything else."""
    public_id, at, number = text.partition("@")
    if not _PUBLIC_ID.fullmatch(public_id) or (at and not _NUMBER.fullmatch(number)):
        raise BadInput(f"{text!r}: not a package reference (ID or ID@VERSION, e.g. pkg-3f9a1c2b7d4e@2)")
    return Ref(public_id, int(number) if at else None)


def package_view(session: Session, ref: Ref | str) -> PackageView:
    """The package ``ref`` names; BadInput (one line) for an unknown package or version."""
    ref = resolve_ref(ref) if isinstance(ref, str) else ref
    package = session.scalars(
        select(PackageRow)
        .where(PackageRow.public_id == ref.public_id)
        .options(selectinload(PackageRow.versions).selectinload(VersionRow.runs), selectinload(PackageRow.publications))
    ).one_or_none()
    if package is None or not package.versions:
        raise BadInput(f"{ref.public_id}: no such package in this repository")
    by_number = {v.number: v for v in package.versions}
    latest = max(by_number)
    number = latest if ref.number is None else ref.number
    if number not in by_number:
        raise BadInput(f"{ref}: {ref.public_id} has no version {number} (it has 1 to {latest})")
    shown = session.scalars(
        select(VersionRow)
        .where(VersionRow.id == by_number[number].id)
        .options(
            selectinload(VersionRow.files),
            selectinload(VersionRow.people).selectinload(VersionPersonRow.person),
            selectinload(VersionRow.keywords),
            selectinload(VersionRow.runs),
        )
    ).one()
    return PackageView(
        public_id=package.public_id,
        created_at=package.created_at,
        versions=tuple(_summary_of(v) for v in sorted(package.versions, key=lambda v: v.number)),
        latest=latest,
        version=_version_view(shown),
        publications=tuple(
            PublicationView(p.doi, p.linked_at)
            for p in sorted(package.publications, key=lambda p: (p.linked_at, p.doi))
        ),
    )


def as_json(view: Any) -> Any:
    """A view (or anything made of them) as JSON values: datetimes in ISO 8601 UTC, tuples as lists."""
    if is_dataclass(view) and not isinstance(view, type):
        out = {f.name: as_json(getattr(view, f.name)) for f in fields(view)}
        if isinstance(view, PackageView):
            out["dois"] = list(view.dois)
        return out
    if isinstance(view, (list, tuple)):
        return [as_json(item) for item in view]
    if isinstance(view, datetime):
        return utc(view).isoformat().replace("+00:00", "Z")
    return view


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; the catalog stores UTC, and SQLite hands it back without its zone."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _runs_in_order(version: VersionRow) -> list:
    """Oldest first; a run with no finishing time (still unknown) before those that have one."""
    return sorted(version.runs, key=lambda r: (r.finished_at is not None, r.finished_at and utc(r.finished_at), r.id))


def _newest_verdict(version: VersionRow) -> str | None:
    runs = _runs_in_order(version)
    return runs[-1].verdict if runs else None


def _summary_of(version: VersionRow) -> VersionSummary:
    return VersionSummary(version.number, version.title, version.imported_at, _newest_verdict(version))


def _version_view(version: VersionRow) -> VersionView:
    return VersionView(
        number=version.number,
        title=version.title,
        description=version.description,
        authors=tuple(
            PersonView(p.person.name, p.person.identifier or None) for p in version.people if p.role == "author"
        ),
        keywords=tuple(k.word for k in version.keywords),
        license=version.license,
        doi=version.doi,
        work_version=version.work_version,
        format=version.format,
        date_published=version.date_published,
        imported_at=version.imported_at,
        tool_version=version.tool_version,
        content_digest=version.content_digest,
        metadata_sha256=version.metadata_sha256,
        file_count=version.file_count,
        total_bytes=version.total_bytes,
        files=tuple(
            FileView(f.path, f.size, f.sha256, f.role, f.encoding_format, f.restricted)
            for f in sorted(version.files, key=lambda f: f.path)
        ),
        runs=tuple(
            RunView(
                r.verdict,
                r.cause,
                r.started_at,
                r.finished_at,
                r.signer,
                r.signature_verified,
                r.record_sha256,
                r.source,
            )
            for r in _runs_in_order(version)
        ),
    )
