"""What a worker runs for one task of a policy run: the same replay as ``repropack replay``, of a version checked
out of the repository, its signed record kept in the store and added to the package's history.

What a caller may rely on (``replay_task``):

- A verdict (reproduced, not reproduced or failed, whatever its cause) is DONE; a package refused as bad or
  hostile input is REFUSED; neither raises.
- ``InfrastructureFailure`` is raised only when the infrastructure failed (the engine or the build machinery
  could not run: CannotRun; the host's disk or quota is full) and the task has attempts left: it is pending
  again then. Past its retries it is INFRA_FAILED, an outcome; so is an unexpected error, or a record that could
  not be kept (never retried: the detail says what).
- Nothing is left behind in the repository's staging folder, whatever happened.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import replace
from pathlib import Path

from repropack.config import ReplaySettings, Resolved, resolve_replay_settings
from repropack.errors import BadInput, CannotRun
from repropack.govern.failures import InfrastructureFailure
from repropack.govern.state import (
    claim_task,
    complete_task,
    fail_task,
    refuse_task,
    release_task,
    run_row_id,
    task_outcome,
)
from repropack.model.governance import Policy, ReplayTask, TaskOutcome, TaskState
from repropack.model.results import ReplayResult
from repropack.record.keys import signing_key
from repropack.record.opened import open_record
from repropack.replay.pipeline import replay_package
from repropack.repository.checkout import checkout
from repropack.repository.history import store_record
from repropack.repository.location import RepositoryLocation
from repropack.repository.opened import Repository
from repropack.repository.queries import Ref
from repropack.repository.staging import private_folder

__all__ = ["InfrastructureFailure", "replay_settings_for", "replay_task"]

#: Where a setting came from, in the record, when the policy gave it.
POLICY_SOURCE = "policy"
#: Errors of the host, not of the package: another attempt may well succeed.
_HOST_FULL = (errno.ENOSPC, errno.EDQUOT)


def replay_settings_for(policy: Policy, public_id: str) -> Resolved[ReplaySettings]:
    """The replay settings of ``policy`` for the package ``public_id``: the policy's ``[replay]`` values (source
    "policy") over the user config's ``[replay]`` table over the defaults. Restricted inputs come from
    ``per_package/<public_id>`` when that folder exists, else from ``shared``; encrypted ones with ``identity``.
    The signing key is resolved now (the user's default is made if missing), so workers never race to make it.
    BadInput for a user config or policy value replay refuses."""
    options = policy.replay
    inputs = _inputs_folder(policy, public_id)
    flags = {
        "backend": options.backend,
        "offline": options.offline or None,
        "base_image": options.base_image,
        "timeout": options.timeout,
        "total_timeout": options.total_timeout,
        "build_timeout": options.build_timeout,
        "memory": options.memory,
        "disk": options.disk,
        "compare": options.compare or None,
        "inputs_dir": inputs,
        "identity": str(policy.inputs.identity) if policy.inputs.identity else None,
    }
    resolved = resolve_replay_settings(flags)
    sources = {name: POLICY_SOURCE if source == "flag" else source for name, source in resolved.sources.items()}
    values = replace(resolved.values, key=signing_key(resolved.values.key))
    if options.network:
        values = replace(values, limits=replace(values.limits, network=True))
        sources["network"] = POLICY_SOURCE
    return Resolved(values, sources)


def _inputs_folder(policy: Policy, public_id: str) -> Path | None:
    per_package = policy.inputs.per_package
    # A public id is a plain name (repository/queries.py); checked again so none can name a folder elsewhere.
    if (
        per_package is not None
        and public_id not in ("", ".", "..")
        and "/" not in public_id
        and "\x00" not in public_id
    ):
        own = per_package / public_id
        if own.is_dir():
            return own
    return policy.inputs.shared


def replay_task(location: RepositoryLocation, policy: Policy, task: ReplayTask, retries: int) -> TaskOutcome:
    """Replay ``task``'s version as ``policy`` says and keep what became of it (see the module docstring).

    The version is checked out into a private folder in the repository's staging folder (named for this
    process, so a later sweep removes it should the worker be killed), replayed there with its record beside
    it; the record's zip goes into the store and the task is completed with its governed run. ``retries``: the
    attempts an infrastructure failure may have after the first. A task ended already (a duplicate dispatch)
    is not replayed again: its outcome is returned as it stands. A BadInput of the settings (the user config)
    is raised before the task is claimed: it is no package's fault.
    """
    resolved = replay_settings_for(policy, task.public_id)
    with Repository(location) as repository:
        run_row = run_row_id(repository, task.run_id)
        attempts = claim_task(repository, task.task_id)
        if attempts == 0:
            return task_outcome(repository, task.task_id)
        started = time.monotonic()

        def ended(state: TaskState, **facts) -> TaskOutcome:
            seconds = time.monotonic() - started
            return TaskOutcome(
                task.task_id, task.key, task.public_id, task.version, state, attempts=attempts, seconds=seconds, **facts
            )

        try:
            kept = _replay_and_keep(repository, task, run_row, resolved)
        except _Unkept as error:
            fail_task(repository, task.task_id, str(error))
            return ended(TaskState.INFRA_FAILED, detail=str(error))
        except BadInput as error:
            refuse_task(repository, task.task_id, str(error))
            return ended(TaskState.REFUSED, detail=str(error))
        except Exception as error:
            detail = _infrastructure_detail(error)
            if detail is not None and attempts <= retries:
                release_task(repository, task.task_id, detail)
                raise InfrastructureFailure(detail) from None
            detail = detail or f"unexpected {type(error).__name__}: {error}"  # a bug: another attempt would not help
            fail_task(repository, task.task_id, detail)
            return ended(TaskState.INFRA_FAILED, detail=detail)
        if kept is None:
            return replace(task_outcome(repository, task.task_id), attempts=attempts, detail=_DUPLICATE)
        result, record_sha256 = kept
        cause = str(result.cause) if result.cause else None
        return ended(TaskState.DONE, verdict=result.verdict.value, cause=cause, record_sha256=record_sha256)


_DUPLICATE = "this task was done already: this replay of it was discarded"


class _Unkept(Exception):
    """The replay ran, and its record (this code's own writing) could not be kept: no refusal of the package."""


def _replay_and_keep(
    repository: Repository, task: ReplayTask, run_row: int, resolved: Resolved[ReplaySettings]
) -> tuple[ReplayResult, str] | None:
    """The replay's result and its record's sha256, its governed run added; None when the task was done already.
    BadInput: the package was refused (checkout or replay)."""
    with private_folder(repository.location) as folder:
        package, record = folder / "package", folder / "record"
        checkout(repository, Ref(task.public_id, task.version), package)
        settings = replace(resolved.values, record=record, report=None)
        result = replay_package(package, settings, sources=resolved.sources)
        try:
            opened = open_record(record)
            blob = store_record(repository, record)
        except BadInput as error:
            raise _Unkept(f"the record of this replay could not be kept: {error}") from None
        done = complete_task(repository, task, run_row, result, opened.signature_sha256, opened.key_id, blob)
    return (result, opened.signature_sha256) if done else None


def _infrastructure_detail(error: Exception) -> str | None:
    """What failed, when ``error`` is the infrastructure's (worth another attempt); None for anything else."""
    if isinstance(error, CannotRun):
        return str(error)
    if isinstance(error, OSError) and error.errno in _HOST_FULL:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or os.strerror(error.errno)} on this host"
    return None
