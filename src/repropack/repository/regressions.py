"""Regressions: a package version whose newest governed run has a worse verdict than the run before it, and why.

Worse is an order of verdicts: reproduced < not_reproduced < failed. The category is the first that applies, in
``RegressionCategory``'s order: the base image changed (its name, or its engine id: a rebuilt base keeps its
name) -> container-induced; the build or an install broke -> environment failure; any other failure ->
persistent error; it ran and outputs changed -> reproducibility drift. A run catalogued before the history kept
base images (None) is never said to differ from one that did: nothing is known of it.
"""

from __future__ import annotations

from sqlalchemy import select

from repropack.model.governance import HistoryEntry, Regression, RegressionCategory
from repropack.model.results import CauseKind, Verdict
from repropack.repository.catalog.tables import GovernedRunRow, GovernRunRow, PackageRow, VersionRow
from repropack.repository.history import _entry, differing_outputs, run_order
from repropack.repository.opened import Repository

_RANK = {Verdict.REPRODUCED.value: 0, Verdict.NOT_REPRODUCED.value: 1, Verdict.FAILED.value: 2}
_ENVIRONMENT_CAUSES = frozenset({CauseKind.BUILD_FAILED.value, CauseKind.MISSING_MODULE.value})


def classify_regression(previous: HistoryEntry, latest: HistoryEntry) -> tuple[RegressionCategory, str] | None:
    """The category and a one-line reason when ``latest``'s verdict is worse than ``previous``'s; None when it is
    not (the same, better, or a verdict this version does not know)."""
    before, after = _RANK.get(previous.verdict), _RANK.get(latest.verdict)
    if before is None or after is None or after <= before:
        return None
    changes = _changes(previous, latest)
    base_changed = _differ(previous.base_image, latest.base_image) or _differ(
        previous.base_image_id, latest.base_image_id
    )
    if base_changed:
        category = RegressionCategory.CONTAINER_INDUCED
    elif latest.verdict == Verdict.FAILED.value and latest.cause_kind in _ENVIRONMENT_CAUSES:
        category = RegressionCategory.ENVIRONMENT_FAILURE
    elif latest.verdict == Verdict.FAILED.value:
        category = RegressionCategory.PERSISTENT_ERROR
    else:
        category = RegressionCategory.REPRODUCIBILITY_DRIFT
    parts = ([latest.cause] if latest.cause else []) + changes
    return category, f"{previous.verdict} -> {latest.verdict}" + (f": {'; '.join(parts)}" if parts else "")


def _differ(before: str | None, after: str | None) -> bool:
    return before is not None and after is not None and before != after


def _changes(previous: HistoryEntry, latest: HistoryEntry) -> list[str]:
    """What changed between the two runs, each a short phrase."""
    found = []
    if _differ(previous.base_image, latest.base_image):
        found.append(f"base image {previous.base_image} -> {latest.base_image}")
    elif _differ(previous.base_image_id, latest.base_image_id):
        found.append(
            f"base image {latest.base_image or '(unnamed)'} rebuilt ({_short(previous.base_image_id)} -> "
            f"{_short(latest.base_image_id)})"
        )
    if latest.image_reused is False or _differ(previous.image_id, latest.image_id):
        found.append("environment rebuilt")
    differing = differing_outputs(latest.diff_summary)
    if differing:
        found.append(f"{differing} output{'s' if differing != 1 else ''} differ{'s' if differing == 1 else ''}")
    return found


def _short(image_id: str | None) -> str:
    text = (image_id or "").removeprefix("sha256:")
    return text[:12] or "?"


def find_regressions(repository: Repository) -> list[Regression]:
    """For each version, its newest governed run against the one before it: a Regression where it got worse,
    ordered by public id and version."""
    with repository.catalog.session() as session:
        rows = session.execute(
            select(GovernedRunRow, PackageRow.public_id, VersionRow.number, GovernRunRow.public_id, VersionRow.title)
            .join(GovernedRunRow.version)
            .join(VersionRow.package)
            .outerjoin(GovernRunRow, GovernRunRow.id == GovernedRunRow.govern_run_id)
        ).all()
    by_version: dict[int, list] = {}
    for row in rows:
        by_version.setdefault(row[0].version_id, []).append(row)
    found = []
    for runs in by_version.values():
        if len(runs) < 2:
            continue
        runs.sort(key=lambda row: run_order(row[0]))
        previous, latest = _entry(*runs[-2][:4]), _entry(*runs[-1][:4])
        classified = classify_regression(previous, latest)
        if classified is not None:
            category, reason = classified
            title = runs[-1][4]
            found.append(Regression(latest.public_id, latest.version, title, category, previous, latest, reason))
    return sorted(found, key=lambda r: (r.public_id, r.version))
