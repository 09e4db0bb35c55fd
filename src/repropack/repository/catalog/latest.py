"""What the catalog keeps in ``versions`` so that search need not work it out for every candidate row.

``versions.is_latest``: no version of the same package has a higher number. ``versions.newest_verdict``: the
verdict of the version's newest governed run (latest ``finished_at``; unfinished runs count as older than any
finished one; ties by the higher id), None when it has none. Every writer keeps both true in the transaction
that changes versions or runs (the importer through these functions); ``repository check`` reports any version
where they disagree with the rows, through ``disagreements``.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, ScalarSelect, and_, or_, select, update
from sqlalchemy.orm import Session, aliased

from repropack.repository.catalog.tables import GovernedRunRow, PackageRow, VersionRow


def newest_run_verdict(version_id: ColumnElement[int] | int) -> ScalarSelect[str]:
    """The verdict of the newest governed run of ``version_id`` (a value or a correlated column); NULL when none.
    The migration's ix_governed_runs_newest holds the whole lookup, in this order."""
    return (
        select(GovernedRunRow.verdict)
        .where(GovernedRunRow.version_id == version_id)
        .order_by(GovernedRunRow.finished_at.desc().nulls_last(), GovernedRunRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def retire_latest(session: Session, package_id: int) -> None:
    """Before a new version of ``package_id`` is added (as the latest): no other version is latest any more."""
    session.execute(
        update(VersionRow).where(VersionRow.package_id == package_id, VersionRow.is_latest).values(is_latest=False)
    )


def refresh_newest_verdict(session: Session, version_id: int) -> None:
    """After a governed run of ``version_id`` is added: its ``newest_verdict`` again says its newest run's.

    The version's row is locked first, so two records of one version imported at once take turns and the later
    sees the earlier's run (PostgreSQL; SQLite's write transactions take turns already)."""
    session.flush()
    session.execute(select(VersionRow.id).where(VersionRow.id == version_id).with_for_update())
    session.execute(
        update(VersionRow).where(VersionRow.id == version_id).values(newest_verdict=newest_run_verdict(version_id))
    )


def disagreements(session: Session) -> Iterator[str]:
    """One line for each version whose ``is_latest`` or ``newest_verdict`` is not what its rows say, in order."""
    later = aliased(VersionRow)
    has_later = select(later.id).where(later.package_id == VersionRow.package_id, later.number > VersionRow.number)
    wrong_latest = session.execute(
        select(PackageRow.public_id, VersionRow.number, VersionRow.is_latest)
        .join(VersionRow.package)
        .where(or_(and_(VersionRow.is_latest, has_later.exists()), and_(~VersionRow.is_latest, ~has_later.exists())))
        .order_by(PackageRow.public_id, VersionRow.number)
    )
    for public_id, number, is_latest in wrong_latest:
        actual = "an older version" if is_latest else "the latest version"
        yield f"{public_id}@{number}: versions.is_latest is {bool(is_latest)}, but it is {actual} of its package"
    actual_verdict = newest_run_verdict(VersionRow.id)
    wrong_verdict = session.execute(
        select(PackageRow.public_id, VersionRow.number, VersionRow.newest_verdict, actual_verdict)
        .join(VersionRow.package)
        .where(VersionRow.newest_verdict.is_distinct_from(actual_verdict))
        .order_by(PackageRow.public_id, VersionRow.number)
    )
    for public_id, number, stored, actual in wrong_verdict:
        yield (
            f"{public_id}@{number}: versions.newest_verdict is {stored!r}, but its newest governed run says {actual!r}"
        )
