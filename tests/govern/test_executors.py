"""The executors on a real Dask LocalCluster (worker processes) and in process, with trivial picklable tasks."""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from pathlib import Path

import pytest
from distributed import LocalCluster

from repropack.errors import BadInput
from repropack.govern.executors import EXECUTORS, DaskExecutor, LocalExecutor
from repropack.govern.failures import InfrastructureFailure
from repropack.model.governance import ReplayTask, TaskOutcome, TaskState


def make_tasks(count: int) -> list[ReplayTask]:
    run = uuid.uuid4().hex[:8]
    return [
        ReplayTask(
            key=f"replay-{index:064x}-{run}",
            run_id=run,
            task_id=index,
            version_id=index,
            public_id=f"pkg-{index}",
            version=1,
            title=f"package {index}",
            content_digest=f"{index:064x}",
        )
        for index in range(count)
    ]


def done(task: ReplayTask, detail: str = "") -> TaskOutcome:
    return TaskOutcome(
        task_id=task.task_id,
        key=task.key,
        public_id=task.public_id,
        version=task.version,
        state=TaskState.DONE,
        verdict="reproduced",
        detail=detail,
    )


def where_it_ran(task: ReplayTask) -> TaskOutcome:
    from distributed import get_worker

    return done(task, json.dumps({"pid": os.getpid(), "key": get_worker().get_current_task()}))


def timed(folder: str, task: ReplayTask) -> TaskOutcome:
    started = time.time()
    time.sleep(0.4)
    Path(folder, f"{task.task_id}.json").write_text(json.dumps([started, time.time()]))
    return done(task)


def count_attempt(folder: str, task: ReplayTask) -> int:
    marks = Path(folder, f"{task.task_id}.attempts")
    with marks.open("a") as file:
        file.write("x")
    return len(marks.read_text())


def flaky(folder: str, failures: int, task: ReplayTask) -> TaskOutcome:
    if count_attempt(folder, task) <= failures:
        raise InfrastructureFailure(f"engine unavailable for {task.public_id}")
    return done(task)


def buggy(folder: str, task: ReplayTask) -> TaskOutcome:
    count_attempt(folder, task)
    raise ValueError("a bug in the task")


def attempts_made(folder: Path, task: ReplayTask) -> int:
    return len((folder / f"{task.task_id}.attempts").read_text())


def nothing(_: TaskOutcome) -> None:
    pass


def never() -> bool:
    return False


@pytest.fixture(scope="module")
def scheduler():
    """A cluster of three workers: more than the runs below ask for, so the in-flight bound is the executor's."""
    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        yield cluster.scheduler_address


def test_the_registry_has_both_built_ins():
    assert EXECUTORS.names()[:2] == ["local", "dask"]
    assert EXECUTORS.get("dask") is DaskExecutor
    with pytest.raises(BadInput, match="unknown executor 'nope'"):
        EXECUTORS.get("nope")


def test_dask_runs_on_its_own_cluster_of_worker_processes_under_the_stable_keys():
    tasks = make_tasks(4)
    seen: list[TaskOutcome] = []
    outcomes = DaskExecutor().run(tasks, where_it_ran, workers=2, retries=0, on_outcome=seen.append, should_stop=never)
    assert seen == outcomes
    assert sorted(outcome.key for outcome in outcomes) == sorted(task.key for task in tasks)
    details = [json.loads(outcome.detail) for outcome in outcomes]
    assert {detail["key"] for detail in details} == {task.key for task in tasks}
    assert all(detail["pid"] != os.getpid() for detail in details)
    assert len({detail["pid"] for detail in details}) <= 2


def test_dask_keeps_at_most_workers_tasks_in_flight(scheduler, tmp_path):
    tasks = make_tasks(6)
    outcomes = DaskExecutor(scheduler).run(
        tasks, functools.partial(timed, str(tmp_path)), workers=2, retries=0, on_outcome=nothing, should_stop=never
    )
    assert [outcome.state for outcome in outcomes] == [TaskState.DONE] * 6
    spans = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    most_at_once = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert most_at_once == 2


def test_dask_retries_an_infrastructure_failure_and_then_gives_it_up(scheduler, tmp_path):
    recovers, gives_up = make_tasks(2)
    work = functools.partial(flaky, str(tmp_path), 2)
    outcomes = DaskExecutor(scheduler).run(
        [recovers], work, workers=2, retries=2, on_outcome=nothing, should_stop=never
    ) + DaskExecutor(scheduler).run([gives_up], work, workers=2, retries=1, on_outcome=nothing, should_stop=never)
    assert [outcome.state for outcome in outcomes] == [TaskState.DONE, TaskState.INFRA_FAILED]
    assert attempts_made(tmp_path, recovers) == 3
    assert attempts_made(tmp_path, gives_up) == 2
    assert outcomes[1].attempts == 2
    assert outcomes[1].detail == "engine unavailable for pkg-1"


def test_dask_never_retries_any_other_error(scheduler, tmp_path):
    [task] = make_tasks(1)
    [outcome] = DaskExecutor(scheduler).run(
        [task], functools.partial(buggy, str(tmp_path)), workers=1, retries=3, on_outcome=nothing, should_stop=never
    )
    assert outcome.state is TaskState.INFRA_FAILED
    assert outcome.detail == "ValueError: a bug in the task"
    assert attempts_made(tmp_path, task) == 1


def test_dask_dispatches_nothing_new_once_asked_to_stop(scheduler, tmp_path):
    tasks = make_tasks(6)
    seen: list[TaskOutcome] = []
    outcomes = DaskExecutor(scheduler).run(
        tasks,
        functools.partial(timed, str(tmp_path)),
        workers=2,
        retries=0,
        on_outcome=seen.append,
        should_stop=lambda: bool(seen),
    )
    # The two in flight when the first came back both finish; the other four are never started.
    assert len(outcomes) == 2
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert {outcome.task_id for outcome in outcomes} == {0, 1}


def test_an_empty_run_starts_no_cluster():
    assert (
        DaskExecutor("tcp://127.0.0.1:1").run([], done, workers=2, retries=0, on_outcome=nothing, should_stop=never)
        == []
    )


def test_local_runs_one_at_a_time_in_this_process_with_the_same_retry_rules(tmp_path):
    recovers, gives_up, broken = make_tasks(3)
    executor = LocalExecutor()
    seen: list[TaskOutcome] = []
    outcomes = executor.run(
        [recovers, gives_up],
        functools.partial(flaky, str(tmp_path), 1),
        workers=4,
        retries=1,
        on_outcome=seen.append,
        should_stop=never,
    )
    assert [outcome.state for outcome in outcomes] == [TaskState.DONE, TaskState.DONE]
    [failed] = executor.run(
        [broken],
        functools.partial(flaky, str(tmp_path), 5),
        workers=1,
        retries=2,
        on_outcome=seen.append,
        should_stop=never,
    )
    assert failed.state is TaskState.INFRA_FAILED and failed.attempts == 3
    assert attempts_made(tmp_path, broken) == 3
    assert seen == [*outcomes, failed]
    [bug] = executor.run(
        [recovers], functools.partial(buggy, str(tmp_path)), workers=1, retries=2, on_outcome=nothing, should_stop=never
    )
    assert bug.state is TaskState.INFRA_FAILED and bug.detail.startswith("ValueError")


def test_local_stops_between_tasks():
    seen: list[TaskOutcome] = []
    outcomes = LocalExecutor().run(
        make_tasks(3), done, workers=1, retries=0, on_outcome=seen.append, should_stop=lambda: len(seen) == 1
    )
    assert len(outcomes) == 1


@pytest.mark.parametrize("workers, retries, message", [(0, 0, "workers must be at least 1"), (1, -1, "retries")])
@pytest.mark.parametrize("executor", [LocalExecutor, DaskExecutor])
def test_bad_worker_or_retry_counts_are_refused(executor, workers, retries, message):
    with pytest.raises(BadInput, match=message):
        executor().run(make_tasks(1), done, workers=workers, retries=retries, on_outcome=nothing, should_stop=never)


def test_the_local_executor_takes_no_scheduler():
    with pytest.raises(BadInput, match="no scheduler"):
        LocalExecutor("tcp://127.0.0.1:8786")


def profiler_setting(task: ReplayTask) -> TaskOutcome:
    import dask

    from repropack.govern.executors import WORKER_PROFILER

    return done(task, json.dumps(dask.config.get(WORKER_PROFILER)))


def test_the_local_cluster_workers_run_without_dasks_profiler():
    # Its stack sampling every 10 ms made a small replay 8 % slower in a worker (bench/bench_govern.py).
    (outcome,) = DaskExecutor(None).run(
        make_tasks(1), profiler_setting, workers=1, retries=0, on_outcome=lambda o: None, should_stop=lambda: False
    )
    assert json.loads(outcome.detail) is False
