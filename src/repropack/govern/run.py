"""One policy run, start to end: lock the policy, select, open (or resume) the run, dispatch the replays, keep the
image cache bounded, mark the run, find regressions among its packages, send alerts.

What a caller may rely on: ``run_policy`` returns a ``GovernReport`` whose ``exit_code`` is 130 when it stopped
before dispatching every task, else 3 when a task could not run (infrastructure), else 1 when a package of the
run regressed, else 0. A second stop (KeyboardInterrupt) abandons the run: it is marked "stopped", its tasks stay
pending or running for the next run of the policy, and the KeyboardInterrupt goes on to the caller.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache, partial
from pathlib import Path
from typing import Any

from repropack.config import duration_in_seconds, size_in_bytes
from repropack.errors import BadInput
from repropack.fs.shown_paths import shown_path
from repropack.govern.alerts import send_alerts
from repropack.govern.executors import EXECUTORS
from repropack.govern.state import fail_task, finish_run, open_policy_run, policy_lock, run_outcomes
from repropack.govern.task import replay_settings_for, replay_task
from repropack.model.governance import Policy, Regression, TaskOutcome, TaskState
from repropack.progress import Progress
from repropack.repository.location import REPOSITORY_ENV, open_location
from repropack.repository.opened import Repository
from repropack.repository.regressions import find_regressions
from repropack.repository.selection import select_versions


@dataclass(frozen=True)
class GovernSettings:
    """How a policy run is dispatched; ``sources`` says where each value came from ("flag", "policy", "default")."""

    executor: str = "dask"
    scheduler: str | None = None
    workers: int = 2
    sources: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls, policy: Policy, *, executor: str | None = None, scheduler: str | None = None, workers: int | None = None
    ) -> GovernSettings:
        """The flags given (not None) over the policy's workers over the defaults."""
        if workers is not None and workers < 1:
            raise BadInput(f"--workers must be at least 1 (got {workers})")
        return cls(
            executor=executor or "dask",
            scheduler=scheduler,
            workers=workers if workers is not None else policy.workers,
            sources={
                "executor": "flag" if executor else "default",
                "scheduler": "flag" if scheduler else "default",
                "workers": "flag" if workers is not None else "policy",
            },
        )

    def describe(self) -> dict[str, dict[str, Any]]:
        values = {"executor": self.executor, "scheduler": self.scheduler, "workers": self.workers}
        return {name: {"value": value, "source": self.sources.get(name, "default")} for name, value in values.items()}


@dataclass(frozen=True)
class GovernReport:
    """What one policy run did: every task's outcome (also those a resumed run found ended) and the regressions."""

    run_id: str
    policy: Policy
    resumed: bool
    stopped: bool
    outcomes: tuple[TaskOutcome, ...]
    regressions: tuple[Regression, ...]
    settings: GovernSettings
    problems: tuple[str, ...] = ()  # alerts or cache bounds that failed, one line each
    repository: Mapping[str, Any] = field(default_factory=dict)  # Repository.settings_used(): what and from where

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return 130
        if any(not outcome.state.ended for outcome in self.outcomes):
            return 3
        if self.regressions:
            return 1
        return 0

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {state.value: 0 for state in TaskState}
        for outcome in self.outcomes:
            counts[outcome.state.value] += 1
        return {
            "run": self.run_id,
            "policy": {"name": self.policy.name, "source": str(self.policy.source), "sha256": self.policy.sha256},
            "resumed": self.resumed,
            "stopped": self.stopped,
            "counts": counts,
            "tasks": [outcome.as_dict() for outcome in self.outcomes],
            "regressions": [regression.as_dict() for regression in self.regressions],
            "problems": list(self.problems),
            "settings": {**self.settings.describe(), **self.repository},
            "exit_code": self.exit_code,
        }


def open_governed_repository(policy: Policy, flag: Path | None, catalog: str | None) -> Repository:
    """The repository a policy run governs: ``--repository`` (``flag``), then ``REPROPACK_REPOSITORY``, then the
    policy's own ``repository``, then the user config's and the default (as every repository command chooses).
    BadInput when the folder chosen is no repository."""
    if flag is None and not os.environ.get(REPOSITORY_ENV) and policy.repository is not None:
        location = open_location(policy.repository, catalog)
        return Repository(replace(location, source=f"policy {shown_path(policy.source)}"))
    return Repository.open(flag, catalog)


def run_policy(
    repository: Repository,
    policy: Policy,
    settings: GovernSettings,
    progress: Progress,
    should_stop: Callable[[], bool],
) -> GovernReport:
    """Run ``policy`` once against ``repository`` (see the module docstring)."""
    executor = EXECUTORS.get(settings.executor)(settings.scheduler)
    location = repository.location
    problems: list[str] = []
    with policy_lock(location, policy.name):
        selected = select_versions(repository, policy.select, datetime.now(timezone.utc))
        if selected:
            # Resolved once here: a bad setting is refused before any run is opened, and the signing key is made
            # (when missing) by this process alone, not raced for by every worker of a fresh machine.
            replay_settings_for(policy, selected[0].public_id)
        policy_run = open_policy_run(repository, policy, selected, settings.describe())
        progress.stage(
            f"{'resuming' if policy_run.resumed else 'starting'} policy run {policy_run.public_id}: "
            f"{len(policy_run.pending)} to replay of {policy_run.total}"
        )
        keep_cache = _cache_keeper(policy, problems, progress)
        dispatched: list[TaskOutcome] = []

        def arrived(outcome: TaskOutcome) -> None:
            if outcome.state is TaskState.INFRA_FAILED:
                # The executor's own INFRA_FAILED (a worker died, a bug): the worker could not record it.
                fail_task(repository, outcome.task_id, outcome.detail)
            dispatched.append(outcome)
            progress.stage(_line(outcome, len(dispatched), len(policy_run.pending)))
            keep_cache()

        try:
            executor.run(
                policy_run.pending,
                partial(replay_task, location, policy, retries=policy.retries),
                workers=settings.workers,
                retries=policy.retries,
                on_outcome=arrived,
                should_stop=should_stop,
            )
        except KeyboardInterrupt:
            finish_run(repository, policy_run.row_id, "stopped")
            raise
        stopped = len(dispatched) < len(policy_run.pending)
        finish_run(repository, policy_run.row_id, "stopped" if stopped else "finished")
        outcomes = tuple(run_outcomes(repository, policy_run.public_id))
        in_run = {outcome.public_id for outcome in outcomes}
        regressions = tuple(regression for regression in find_regressions(repository) if regression.public_id in in_run)
        problems.extend(send_alerts(policy.alerts, regressions, policy_run.public_id))
        for problem in problems:
            progress.detail(problem)
    return GovernReport(
        run_id=policy_run.public_id,
        policy=policy,
        resumed=policy_run.resumed,
        stopped=stopped,
        outcomes=outcomes,
        regressions=regressions,
        settings=settings,
        problems=tuple(problems),
        repository=repository.settings_used(),
    )


def _line(outcome: TaskOutcome, done: int, total: int) -> str:
    said = outcome.verdict or outcome.state.value
    why = outcome.cause or outcome.detail
    return f"[{done}/{total}] {outcome.public_id} v{outcome.version}: {said}" + (f" ({why})" if why else "")


def _cache_keeper(policy: Policy, problems: list[str], progress: Progress) -> Callable[[], None]:
    """What keeps the image cache within the policy's bounds after each replay (nothing off the docker backend)."""
    bounds = policy.cache
    if policy.replay.backend != "docker" or (bounds.keep_size is None and bounds.older_than is None):
        return lambda: None
    keep_size = size_in_bytes(bounds.keep_size) if bounds.keep_size is not None else None
    older_than = duration_in_seconds(bounds.older_than) if bounds.older_than is not None else None

    from repropack.sandbox.docker.cache import prune
    from repropack.sandbox.docker.engine import engine_client

    client = cache(engine_client)  # one client for the whole run, made at the first prune

    def keep() -> None:
        try:
            result = prune(client(), keep_size=keep_size, older_than=older_than, now=time.time())
        except Exception as error:  # a cache that cannot be pruned must not stop the run
            problem = f"cache bounds: {type(error).__name__}: {error}"
            if problem not in problems:
                problems.append(problem)
            return
        if result.removed:
            progress.detail(f"cache: freed {result.freed} bytes ({len(result.removed)} removed)")

    return keep
