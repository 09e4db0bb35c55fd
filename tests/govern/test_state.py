"""govern/state.py on real catalogs: opening and resuming policy runs, the task states and their guards, the policy
lock held and freed by real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from repropack.errors import BadInput, CannotRun
from repropack.govern.state import (
    claim_task,
    complete_task,
    fail_task,
    finish_run,
    lock_file,
    open_policy_run,
    policy_lock,
    refuse_task,
    release_task,
    run_outcomes,
    run_row_id,
    task_key,
    task_outcome,
)
from repropack.model.governance import TaskState
from repropack.model.results import ReplayedPackage, Verdict
from repropack.repository.catalog.tables import BlobRow, GovernedRunRow, GovernRunRow, GovernTaskRow, VersionRow
from repropack.repository.location import RepositoryLocation
from tests.govern.conftest import GovernedRepository, make_policy
from tests.samples import sample_replay_result

SETTINGS = {"workers": {"value": 2, "source": "policy"}}


def _result(verdict: Verdict = Verdict.REPRODUCED):
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    return sample_replay_result(
        package=ReplayedPackage(Path("/tmp/pkg"), "Study", "a" * 64),
        verdict=verdict,
        started=moment,
        ended=moment.replace(second=35),
    )


def _tasks(governed: GovernedRepository, run_id: int) -> dict[int, GovernTaskRow]:
    with governed.repository.catalog.session() as session:
        rows = session.execute(select(GovernTaskRow).where(GovernTaskRow.run_id == run_id)).scalars().all()
    return {row.id: row for row in rows}


# --- opening and resuming --------------------------------------------------------------------------


def test_a_new_run_has_one_pending_task_per_selected_version_with_stable_keys(govern_repository) -> None:
    governed = govern_repository
    policy = make_policy()
    doubled = (*governed.selected, governed.selected[0])  # a version selected twice is one task
    run = open_policy_run(governed.repository, policy, doubled, SETTINGS)
    assert not run.resumed and run.policy_name == "nightly"
    assert (run.total, run.ended_before) == (3, 0)
    assert [t.version_id for t in run.pending] == [s.version_id for s in governed.selected]
    for task, version in zip(run.pending, governed.selected):
        assert (
            task.key
            == task_key(version.content_digest, run.public_id)
            == f"replay-{version.content_digest}-{run.public_id}"
        )
        assert (task.public_id, task.version, task.title, task.run_id) == (
            version.public_id,
            version.version,
            version.title,
            run.public_id,
        )
    with governed.repository.catalog.session() as session:
        row = session.get(GovernRunRow, run.row_id)
    assert (row.state, row.policy_sha256, row.finished_at) == ("running", policy.sha256, None)
    assert json.loads(row.settings) == SETTINGS
    assert {t.state for t in _tasks(governed, run.row_id).values()} == {"pending"}
    assert run_row_id(governed.repository, run.public_id) == run.row_id


def test_a_killed_run_is_resumed_as_it_was_ended_tasks_left_alone_running_ones_pending_again(
    govern_repository_on,
) -> None:
    governed = govern_repository_on
    repository, policy = governed.repository, make_policy()
    first = open_policy_run(repository, policy, governed.selected, SETTINGS)
    done, refused, stale = first.pending
    claim_task(repository, done.task_id)
    assert complete_task(repository, done, first.row_id, _result(), "1" * 64, "key-1", None)
    claim_task(repository, refused.task_id)
    refuse_task(repository, refused.task_id, "hostile")
    assert claim_task(repository, stale.task_id) == 1  # ... and the process running it is killed here

    # Resumed: the selection given now is not used (no re-selection), nothing ended is redone.
    again = open_policy_run(repository, replace(policy, sha256="0" * 64), governed.selected[:1], {})
    assert again.resumed and (again.row_id, again.public_id) == (first.row_id, first.public_id)
    assert [t.task_id for t in again.pending] == [stale.task_id]
    assert again.pending[0] == stale
    assert (again.ended_before, again.total) == (2, 3)
    rows = _tasks(governed, first.row_id)
    assert (rows[stale.task_id].state, rows[stale.task_id].attempts) == ("pending", 0)
    assert rows[done.task_id].state == "done" and rows[refused.task_id].state == "refused"
    assert claim_task(repository, stale.task_id) == 1  # attempts count afresh in the resumed run


def test_a_stopped_run_is_resumed_and_an_infra_failed_task_tried_again(govern_repository) -> None:
    repository, policy = govern_repository.repository, make_policy()
    first = open_policy_run(repository, policy, govern_repository.selected, SETTINGS)
    failing = first.pending[1]
    claim_task(repository, failing.task_id)
    fail_task(repository, failing.task_id, "the engine is gone")
    finish_run(repository, first.row_id, "stopped")
    with repository.catalog.session() as session:
        assert session.get(GovernRunRow, first.row_id).finished_at is not None
    again = open_policy_run(repository, policy, (), SETTINGS)
    assert again.resumed and again.row_id == first.row_id
    assert [t.task_id for t in again.pending] == [t.task_id for t in first.pending]
    with repository.catalog.session() as session:
        row = session.get(GovernRunRow, first.row_id)
    assert (row.state, row.finished_at) == ("running", None)
    assert _tasks(govern_repository, first.row_id)[failing.task_id].detail == "the engine is gone"


def test_a_finished_run_is_never_resumed_and_another_policy_has_its_own_runs(govern_repository) -> None:
    repository = govern_repository.repository
    nightly = open_policy_run(repository, make_policy(), govern_repository.selected, SETTINGS)
    weekly = open_policy_run(repository, make_policy("weekly"), govern_repository.selected[:1], SETTINGS)
    assert not weekly.resumed and weekly.row_id != nightly.row_id and weekly.total == 1
    finish_run(repository, nightly.row_id, "finished")
    fresh = open_policy_run(repository, make_policy(), govern_repository.selected[:2], SETTINGS)
    assert not fresh.resumed and fresh.public_id != nightly.public_id and fresh.total == 2
    # The same package in another run has another key (the key is per policy run).
    assert fresh.pending[0].key != nightly.pending[0].key
    assert open_policy_run(repository, make_policy("weekly"), (), SETTINGS).row_id == weekly.row_id


def test_an_empty_selection_is_a_run_with_no_tasks(govern_repository) -> None:
    run = open_policy_run(govern_repository.repository, make_policy(), (), SETTINGS)
    assert (run.pending, run.total, run.ended_before) == ((), 0, 0)
    assert run_outcomes(govern_repository.repository, run.public_id) == []


def test_finish_run_takes_only_a_run_state(govern_repository) -> None:
    run = open_policy_run(govern_repository.repository, make_policy(), (), SETTINGS)
    with pytest.raises(ValueError, match="not 'done'"):
        finish_run(govern_repository.repository, run.row_id, "done")


# --- the task states -------------------------------------------------------------------------------


def test_completing_a_task_adds_its_governed_run_once_and_a_late_duplicate_is_discarded(govern_repository_on) -> None:
    governed = govern_repository_on
    repository = governed.repository
    run = open_policy_run(repository, make_policy(), governed.selected, SETTINGS)
    task = run.pending[0]
    assert claim_task(repository, task.task_id) == 1
    blob = ("b" * 64, 1234)
    assert complete_task(repository, task, run.row_id, _result(), "1" * 64, "key-1", blob) is True
    # The same task replayed again (Dask ran it twice): its result changes nothing, and it is not even claimed.
    assert complete_task(repository, task, run.row_id, _result(Verdict.FAILED), "2" * 64, "key-1", blob) is False
    assert claim_task(repository, task.task_id) == 0
    with repository.catalog.session() as session:
        runs = session.execute(select(GovernedRunRow).where(GovernedRunRow.version_id == task.version_id)).scalars()
        (governed_run,) = runs.all()
        row = session.get(GovernTaskRow, task.task_id)
        version = session.get(VersionRow, task.version_id)
        blobs = session.execute(select(BlobRow).where(BlobRow.sha256 == "b" * 64)).scalars().all()
    assert (row.state, row.attempts, row.governed_run_id) == ("done", 1, governed_run.id)
    assert (governed_run.source, governed_run.govern_run_id, governed_run.record_blob) == (
        "govern",
        run.row_id,
        "b" * 64,
    )
    assert (governed_run.verdict, governed_run.record_sha256, governed_run.signer) == ("reproduced", "1" * 64, "key-1")
    assert version.newest_verdict == "reproduced"
    assert [(b.sha256, b.size) for b in blobs] == [blob]
    outcome = task_outcome(repository, task.task_id)
    assert (outcome.state, outcome.verdict, outcome.record_sha256, outcome.seconds) == (
        TaskState.DONE,
        "reproduced",
        "1" * 64,
        30.0,
    )


def test_two_workers_completing_one_task_at_once_add_one_governed_run(govern_repository_on) -> None:
    governed = govern_repository_on
    repository = governed.repository
    run = open_policy_run(repository, make_policy(), governed.selected, SETTINGS)
    task = run.pending[0]
    claim_task(repository, task.task_id)
    start = threading.Barrier(2)
    answers: list[bool] = []

    def complete(record: str) -> None:
        start.wait()
        answers.append(complete_task(repository, task, run.row_id, _result(), record, None, None))

    threads = [threading.Thread(target=complete, args=(digit * 64,)) for digit in "34"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [False, True]
    with repository.catalog.session() as session:
        count = session.execute(select(GovernedRunRow.id).where(GovernedRunRow.govern_run_id == run.row_id)).all()
    assert len(count) == 1


def test_claims_count_attempts_and_each_state_change_keeps_its_detail(govern_repository) -> None:
    repository = govern_repository.repository
    run = open_policy_run(repository, make_policy(), govern_repository.selected, SETTINGS)
    first, second, third = run.pending
    assert claim_task(repository, first.task_id) == 1
    release_task(repository, first.task_id, "the engine is unavailable")
    assert task_outcome(repository, first.task_id).state is TaskState.PENDING
    assert claim_task(repository, first.task_id) == 2
    fail_task(repository, first.task_id, "x" * 5000)
    claim_task(repository, second.task_id)
    refuse_task(repository, second.task_id, "package failed its integrity check")
    outcomes = {o.task_id: o for o in run_outcomes(repository, run.public_id)}
    assert [o.task_id for o in run_outcomes(repository, run.public_id)] == [
        first.task_id,
        second.task_id,
        third.task_id,
    ]
    assert (outcomes[first.task_id].state, outcomes[first.task_id].attempts) == (TaskState.INFRA_FAILED, 2)
    assert len(outcomes[first.task_id].detail) == 2000 and outcomes[first.task_id].detail.endswith("…")
    assert outcomes[second.task_id].state is TaskState.REFUSED
    assert outcomes[second.task_id].detail == "package failed its integrity check"
    assert (outcomes[third.task_id].state, outcomes[third.task_id].attempts) == (TaskState.PENDING, 0)
    assert outcomes[third.task_id].verdict is None and outcomes[third.task_id].key == third.key


def test_no_state_change_moves_an_ended_task_back(govern_repository) -> None:
    repository = govern_repository.repository
    run = open_policy_run(repository, make_policy(), govern_repository.selected, SETTINGS)
    done, refused, _ = run.pending
    claim_task(repository, done.task_id)
    complete_task(repository, done, run.row_id, _result(), "5" * 64, None, None)
    claim_task(repository, refused.task_id)
    refuse_task(repository, refused.task_id, "hostile")
    for change in (release_task, fail_task, refuse_task):
        change(repository, done.task_id, "late")
        change(repository, refused.task_id, "late")
    assert claim_task(repository, refused.task_id) == 0
    assert not complete_task(repository, refused, run.row_id, _result(), "6" * 64, None, None)
    assert task_outcome(repository, done.task_id).state is TaskState.DONE
    assert task_outcome(repository, done.task_id).detail == ""
    assert (task_outcome(repository, refused.task_id).state, task_outcome(repository, refused.task_id).detail) == (
        TaskState.REFUSED,
        "hostile",
    )


def test_unknown_tasks_and_runs_are_bad_input(govern_repository) -> None:
    repository = govern_repository.repository
    with pytest.raises(BadInput, match="task 999999: no such governance task"):
        claim_task(repository, 999999)
    with pytest.raises(BadInput, match="task 999999: no such governance task"):
        task_outcome(repository, 999999)
    with pytest.raises(BadInput, match="run-nope: no such policy run"):
        run_outcomes(repository, "run-nope")
    with pytest.raises(BadInput, match="run-nope: no such policy run"):
        run_row_id(repository, "run-nope")


# --- the policy lock -------------------------------------------------------------------------------

_HOLDER = """
import sys, time
from pathlib import Path
from repropack.govern.state import policy_lock
from repropack.repository.location import RepositoryLocation
with policy_lock(RepositoryLocation(Path(sys.argv[1]), "sqlite://"), sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


def _take(location: RepositoryLocation, name: str) -> None:
    with policy_lock(location, name):
        pass


def _holder(root: Path, name: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root), name], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_the_lock_is_held_by_one_holder_and_names_its_pid(tmp_path: Path) -> None:
    location = RepositoryLocation(tmp_path, "sqlite://")
    with policy_lock(location, "nightly"):
        assert lock_file(location, "nightly").read_text() == f"{os.getpid()}\n"
        with pytest.raises(CannotRun, match=rf"^policy nightly is already running here \(pid {os.getpid()}\)$"):
            _take(location, "nightly")
        with policy_lock(location, "weekly"):  # another policy: its own lock
            pass
    with policy_lock(location, "nightly"):  # released at the end of the block
        pass
    assert lock_file(location, "nightly").read_text() == ""
    assert oct(os.stat(lock_file(location, "nightly")).st_mode & 0o777) == "0o600"


def test_a_lock_held_by_another_process_is_refused_and_freed_when_it_is_killed_9(tmp_path: Path) -> None:
    location = RepositoryLocation(tmp_path, "sqlite://")
    holder = _holder(tmp_path, "nightly")
    try:
        with pytest.raises(CannotRun, match=rf"policy nightly is already running here \(pid {holder.pid}\)"):
            _take(location, "nightly")
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    with policy_lock(location, "nightly"):  # no cleanup ran, and the lock is free
        assert lock_file(location, "nightly").read_text() == f"{os.getpid()}\n"


def test_a_hostile_policy_name_stays_in_the_govern_folder_and_names_never_share_a_lock(tmp_path: Path) -> None:
    location = RepositoryLocation(tmp_path / "repo", "sqlite://")
    (tmp_path / "repo").mkdir()
    names = ("../../escape", "a/b", "a_b", "nul\x00name", "." * 3, "x" * 500, "ünï")
    paths = {lock_file(location, name) for name in names}
    assert len(paths) == len(names)
    for name in names:
        path = lock_file(location, name)
        assert path.parent == tmp_path / "repo" / "govern" and len(path.name) < 100
        with policy_lock(location, name):
            assert path.is_file()
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["govern"]
    assert not (tmp_path / "escape.lock").exists()


def test_a_planted_link_is_never_followed(tmp_path: Path) -> None:
    location = RepositoryLocation(tmp_path / "repo", "sqlite://")
    target = tmp_path / "victim"
    target.write_text("keep me\n")
    (tmp_path / "repo" / "govern").mkdir(parents=True)
    lock_file(location, "nightly").symlink_to(target)
    with pytest.raises(CannotRun, match="cannot open the lock of policy nightly"):
        _take(location, "nightly")
    assert target.read_text() == "keep me\n"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = RepositoryLocation(tmp_path / "other", "sqlite://")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "govern").symlink_to(elsewhere)
    with pytest.raises(CannotRun, match="not a folder; the policy locks need it to be one"):
        _take(other, "nightly")
    assert list(elsewhere.iterdir()) == []


def test_the_lock_is_taken_at_once_not_waited_for(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "nightly")
    try:
        began = time.monotonic()
        with pytest.raises(CannotRun):
            _take(RepositoryLocation(tmp_path, "sqlite://"), "nightly")
        assert time.monotonic() - began < 2
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
