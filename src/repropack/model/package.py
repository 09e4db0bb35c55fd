"""The package model shared by every pipeline: plain typed dataclasses, no I/O.

Paths inside a package are POSIX strings relative to the package root (the
same as relative to the project root: payload files keep their project paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

__all__ = [
    "RESERVED_DIR",
    "CauseKind",
    "Digest",
    "Environment",
    "FailureCause",
    "FileRecord",
    "FileRole",
    "GitProvenance",
    "LockedDistribution",
    "NotebookRun",
    "Organization",
    "OutputComparison",
    "OutputStatus",
    "Package",
    "PackageMetadata",
    "Person",
    "RunStatus",
    "Verdict",
]

#: The one top-level folder that holds repropack's own material in a package.
RESERVED_DIR = ".repropack"


class FileRole(str, Enum):
    """Why a file is in the package."""

    NOTEBOOK = "notebook"  # an executed notebook (the instrument's program and a result)
    INPUT = "input"  # read by a run, existed before it
    OUTPUT = "output"  # created or changed by a run
    OTHER = "other"  # project file the run did not touch
    SUPPORT = "support"  # repropack's own material under RESERVED_DIR


@dataclass(frozen=True)
class Digest:
    """Content identity of a file."""

    sha256: str
    size: int


@dataclass(frozen=True)
class FileRecord:
    """One file described by the package.

    A restricted file is described (path, size, sha256, access note) but its
    bytes are not in the package.
    """

    path: str
    sha256: str
    size: int
    encoding_format: str
    role: FileRole
    restricted: bool = False
    access_note: str | None = None


@dataclass(frozen=True)
class Organization:
    name: str
    url: str | None = None


@dataclass(frozen=True)
class Person:
    name: str
    affiliation: Organization | None = None
    identifier: str | None = None  # an ORCID or other URL; becomes the entity's @id
    email: str | None = None


class RunStatus(str, Enum):
    COMPLETED = "completed"
    FAILED = "failed"  # a cell raised and --allow-errors let the export go on
    NOT_EXECUTED = "not_executed"  # --no-execute: outputs are the notebook's saved state


@dataclass(frozen=True)
class NotebookRun:
    """One notebook execution observed during export."""

    notebook: str
    kernel_name: str
    kernel_display_name: str
    status: RunStatus
    start_time: datetime | None = None
    end_time: datetime | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # "cell 3: ZeroDivisionError: division by zero"


@dataclass(frozen=True)
class LockedDistribution:
    """One pinned distribution of the kernel's environment.

    ``reasons`` says why it is in the lock: "declared" (an environment file names
    it), "imported" (a module of it was imported during the run), "dependency"
    (required by another locked distribution), "runtime" (needed to run a kernel).
    ``local`` distributions were installed from a path, not an index: pip cannot
    fetch them by name, so they are listed but not pinned.
    """

    name: str
    version: str
    reasons: tuple[str, ...]
    local: bool = False


@dataclass(frozen=True)
class Environment:
    """The interpreter that ran the notebooks, and how to rebuild it."""

    python_version: str
    implementation: str
    platform: str
    machine: str
    lock: tuple[LockedDistribution, ...]
    env_files: tuple[str, ...] = ()  # project-relative paths of the copied environment files
    unresolved: tuple[str, ...] = ()  # declared requirements not installed in the kernel environment
    base_image: str = ""


@dataclass(frozen=True)
class GitProvenance:
    commit: str
    branch: str | None  # None when HEAD is detached
    remote_url: str | None  # credentials stripped
    dirty: bool
    changed_paths: tuple[str, ...] = ()  # relative to the repository root


@dataclass(frozen=True)
class PackageMetadata:
    title: str
    description: str
    license: str | None
    authors: tuple[Person, ...]
    publisher: Organization | None
    date_published: datetime
    keywords: tuple[str, ...] = ()


@dataclass
class Package:
    """Everything an export knows, ready to be written as an RO-Crate."""

    metadata: PackageMetadata
    files: list[FileRecord]
    runs: list[NotebookRun]
    environment: Environment
    git: GitProvenance | None
    settings: dict[str, object] = field(default_factory=dict)
    agent: Person | None = None
    tool_version: str = ""


# --- replay -----------------------------------------------------------------------------------


class OutputStatus(str, Enum):
    """How a recorded output compares with what the replay produced."""

    IDENTICAL = "identical"  # same sha256
    EQUIVALENT = "equivalent"  # equal under a comparison rule
    DIFFERENT = "different"
    MISSING = "missing"  # recorded, not produced
    UNEXPECTED = "unexpected"  # produced, not recorded


@dataclass(frozen=True)
class OutputComparison:
    path: str
    status: OutputStatus
    rule: str  # name of the comparison rule that decided ("sha256" when the bytes matched)
    detail: str = ""  # a short, readable diff or summary; empty when identical


class Verdict(str, Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not_reproduced"
    FAILED = "failed"


class CauseKind(str, Enum):
    """Why a replay could not run to the end."""

    BUILD_FAILED = "build failed"
    MISSING_MODULE = "missing module"
    MISSING_INPUT = "missing or mismatched input"
    NETWORK_NEEDED = "network needed"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out of memory"
    KERNEL_DIED = "kernel died"
    CELL_ERROR = "cell error"


@dataclass(frozen=True)
class FailureCause:
    kind: CauseKind
    detail: str  # one line: which requirement, module, input, or "nb.ipynb cell 3: ValueError: ..."
    notebook: str | None = None
    cell: int | None = None  # numbered from 1, as a reader counts cells

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"
