"""What ``repropack govern`` works with: a policy, the tasks of one policy run, their outcomes, a package's
history of governed runs, and the regressions found in it. Plain frozen dataclasses, no I/O.

A *policy* (``govern/policy.py`` reads one from TOML) says which packages to replay, how, how many at once,
where restricted inputs come from and where alerts go. A *policy run* replays what it selected once; its
state lives in the catalog (``govern_runs``, ``govern_tasks``), so a killed run is resumed, never redone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Selection:
    """Which package versions a policy replays: every given criterion must hold (an empty policy selects all).

    Durations are in seconds. ``last_verdict`` holds verdict values and "never" (never replayed);
    ``base_image`` matches the base image name of the version's newest governed run, or the one its package
    recorded when it has none.
    """

    ids: tuple[str, ...] = ()  # package public ids
    keywords: tuple[str, ...] = ()  # any of them (casefolded)
    authors: tuple[str, ...] = ()  # any of them: a name's words or an ORCID
    last_verdict: tuple[str, ...] = ()
    not_replayed_for: int | None = None  # no governed run finished within this many seconds
    imported_within: int | None = None  # the version was imported within this many seconds ("newly imported")
    base_image: str | None = None
    latest_only: bool = True  # only each package's newest version

    def describe(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "keywords": list(self.keywords),
            "authors": list(self.authors),
            "last_verdict": list(self.last_verdict),
            "not_replayed_for": self.not_replayed_for,
            "imported_within": self.imported_within,
            "base_image": self.base_image,
            "latest_only": self.latest_only,
        }


@dataclass(frozen=True)
class ReplayOptions:
    """How each package is replayed: the ``ReplaySettings`` a policy sets (None: replay's own default)."""

    backend: str = "docker"
    offline: bool = False
    network: bool = False  # the sandbox's network while notebooks run
    base_image: str | None = None
    timeout: int | None = None  # seconds per cell
    total_timeout: int | None = None
    build_timeout: int | None = None
    memory: str | None = None
    disk: str | None = None
    compare: tuple[str, ...] = ()  # GLOB=RULE[:k=v,...]


@dataclass(frozen=True)
class InputsSource:
    """Where restricted inputs come from: ``shared`` holds them at their package paths for every package,
    ``per_package`` one sub-folder per package public id (tried first), ``identity`` an age identity file
    for inputs that travel encrypted."""

    shared: Path | None = None
    per_package: Path | None = None
    identity: Path | None = None


@dataclass(frozen=True)
class AlertTargets:
    """Where a regression is announced: appended as one JSON line to ``file``, printed on stdout, and/or given as
    JSON on stdin to ``command`` (an argument list, run without a shell)."""

    file: Path | None = None
    stdout: bool = False
    command: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.file is not None or self.stdout or bool(self.command)


@dataclass(frozen=True)
class CacheBounds:
    """The image cache bounds a policy run keeps (``repropack cache prune``), after each replay: sizes as
    ``50g``, ages as ``30d``; None leaves that bound off."""

    keep_size: str | None = None
    older_than: str | None = None


@dataclass(frozen=True)
class Policy:
    """A governance policy as read from its file (``source``; ``sha256`` of its bytes)."""

    name: str
    source: Path
    sha256: str
    repository: Path | None = None  # the repository it governs, when the file names one (flags and env go first)
    select: Selection = field(default_factory=Selection)
    replay: ReplayOptions = field(default_factory=ReplayOptions)
    workers: int = 2  # how many replays at once
    retries: int = 2  # extra attempts after an infrastructure failure; never for a verdict
    inputs: InputsSource = field(default_factory=InputsSource)
    alerts: AlertTargets = field(default_factory=AlertTargets)
    cache: CacheBounds = field(default_factory=CacheBounds)


class TaskState(str, Enum):
    """How far one package's replay in a policy run got (``govern_tasks.state``)."""

    PENDING = "pending"
    RUNNING = "running"  # a worker claimed it; a run resumed after a kill replays it again
    DONE = "done"  # a verdict was reached and its signed record kept: never redone
    REFUSED = "refused"  # the package was refused as bad or hostile input: never retried
    INFRA_FAILED = "infra-failed"  # the infrastructure failed past the retries: the next run tries again

    @property
    def ended(self) -> bool:
        """Whether a resumed run leaves the task alone."""
        return self in (TaskState.DONE, TaskState.REFUSED)


@dataclass(frozen=True)
class ReplayTask:
    """One replay a policy run dispatches: sent to a worker, so every field is plain data."""

    key: str  # stable Dask key: replay-<content digest>-<policy run id>
    run_id: str  # the policy run's public id
    task_id: int  # govern_tasks.id
    version_id: int
    public_id: str
    version: int
    title: str
    content_digest: str


@dataclass(frozen=True)
class TaskOutcome:
    """What became of one task (the worker's answer, or the dispatcher's when a worker never answered)."""

    task_id: int
    key: str
    public_id: str
    version: int
    state: TaskState
    verdict: str | None = None
    cause: str | None = None
    record_sha256: str | None = None
    attempts: int = 1
    seconds: float = 0.0
    detail: str = ""  # the infrastructure error, or why the package was refused

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.public_id,
            "version": self.version,
            "state": self.state.value,
            "verdict": self.verdict,
            "cause": self.cause,
            "record_sha256": self.record_sha256,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One governed run of a package version, as the catalog keeps it."""

    public_id: str
    version: int
    verdict: str
    cause_kind: str | None
    cause: str | None
    started_at: datetime | None
    finished_at: datetime | None
    source: str  # "import" | "replay" | "govern"
    record_sha256: str
    signer: str | None
    base_image: str | None = None
    base_image_id: str | None = None
    image_id: str | None = None
    image_reused: bool | None = None
    diff_summary: str | None = None
    govern_run: str | None = None  # the policy run's public id

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "version": self.version,
            "verdict": self.verdict,
            "cause_kind": self.cause_kind,
            "cause": self.cause,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "source": self.source,
            "record_sha256": self.record_sha256,
            "signer": self.signer,
            "base_image": self.base_image,
            "base_image_id": self.base_image_id,
            "image_id": self.image_id,
            "image_reused": self.image_reused,
            "diff_summary": self.diff_summary,
            "govern_run": self.govern_run,
        }


class RegressionCategory(str, Enum):
    """Why a package's verdict got worse (``repository/regressions.py`` says which applies, in this order)."""

    CONTAINER_INDUCED = "container-induced regression"  # the base image changed between the two runs
    ENVIRONMENT_FAILURE = "environment failure"  # the build or the install broke
    PERSISTENT_ERROR = "persistent error"  # the replay fails to run to the end (a cell error, a timeout ...)
    REPRODUCIBILITY_DRIFT = "reproducibility drift"  # it ran, and outputs changed (the environment was rebuilt)


@dataclass(frozen=True)
class Regression:
    """A package whose newest verdict is worse than the one before it."""

    public_id: str
    version: int
    title: str
    category: RegressionCategory
    previous: HistoryEntry
    latest: HistoryEntry
    reason: str  # one line: the cause, or what changed between the two runs

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "version": self.version,
            "title": self.title,
            "category": self.category.value,
            "reason": self.reason,
            "cause": self.latest.cause,
            "diff_summary": self.latest.diff_summary,
            "previous": self.previous.as_dict(),
            "latest": self.latest.as_dict(),
        }


@dataclass(frozen=True)
class PackageStatus:
    """A package's newest version and the newest governed run of it (None: never replayed)."""

    public_id: str
    version: int
    title: str
    latest: HistoryEntry | None
    runs: int  # governed runs of this version

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "version": self.version,
            "title": self.title,
            "runs": self.runs,
            "verdict": self.latest.verdict if self.latest else None,
            "latest": self.latest.as_dict() if self.latest else None,
        }
