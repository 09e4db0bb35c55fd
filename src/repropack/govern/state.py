"""The durable state of ``repropack govern``: one policy run at a time per policy, its tasks, how far each got.

What a caller may rely on:

- ``policy_lock`` lets one process at a time run a policy on a repository (an ``flock`` the kernel drops
  however the holder dies, ``kill -9`` included); ``open_policy_run`` must be called under it.
- ``open_policy_run`` resumes the newest run of the policy that did not finish: its tasks stay as they were (no
  new selection), those that had ended (done or refused) are left alone, the others are pending again. Else it
  starts a run with one task per selected version.
- A task is done once only: ``complete_task`` marks it done and adds its governed run in one transaction, and a
  late duplicate (a replay Dask ran twice) changes nothing. No writer here moves an ended task back.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from repropack.errors import BadInput, CannotRun
from repropack.fs.shown_paths import shown_path
from repropack.model.governance import Policy, ReplayTask, TaskOutcome, TaskState
from repropack.model.results import ReplayResult
from repropack.repository.catalog.tables import GovernedRunRow, GovernRunRow, GovernTaskRow, PackageRow, VersionRow
from repropack.repository.history import add_governed_run
from repropack.repository.location import RepositoryLocation
from repropack.repository.opened import Repository
from repropack.repository.queries import utc
from repropack.repository.selection import SelectedVersion

#: The folder inside a repository holding one lock file per policy.
GOVERN_FOLDER = "govern"
#: The states of a policy run (``govern_runs.state``).
RUN_STATES = ("running", "finished", "stopped")
_DETAIL_CHARS = 2000
_PID_BYTES = 32
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ENDED = tuple(state.value for state in TaskState if state.ended)


# --- the policy's lock ---------------------------------------------------------------------------


def lock_file(location: RepositoryLocation, policy_name: str) -> Path:
    """The lock file of ``policy_name``: its name as it is when plain, else a safe form of it and a digest of
    the whole name (so no name reaches outside the folder and two names never share a lock)."""
    if _PLAIN_NAME.fullmatch(policy_name):
        stem = policy_name
    else:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", policy_name)[:48].strip("_") or "policy"
        stem = f"{safe}-{hashlib.sha256(policy_name.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"
    return location.root / GOVERN_FOLDER / f"{stem}.lock"


@contextmanager
def policy_lock(location: RepositoryLocation, policy_name: str) -> Iterator[None]:
    """Hold ``policy_name``'s lock on this repository for the ``with`` block; the file holds the holder's pid.

    CannotRun "policy NAME is already running here (pid N)" when another process (or another ``with`` in this
    one) holds it; CannotRun when the lock file cannot be made (a link planted in its place is never followed).
    """
    path = lock_file(location, policy_name)
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            raise CannotRun(f"{shown_path(folder)}: not a folder; the policy locks need it to be one")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise CannotRun(f"{shown_path(path)}: cannot open the lock of policy {policy_name}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise CannotRun(f"{shown_path(path)}: cannot lock policy {policy_name}: {error.strerror}") from None
            raise CannotRun(f"policy {policy_name} is already running here (pid {_holder(fd)})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still under the lock: the next holder never reads a stale pid
    finally:
        os.close(fd)  # drops the lock


def _holder(fd: int) -> str:
    """The pid the lock file names, or "unknown" (the holder is between taking the lock and writing it)."""
    text = os.pread(fd, _PID_BYTES, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


# --- a policy run and its tasks ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRun:
    """A policy run opened for dispatch. ``pending``: the tasks to dispatch, in the order they were selected;
    ``ended_before``: tasks that had ended (done or refused) before it was opened; ``total``: all its tasks."""

    row_id: int  # govern_runs.id
    public_id: str
    policy_name: str
    resumed: bool
    pending: tuple[ReplayTask, ...]
    ended_before: int
    total: int


def task_key(content_digest: str, run_public_id: str) -> str:
    """The stable Dask key of a task: the same package content in the same policy run is the same key."""
    return f"replay-{content_digest}-{run_public_id}"


def open_policy_run(
    repository: Repository, policy: Policy, selected: Sequence[SelectedVersion], settings: Mapping[str, Any]
) -> PolicyRun:
    """Resume the newest run of ``policy.name`` that did not finish, else start one with a task per version of
    ``selected`` (a version selected twice is one task). Call it holding ``policy_lock``: a task a killed run
    left running is taken to be nobody's. Every task made pending again starts counting its attempts afresh.
    ``settings`` (JSON-able: name -> {"value", "source"}) is kept with a new run."""
    now = _now()
    with repository.catalog.session(write=True) as session:
        unfinished = session.execute(
            select(GovernRunRow)
            .where(GovernRunRow.policy_name == policy.name, GovernRunRow.state != "finished")
            .order_by(GovernRunRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if unfinished is not None:
            run, resumed = unfinished, True
            run.state, run.finished_at = "running", None
            session.execute(
                update(GovernTaskRow)
                .where(GovernTaskRow.run_id == run.id, GovernTaskRow.state.notin_(_ENDED))
                .values(state=TaskState.PENDING.value, attempts=0, updated_at=now)
            )
        else:
            run, resumed = _new_run(session, policy, selected, settings, now), False
        rows = session.execute(_tasks_query().where(GovernTaskRow.run_id == run.id).order_by(GovernTaskRow.id)).all()
    pending = tuple(_task(run.public_id, *row) for row in rows if row[0].state not in _ENDED)
    return PolicyRun(
        row_id=run.id,
        public_id=run.public_id,
        policy_name=run.policy_name,
        resumed=resumed,
        pending=pending,
        ended_before=len(rows) - len(pending),
        total=len(rows),
    )


def _new_run(
    session: Session,
    policy: Policy,
    selected: Sequence[SelectedVersion],
    settings: Mapping[str, Any],
    now: datetime,
) -> GovernRunRow:
    run = GovernRunRow(
        public_id=f"run-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}",
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        state="running",
        started_at=now,
        settings=json.dumps(dict(settings), sort_keys=True, default=str),
        host=socket.gethostname(),
    )
    session.add(run)
    session.flush()
    seen: set[int] = set()
    for version in selected:
        if version.version_id in seen:
            continue
        seen.add(version.version_id)
        session.add(
            GovernTaskRow(
                run_id=run.id,
                version_id=version.version_id,
                key=task_key(version.content_digest, run.public_id),
                state=TaskState.PENDING.value,
                attempts=0,
                detail="",
                updated_at=now,
            )
        )
    session.flush()
    return run


def _tasks_query():
    return (
        select(GovernTaskRow, PackageRow.public_id, VersionRow.number, VersionRow.title, VersionRow.content_digest)
        .join(VersionRow, VersionRow.id == GovernTaskRow.version_id)
        .join(VersionRow.package)
    )


def _task(
    run_public_id: str, row: GovernTaskRow, public_id: str, number: int, title: str, content_digest: str
) -> ReplayTask:
    return ReplayTask(
        key=row.key,
        run_id=run_public_id,
        task_id=row.id,
        version_id=row.version_id,
        public_id=public_id,
        version=number,
        title=title,
        content_digest=content_digest,
    )


def claim_task(repository: Repository, task_id: int) -> int:
    """Mark the task running and count the attempt; returns its attempts since its run was opened, or 0 when
    the task has ended already (a duplicate dispatch: there is nothing to do). BadInput for an unknown task."""
    with repository.catalog.session(write=True) as session:
        changed = session.execute(
            update(GovernTaskRow)
            .where(GovernTaskRow.id == task_id, GovernTaskRow.state.notin_(_ENDED))
            .values(state=TaskState.RUNNING.value, attempts=GovernTaskRow.attempts + 1, updated_at=_now())
        ).rowcount
        attempts = session.execute(select(GovernTaskRow.attempts).where(GovernTaskRow.id == task_id)).scalar()
    if attempts is None:
        raise BadInput(f"task {task_id}: no such governance task in this repository")
    return attempts if changed else 0


def complete_task(
    repository: Repository,
    task: ReplayTask,
    run_row_id: int,
    result: ReplayResult,
    record_sha256: str,
    signer: str | None,
    record_blob: tuple[str, int] | None,
) -> bool:
    """In one transaction: mark the task done and add its governed run (source "govern", linked to the policy
    run ``run_row_id``, the record's zip ``record_blob`` listed in ``blobs``). False, and nothing written, when
    the task had ended already: a late duplicate is discarded."""
    now = _now()
    with repository.catalog.session(write=True) as session:
        changed = session.execute(
            update(GovernTaskRow)
            .where(GovernTaskRow.id == task.task_id, GovernTaskRow.state.notin_(_ENDED))
            .values(state=TaskState.DONE.value, detail="", updated_at=now)
        ).rowcount
        if not changed:
            return False
        run = add_governed_run(
            session,
            task.version_id,
            result,
            record_sha256=record_sha256,
            signer=signer,
            source="govern",
            record_blob=record_blob,
            govern_run_id=run_row_id,
            now=now,
        )
        session.flush()
        session.execute(update(GovernTaskRow).where(GovernTaskRow.id == task.task_id).values(governed_run_id=run.id))
    return True


def refuse_task(repository: Repository, task_id: int, detail: str) -> None:
    """The package was refused as bad or hostile input: the task has ended and is never retried."""
    _set_state(repository, task_id, TaskState.REFUSED, detail)


def release_task(repository: Repository, task_id: int, detail: str) -> None:
    """The infrastructure failed (``detail`` says how): the task is pending again, for another attempt."""
    _set_state(repository, task_id, TaskState.PENDING, detail)


def fail_task(repository: Repository, task_id: int, detail: str) -> None:
    """The infrastructure failed past the retries, or the task's worker never answered: INFRA_FAILED (a resumed
    run tries it again). Leaves an ended task as it is, so it is safe for any outcome a dispatcher made up."""
    _set_state(repository, task_id, TaskState.INFRA_FAILED, detail)


def _set_state(repository: Repository, task_id: int, state: TaskState, detail: str) -> None:
    with repository.catalog.session(write=True) as session:
        session.execute(
            update(GovernTaskRow)
            .where(GovernTaskRow.id == task_id, GovernTaskRow.state.notin_(_ENDED))
            .values(state=state.value, detail=_bounded(detail), updated_at=_now())
        )


def finish_run(repository: Repository, run_row_id: int, state: str) -> None:
    """Set the policy run's state: "finished" (a later run starts afresh), "stopped" (the next run resumes it),
    or "running"; a finished or stopped run gets its ``finished_at``."""
    if state not in RUN_STATES:
        raise ValueError(f"a policy run's state is one of {', '.join(RUN_STATES)}, not {state!r}")
    with repository.catalog.session(write=True) as session:
        session.execute(
            update(GovernRunRow)
            .where(GovernRunRow.id == run_row_id)
            .values(state=state, finished_at=None if state == "running" else _now())
        )


def run_row_id(repository: Repository, run_public_id: str) -> int:
    """The ``govern_runs.id`` of the policy run ``run_public_id`` (BadInput for one this repository does not hold)."""
    with repository.catalog.session() as session:
        found = session.execute(select(GovernRunRow.id).where(GovernRunRow.public_id == run_public_id)).scalar()
    if found is None:
        raise BadInput(f"{run_public_id}: no such policy run in this repository")
    return found


def run_outcomes(repository: Repository, run_public_id: str) -> list[TaskOutcome]:
    """What became of each task of the policy run ``run_public_id``, in the order they were selected (a task not
    dispatched yet is PENDING). BadInput for a run this repository does not hold."""
    run_id = run_row_id(repository, run_public_id)
    with repository.catalog.session() as session:
        rows = session.execute(_outcomes_query().where(GovernTaskRow.run_id == run_id).order_by(GovernTaskRow.id)).all()
    return [_outcome(*row) for row in rows]


def task_outcome(repository: Repository, task_id: int) -> TaskOutcome:
    """What became of one task so far (BadInput for an unknown task)."""
    with repository.catalog.session() as session:
        row = session.execute(_outcomes_query().where(GovernTaskRow.id == task_id)).first()
    if row is None:
        raise BadInput(f"task {task_id}: no such governance task in this repository")
    return _outcome(*row)


def _outcomes_query():
    return (
        select(GovernTaskRow, PackageRow.public_id, VersionRow.number, GovernedRunRow)
        .join(VersionRow, VersionRow.id == GovernTaskRow.version_id)
        .join(VersionRow.package)
        .outerjoin(GovernedRunRow, GovernedRunRow.id == GovernTaskRow.governed_run_id)
    )


def _outcome(row: GovernTaskRow, public_id: str, number: int, run: GovernedRunRow | None) -> TaskOutcome:
    seconds = 0.0
    if run is not None and run.started_at is not None and run.finished_at is not None:
        seconds = max((utc(run.finished_at) - utc(run.started_at)).total_seconds(), 0.0)
    return TaskOutcome(
        task_id=row.id,
        key=row.key,
        public_id=public_id,
        version=number,
        state=TaskState(row.state),
        verdict=run.verdict if run else None,
        cause=run.cause if run else None,
        record_sha256=run.record_sha256 if run else None,
        attempts=row.attempts,
        seconds=seconds,
        detail=row.detail,
    )


def _bounded(detail: str) -> str:
    return detail if len(detail) <= _DETAIL_CHARS else detail[: _DETAIL_CHARS - 1] + "…"


def _now() -> datetime:
    return datetime.now(timezone.utc)
