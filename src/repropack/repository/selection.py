"""Which package versions a governance policy replays: a ``Selection`` answered from the catalog.

What a caller may rely on (``select_versions``): every criterion given must hold, an empty selection gives every
package's newest version; the result is ordered by public id, then version number; times are compared in UTC
whatever the catalog (SQLite hands datetimes back without their zone). Nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Select, or_, select

from repropack.model import layout
from repropack.model.governance import Selection
from repropack.repository.catalog.search import versions_by_author
from repropack.repository.catalog.tables import (
    FileRow,
    GovernedRunRow,
    KeywordRow,
    PackageRow,
    VersionKeywordRow,
    VersionRow,
)
from repropack.repository.history import run_order
from repropack.repository.opened import Repository
from repropack.repository.queries import utc

#: "never": a version no governed run has reached a verdict on.
NEVER = "never"
#: A package's settings file is a few kilobytes; one that is not is not read for its base image.
_SETTINGS_LIMIT = 1 << 20


@dataclass(frozen=True)
class SelectedVersion:
    """One package version a policy selected."""

    version_id: int
    public_id: str
    version: int
    title: str
    content_digest: str


def select_versions(repository: Repository, selection: Selection, now: datetime | None = None) -> list[SelectedVersion]:
    """The versions ``selection`` names (see the module docstring); ``now`` (default: the clock) anchors
    ``not_replayed_for`` and ``imported_within``."""
    moment = utc(now) if now is not None else datetime.now(timezone.utc)
    with repository.catalog.session() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        rows = session.execute(_candidates(selection, sqlite=sqlite)).all()
        newest = _newest_runs(session, [row.id for row in rows]) if _needs_runs(selection) else {}
        chosen = []
        for row in rows:
            run = newest.get(row.id)
            if not _holds(selection, row, run, moment):
                continue
            if selection.base_image is not None and _base_image_of(repository, session, row.id, run) != (
                selection.base_image
            ):
                continue
            chosen.append(SelectedVersion(row.id, row.public_id, row.number, row.title, row.content_digest))
    return chosen


def _candidates(selection: Selection, *, sqlite: bool) -> Select:
    """The criteria the catalog answers by itself: ids, keywords, authors, newest versions only."""
    query = (
        select(
            VersionRow.id,
            PackageRow.public_id,
            VersionRow.number,
            VersionRow.title,
            VersionRow.content_digest,
            VersionRow.imported_at,
            VersionRow.newest_verdict,
        )
        .join(VersionRow.package)
        .order_by(PackageRow.public_id, VersionRow.number)
    )
    if selection.latest_only:
        query = query.where(VersionRow.is_latest)
    if selection.ids:
        query = query.where(PackageRow.public_id.in_(selection.ids))
    if selection.keywords:
        words = sorted({word.strip().casefold() for word in selection.keywords})
        query = query.where(
            VersionRow.id.in_(
                select(VersionKeywordRow.version_id)
                .join(KeywordRow, KeywordRow.id == VersionKeywordRow.keyword_id)
                .where(KeywordRow.word.in_(words))
            )
        )
    if selection.authors:
        query = query.where(
            or_(*(VersionRow.id.in_(versions_by_author(author, sqlite=sqlite)) for author in selection.authors))
        )
    return query


def _needs_runs(selection: Selection) -> bool:
    return selection.not_replayed_for is not None or selection.base_image is not None


def _newest_runs(session, version_ids: list[int]) -> dict[int, GovernedRunRow]:
    """Each version's newest governed run (by finish, then id; an unfinished run older than any finished)."""
    newest: dict[int, GovernedRunRow] = {}
    for start in range(0, len(version_ids), 500):  # bounded IN lists: SQLite caps bound parameters
        chunk = version_ids[start : start + 500]
        for run in session.scalars(select(GovernedRunRow).where(GovernedRunRow.version_id.in_(chunk))):
            known = newest.get(run.version_id)
            if known is None or run_order(run) > run_order(known):
                newest[run.version_id] = run
    return newest


def _holds(selection: Selection, row, run: GovernedRunRow | None, now: datetime) -> bool:
    """The criteria on a version's verdict and times."""
    if selection.last_verdict and (row.newest_verdict or NEVER) not in selection.last_verdict:
        return False
    if selection.imported_within is not None and utc(row.imported_at) < now - timedelta(
        seconds=selection.imported_within
    ):
        return False
    recent = selection.not_replayed_for
    return not (
        recent is not None
        and run is not None
        and run.finished_at is not None
        and utc(run.finished_at) >= now - timedelta(seconds=recent)
    )


def _base_image_of(repository: Repository, session, version_id: int, run: GovernedRunRow | None) -> str | None:
    """The base image of the version's newest governed run, or the one its package's settings recorded."""
    if run is not None and run.base_image:
        return run.base_image
    sha256 = session.scalar(
        select(FileRow.sha256).where(FileRow.version_id == version_id, FileRow.path == layout.SETTINGS)
    )
    if sha256 is None:
        return None
    try:
        with repository.store.open(sha256) as stream:
            text = stream.read(_SETTINGS_LIMIT + 1)
        settings = json.loads(text) if len(text) <= _SETTINGS_LIMIT else {}
    except (OSError, ValueError):
        return None  # a settings file the store lost or that is not JSON records no base image
    base = settings.get("base_image") if isinstance(settings, dict) else None
    value = base.get("value") if isinstance(base, dict) else base
    return value if isinstance(value, str) else None
