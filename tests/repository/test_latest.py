"""``catalog.latest`` on both engines: what the importer keeps in versions follows the rows, in any order of arrival."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from repropack.repository.catalog.latest import disagreements, refresh_newest_verdict, retire_latest
from repropack.repository.catalog.tables import GovernedRunRow, PackageRow, VersionRow

WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def _version(session, package_id: int, number: int) -> int:
    row = VersionRow(package_id=package_id, number=number, content_digest=f"d{package_id}-{number}".ljust(64, "0"),
                     format="repropack", title="t", source_name="x.zip", metadata_sha256="0" * 64, file_count=0,
                     total_bytes=0, imported_at=WHEN, is_latest=True)  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def _run(session, version_id: int, verdict: str, finished: datetime | None) -> None:
    count = session.scalar(select(GovernedRunRow.id).order_by(GovernedRunRow.id.desc()).limit(1)) or 0
    session.add(GovernedRunRow(version_id=version_id, verdict=verdict, cause=None, started_at=None,
                               finished_at=finished, record_sha256=f"{count + 1:064d}", signer=None,
                               signature_verified=True, source="import", imported_at=WHEN))  # fmt: skip
    refresh_newest_verdict(session, version_id)


def test_the_newest_run_by_finish_decides_whatever_order_records_arrive_in(catalog):
    with catalog.session(write=True) as session:
        session.add(PackageRow(id=1, public_id="p1", key="id:p1", created_at=WHEN))
        session.flush()
        version = _version(session, 1, 1)
        seen = []
        for verdict, finished in (
            ("failed", None),  # unfinished: older than any finished run
            ("reproduced", WHEN + timedelta(days=2)),
            ("not_reproduced", WHEN + timedelta(days=1)),  # arrives later, finished earlier
            ("failed", None),
            ("not_reproduced", WHEN + timedelta(days=2)),  # same finish: the later id wins
        ):
            _run(session, version, verdict, finished)
            seen.append(session.scalar(select(VersionRow.newest_verdict).where(VersionRow.id == version)))
        assert list(disagreements(session)) == []
    assert seen == ["failed", "reproduced", "reproduced", "reproduced", "not_reproduced"]


def test_a_new_version_retires_the_previous_one_only_in_its_package(catalog):
    with catalog.session(write=True) as session:
        for package_id in (1, 2):
            session.add(PackageRow(id=package_id, public_id=f"p{package_id}", key=f"id:p{package_id}", created_at=WHEN))
        session.flush()
        _version(session, 1, 1)
        _version(session, 2, 1)
        retire_latest(session, 1)
        _version(session, 1, 2)
        flags = session.execute(
            select(VersionRow.package_id, VersionRow.number, VersionRow.is_latest).order_by(VersionRow.id)
        ).all()
        assert list(disagreements(session)) == []
    assert flags == [(1, 1, False), (2, 1, True), (1, 2, True)]
