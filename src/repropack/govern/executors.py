"""How a policy run's tasks reach workers: a registry of executors, "dask" (a local or remote Dask cluster) and
"local" (in this process, one at a time: for debugging and tests).

What a caller may rely on, for every executor:

- ``run`` gives each task to ``work`` at most once per attempt, never more than ``workers`` at once, and checks
  ``should_stop`` before dispatching each task: once it says True nothing new is dispatched, the tasks already
  dispatched finish, and ``run`` returns their outcomes (the undispatched tasks have none: they stay pending).
- Only ``InfrastructureFailure`` is retried, at most ``retries`` more times; a task whose retries ran out, whose
  worker died, or whose ``work`` raised anything else comes back as an ``INFRA_FAILED`` outcome saying why.
  Every dispatched task gets exactly one outcome, passed to ``on_outcome`` as it arrives, in completion order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from repropack.errors import BadInput
from repropack.govern.failures import InfrastructureFailure
from repropack.model.governance import ReplayTask, TaskOutcome, TaskState
from repropack.plugins import Registry

Work = Callable[[ReplayTask], TaskOutcome]


class Executor(ABC):
    """Runs a policy run's tasks; ``scheduler`` is the address of a running scheduler, for executors with one."""

    name: ClassVar[str]

    def __init__(self, scheduler: str | None = None) -> None:
        self.scheduler = scheduler

    @abstractmethod
    def run(
        self,
        tasks: Sequence[ReplayTask],
        work: Work,
        *,
        workers: int,
        retries: int,
        on_outcome: Callable[[TaskOutcome], None],
        should_stop: Callable[[], bool],
    ) -> list[TaskOutcome]:
        """The outcomes of the dispatched tasks, in completion order (see the module docstring)."""


#: The executors ``repropack govern --executor`` accepts: the built-ins, then installed distributions'
#: ``repropack.executors`` entry points.
EXECUTORS: Registry[type[Executor]] = Registry(kind="executor", group="repropack.executors", built_in=(__name__,))


def infrastructure_failed(task: ReplayTask, attempts: int, detail: str) -> TaskOutcome:
    """The outcome of a task no worker answered for."""
    return TaskOutcome(
        task_id=task.task_id,
        key=task.key,
        public_id=task.public_id,
        version=task.version,
        state=TaskState.INFRA_FAILED,
        attempts=attempts,
        detail=detail[:2000],
    )


def guarded(work: Work, task: ReplayTask) -> TaskOutcome:
    """``work(task)``, raising nothing but ``InfrastructureFailure``: Dask retries whatever a task raises, and
    only an infrastructure failure deserves another attempt; any other error is this task's INFRA_FAILED outcome."""
    try:
        return work(task)
    except InfrastructureFailure:
        raise
    except Exception as error:
        return infrastructure_failed(task, 1, f"{type(error).__name__}: {error}")


def _check(workers: int, retries: int) -> None:
    if workers < 1:
        raise BadInput(f"workers must be at least 1 (got {workers})")
    if retries < 0:
        raise BadInput(f"retries must be 0 or more (got {retries})")


@EXECUTORS.register
class LocalExecutor(Executor):
    """Runs each task in this process, one after the other (``workers`` is ignored: it is always one)."""

    name = "local"

    def __init__(self, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise BadInput("the local executor takes no scheduler address")
        super().__init__(None)

    def run(
        self,
        tasks: Sequence[ReplayTask],
        work: Work,
        *,
        workers: int,
        retries: int,
        on_outcome: Callable[[TaskOutcome], None],
        should_stop: Callable[[], bool],
    ) -> list[TaskOutcome]:
        _check(workers, retries)
        outcomes: list[TaskOutcome] = []
        for task in tasks:
            if should_stop():
                break
            outcome = self._attempts(task, work, retries)
            outcomes.append(outcome)
            on_outcome(outcome)
        return outcomes

    @staticmethod
    def _attempts(task: ReplayTask, work: Work, retries: int) -> TaskOutcome:
        for attempt in range(1, retries + 2):
            try:
                return guarded(work, task)
            except InfrastructureFailure as failure:
                if attempt > retries:
                    return infrastructure_failed(task, attempt, str(failure))
        raise AssertionError("unreachable: the last attempt returns")


#: The Dask setting that turns the workers' statistical profiler off (DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED).
WORKER_PROFILER = "distributed.worker.profile.enabled"


@EXECUTORS.register
class DaskExecutor(Executor):
    """Runs tasks on Dask: a LocalCluster of ``workers`` single-threaded worker processes started for the run,
    or the cluster whose scheduler is at ``scheduler`` (a dask-jobqueue cluster, say), left running afterwards."""

    name = "dask"

    def run(
        self,
        tasks: Sequence[ReplayTask],
        work: Work,
        *,
        workers: int,
        retries: int,
        on_outcome: Callable[[TaskOutcome], None],
        should_stop: Callable[[], bool],
    ) -> list[TaskOutcome]:
        _check(workers, retries)
        if not tasks:
            return []
        # Imported here: the CLI's other commands need not pay for importing distributed.
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            import dask

            # The workers' statistical profiler samples every thread's stack each 10 ms: it made a small replay
            # about 8 % slower in a worker (bench/bench_govern.py). Nobody reads its profiles here.
            with dask.config.set({WORKER_PROFILER: False}):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
                )
            try:
                with Client(cluster) as client:
                    return self._dispatch(client, tasks, work, workers, retries, on_outcome, should_stop)
            finally:
                cluster.close()
        with Client(self.scheduler, timeout=30) as client:
            return self._dispatch(client, tasks, work, workers, retries, on_outcome, should_stop)

    @staticmethod
    def _dispatch(client, tasks, work, workers, retries, on_outcome, should_stop) -> list[TaskOutcome]:
        from distributed import as_completed

        waiting = list(reversed(tasks))
        by_key: dict[str, ReplayTask] = {}
        outcomes: list[TaskOutcome] = []

        def submit_next(pending) -> None:
            if waiting and not should_stop():
                task = waiting.pop()
                by_key[task.key] = task
                # key: the task's stable key, so a resumed run's replay of the same package reuses the same name;
                # pure=False: a replay is never a cached function of its arguments.
                pending.add(client.submit(guarded, work, task, key=task.key, retries=retries, pure=False))

        running = as_completed()
        # Only `workers` in flight: a stop request then leaves every task not yet dispatched alone.
        for _ in range(workers):
            submit_next(running)
        for future in running:
            task = by_key[future.key]
            try:
                outcome = future.result()
            except InfrastructureFailure as failure:
                outcome = infrastructure_failed(task, retries + 1, str(failure))
            except Exception as error:
                outcome = infrastructure_failed(task, retries + 1, f"{type(error).__name__}: {error}")
            finally:
                future.release()
            outcomes.append(outcome)
            on_outcome(outcome)
            submit_next(running)
        return outcomes
