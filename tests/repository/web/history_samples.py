"""A repository whose packages have governed-run histories with every column govern fills, rows inserted through the
tables: one drifted (with a hostile title, cause and diff summary), one failed after its base image changed, one
steady and one never replayed. For the web view's history and regression tests (TestClient and Chromium)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from repropack.repository.catalog.database import open_catalog
from repropack.repository.catalog.latest import refresh_newest_verdict
from repropack.repository.catalog.tables import GovernedRunRow, GovernRunRow, PackageRow, VersionRow
from repropack.repository.location import RepositoryLocation
from tests.repository.catalog_rows import SampleFile, SampleVersion, add_package, make_repository

DRIFTED = "pkg-00000000d0d0"  # reproduced, then not reproduced on the same base image
REBASED = "pkg-00000000e0e0"  # reproduced, then failed after the base image changed
STEADY = "pkg-00000000f0f0"  # reproduced twice: no regression
NEVER = "pkg-0000000a0a0a"  # never replayed
HOSTILE_TITLE = "<script>window.__pwned=1</script>Tides & <b>Osaka</b>"
HOSTILE_CAUSE = "NameError: <script>window.__pwned=2</script>"
HOSTILE_DIFF = "out/<b>fig</b>.png: <img src=x onerror=window.__pwned=3>"
OLD_BASE, NEW_BASE = "repropack/base:bookworm-py3.11", "repropack/base:trixie-py3.12"
START = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
POLICY_RUN = "gov-00000000000c"


@dataclass(frozen=True)
class Run:
    verdict: str
    hours: int  # finished this many hours after START
    base_image: str = OLD_BASE
    base_image_id: str = "sha256:" + "b" * 64
    cause_kind: str | None = None
    cause: str | None = None
    diff_summary: str | None = None
    image_reused: bool | None = True
    source: str = "govern"


def _add_runs(location: RepositoryLocation, public_id: str, runs: list[Run]) -> None:
    """Governed runs of the package's version 1, with every column the history reads, as govern records them."""
    catalog = open_catalog(location.catalog_url)
    try:
        with catalog.session(write=True) as session:
            policy_run = session.query(GovernRunRow).filter_by(public_id=POLICY_RUN).one_or_none()
            if policy_run is None:
                policy_run = GovernRunRow(
                    public_id=POLICY_RUN, policy_name="nightly", policy_sha256="c" * 64, state="finished",
                    started_at=START, finished_at=START,
                )  # fmt: skip
                session.add(policy_run)
                session.flush()
            version = (
                session.query(VersionRow)
                .join(VersionRow.package)
                .filter(PackageRow.public_id == public_id, VersionRow.number == 1)
                .one()
            )
            for index, run in enumerate(runs):
                finished = START + timedelta(hours=run.hours)
                session.add(
                    GovernedRunRow(
                        version_id=version.id, verdict=run.verdict, cause=run.cause, cause_kind=run.cause_kind,
                        started_at=finished - timedelta(minutes=5), finished_at=finished,
                        record_sha256=f"{public_id[-4:]}{index:060d}", signer="ed25519:abcd",
                        signature_verified=True, source=run.source, imported_at=finished,
                        base_image=run.base_image, base_image_id=run.base_image_id, image_id="sha256:" + "e" * 64,
                        image_reused=run.image_reused, diff_summary=run.diff_summary,
                        govern_run_id=policy_run.id if run.source == "govern" else None,
                    )
                )  # fmt: skip
            refresh_newest_verdict(session, version.id)
    finally:
        catalog.close()


def _package(location: RepositoryLocation, public_id: str, title: str) -> None:
    add_package(location, public_id, SampleVersion(title=title, files=(SampleFile("a.txt", public_id.encode()),)))


def build_history_repository(root: Path) -> RepositoryLocation:
    location = make_repository(root)
    _package(location, DRIFTED, HOSTILE_TITLE)
    _add_runs(
        location,
        DRIFTED,
        [
            Run("reproduced", 0, source="import"),
            Run("not_reproduced", 24, cause_kind="nondeterministic", cause=HOSTILE_CAUSE, diff_summary=HOSTILE_DIFF,
                image_reused=False),
        ],
    )  # fmt: skip
    _package(location, REBASED, "Rebased study")
    _add_runs(
        location,
        REBASED,
        [
            Run("reproduced", 0),
            Run("failed", 24, base_image=NEW_BASE, base_image_id="sha256:" + "d" * 64, cause_kind="build failed",
                cause="pip could not resolve numpy", image_reused=False),
        ],
    )  # fmt: skip
    _package(location, STEADY, "Steady study")
    _add_runs(location, STEADY, [Run("reproduced", 0), Run("reproduced", 24)])
    _package(location, NEVER, "Never replayed")
    return location
