"""run_policy: a whole policy run on real replays (local backend; the in-process executor and a real Dask
LocalCluster), a stop before every task was dispatched and its resumption, the policy's lock, and a regression
found, reported and alerted."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from repropack.config import user_config_file
from repropack.errors import BadInput, CannotRun
from repropack.govern.run import GovernSettings, run_policy
from repropack.govern.state import policy_lock
from repropack.model.governance import AlertTargets, RegressionCategory, Selection, TaskState
from repropack.progress import SilentProgress
from repropack.repository.catalog.tables import GovernedRunRow, GovernRunRow
from repropack.repository.history import package_history
from tests.govern.conftest import FAILED, NOT_REPRODUCED, REPRODUCED, make_policy

pytestmark = pytest.mark.usefixtures("replay_cache")

EARLIER = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class Lines(SilentProgress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, text: str) -> None:
        self.lines.append(text)


def _verdicts(report, ids) -> dict[str, str | None]:
    titles = {public_id: title for title, public_id in ids.items()}
    return {titles[o.public_id]: o.verdict for o in report.outcomes}


def test_a_policy_run_replays_every_selected_package_and_keeps_each_verdict(govern_repository):
    repository, ids = govern_repository.repository, govern_repository.ids
    policy = make_policy("nightly")
    progress = Lines()
    report = run_policy(repository, policy, GovernSettings.resolve(policy, executor="local"), progress, lambda: False)
    assert _verdicts(report, ids) == {REPRODUCED: "reproduced", NOT_REPRODUCED: "not_reproduced", FAILED: "failed"}
    assert {o.state for o in report.outcomes} == {TaskState.DONE}
    assert (report.resumed, report.stopped, report.regressions, report.exit_code) == (False, False, (), 0)
    assert progress.lines[0] == f"starting policy run {report.run_id}: 3 to replay of 3"
    assert any(f"{ids[FAILED]} v1: failed (" in line for line in progress.lines[1:]), progress.lines
    assert any(line.endswith(f"{ids[REPRODUCED]} v1: reproduced") for line in progress.lines[1:]), progress.lines
    assert all(line.startswith(("[1/3]", "[2/3]", "[3/3]")) for line in progress.lines[1:])
    shown = report.as_dict()
    assert shown["counts"]["done"] == 3 and shown["exit_code"] == 0 and shown["run"] == report.run_id
    assert shown["settings"]["executor"] == {"value": "local", "source": "flag"}
    assert shown["settings"]["workers"] == {"value": 1, "source": "policy"}
    for title, public_id in ids.items():
        (entry,) = package_history(repository, public_id)
        assert (entry.source, entry.govern_run) == ("govern", report.run_id), title
    with repository.catalog.session() as session:
        assert session.scalar(select(GovernRunRow.state).where(GovernRunRow.public_id == report.run_id)) == "finished"

    again = run_policy(repository, policy, GovernSettings.resolve(policy, executor="local"), Lines(), lambda: False)
    assert again.run_id != report.run_id and not again.resumed  # a finished run is never resumed: a new one starts
    assert all(len(package_history(repository, public_id)) == 2 for public_id in ids.values())


def test_a_run_stopped_before_every_dispatch_exits_130_and_the_next_resumes_it(govern_repository):
    repository, ids = govern_repository.repository, govern_repository.ids
    policy = make_policy("stoppable", select_=Selection(ids=(ids[REPRODUCED], ids[NOT_REPRODUCED])))
    settings = GovernSettings.resolve(policy, executor="local")
    asked = iter([False, True])  # the first task is dispatched, then a stop is requested
    stopped = run_policy(repository, policy, settings, Lines(), lambda: next(asked, True))
    assert (stopped.stopped, stopped.exit_code) == (True, 130)
    states = sorted(o.state.value for o in stopped.outcomes)
    assert states == ["done", "pending"]
    with repository.catalog.session() as session:
        assert session.scalar(select(GovernRunRow.state).where(GovernRunRow.public_id == stopped.run_id)) == "stopped"

    progress = Lines()
    resumed = run_policy(repository, policy, settings, progress, lambda: False)
    assert (resumed.run_id, resumed.resumed, resumed.exit_code) == (stopped.run_id, True, 0)
    assert progress.lines[0] == f"resuming policy run {stopped.run_id}: 1 to replay of 2"
    assert all(len(package_history(repository, ids[title])) == 1 for title in (REPRODUCED, NOT_REPRODUCED))


def test_a_policy_already_running_on_the_repository_is_refused(govern_repository):
    repository = govern_repository.repository
    policy = make_policy("busy")
    with policy_lock(repository.location, "busy"), pytest.raises(CannotRun, match="policy busy is already running"):
        run_policy(repository, policy, GovernSettings.resolve(policy, executor="local"), Lines(), lambda: False)


def test_a_bad_replay_setting_is_refused_before_any_run_is_opened(govern_repository):
    repository = govern_repository.repository
    config = user_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[replay]\nbackend = 'local'\nnonsense = 1\n")
    policy = make_policy("bad")
    with pytest.raises(BadInput, match="unknown replay setting 'nonsense'"):
        run_policy(repository, policy, GovernSettings.resolve(policy, executor="local"), Lines(), lambda: False)
    with repository.catalog.session() as session:
        assert session.scalars(select(GovernRunRow)).all() == []


def test_workers_below_one_are_refused():
    with pytest.raises(BadInput, match="--workers must be at least 1"):
        GovernSettings.resolve(make_policy(), workers=0)


def test_a_verdict_that_got_worse_is_a_regression_reported_and_alerted(govern_repository, tmp_path):
    repository, ids = govern_repository.repository, govern_repository.ids
    drifting = govern_repository.version_of(NOT_REPRODUCED)
    with repository.catalog.session(write=True) as session:  # an earlier replay (before 0002) had reproduced it
        session.add(
            GovernedRunRow(version_id=drifting.version_id, verdict="reproduced", record_sha256="e" * 64,
                           signature_verified=True, source="import", finished_at=EARLIER, imported_at=EARLIER)
        )  # fmt: skip
    alerts = tmp_path / "alerts.jsonl"
    policy = replace(make_policy("regressing"), alerts=AlertTargets(file=alerts))
    report = run_policy(repository, policy, GovernSettings.resolve(policy, executor="local"), Lines(), lambda: False)
    (regression,) = report.regressions
    assert (regression.public_id, regression.category) == (
        ids[NOT_REPRODUCED],
        RegressionCategory.REPRODUCIBILITY_DRIFT,
    )
    assert (regression.previous.verdict, regression.latest.verdict) == ("reproduced", "not_reproduced")
    assert report.exit_code == 1 and report.problems == ()
    (line,) = alerts.read_text().splitlines()
    alerted = json.loads(line)
    assert (
        alerted["id"] == ids[NOT_REPRODUCED] and alerted["category"] == RegressionCategory.REPRODUCIBILITY_DRIFT.value
    )
    assert alerts.stat().st_mode & 0o777 == 0o600


def test_a_policy_run_on_a_real_local_cluster_with_two_workers(govern_repository):
    repository, ids = govern_repository.repository, govern_repository.ids
    policy = make_policy("clustered", workers=2)
    report = run_policy(repository, policy, GovernSettings.resolve(policy), Lines(), lambda: False)
    assert report.settings.executor == "dask" and report.settings.workers == 2
    assert _verdicts(report, ids) == {REPRODUCED: "reproduced", NOT_REPRODUCED: "not_reproduced", FAILED: "failed"}
    assert sorted({o.key for o in report.outcomes}) == sorted(
        f"replay-{govern_repository.version_of(title).content_digest}-{report.run_id}" for title in ids
    )
