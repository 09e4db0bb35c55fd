"""The package model shared by every pipeline: plain typed dataclasses, no I/O.

Paths inside a package are POSIX strings relative to the package root (the
same as relative to the project root: payload files keep their project paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

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
    bytes are not in the package. One exported with ``--encrypt-to`` travels as
    ``encrypted_copy`` (the package path of its age ciphertext, a support file of
    its own) for ``recipients`` (age X25519 recipients, ``age1...``); ``sha256``
    and ``size`` stay the plaintext's.
    """

    path: str
    sha256: str
    size: int
    encoding_format: str
    role: FileRole
    restricted: bool = False
    access_note: str | None = None
    encrypted_copy: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Organization:
    name: str
    url: str | None = None
    ror: str | None = None  # https://ror.org/... identifier
    email: str | None = None  # a contact point


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
    peak_memory: int | None = None  # bytes: peak resident memory of the kernel (plus its largest subprocess)
    wall_seconds: float | None = None  # from the first cell's start to the last cell's end
    # Values injected into the notebook's parameters cell before it ran (papermill): name -> JSON value.
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LockedDistribution:
    """One pinned distribution of the kernel's environment.

    ``reasons`` says why it is in the lock: "declared" (an environment file names
    it), "imported" (a module of it was imported during the run), "dependency"
    (required by another locked distribution), "runtime" (needed to run a kernel).
    ``local`` distributions were installed from a path, not an index: pip cannot
    fetch them by name, so they are listed but not pinned. ``hashes`` are the
    sha256 digests of the version's artifacts on the index (pip's ``--hash``),
    sorted; ``marker`` an environment marker ("" for none).
    """

    name: str
    version: str
    reasons: tuple[str, ...]
    local: bool = False
    hashes: tuple[str, ...] = ()
    marker: str = ""


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
    version: str | None = None  # of the work, as the project states it
    doi: str | None = None  # bare, "10.NNNN/...": the root's identifier and cite-as are its https://doi.org/ URL


@dataclass(frozen=True)
class LocalPackage:
    """A distribution installed from a folder of the project (``pip install -e .`` or ``pip install .``).

    An index cannot serve it, but the package holds it. An editable install is
    the project's folder itself: a replay puts ``path`` (project-relative, "."
    for the root) on the path. A non-editable install is a copy: ``wheel`` is
    the package path of a wheel packed from the installed files, which the
    replay's environment installs (modules, data files, entry points).
    """

    name: str
    path: str
    editable: bool = True
    wheel: str | None = None


@dataclass(frozen=True)
class NondeterministicOutput:
    """An output that differed between two runs of one export, in the same environment on the same inputs.

    ``cells`` are the executed notebook's cells (numbered from 1) whose outputs
    differed; empty for an output file. ``detail`` says how it first differed.
    """

    path: str
    cells: tuple[int, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Package:
    """A reproducibility package: what export writes and what ``crate.reader`` reads back.

    ``settings`` maps each setting name to ``{"value": ..., "source": ...}`` as
    recorded. ``empty_folders`` and ``local_packages`` come from the capture, and
    so do ``export_runs`` and ``nondeterministic``: with ``export_runs`` > 1 an
    output not listed in ``nondeterministic`` was the same in every run.
    """

    metadata: PackageMetadata
    files: tuple[FileRecord, ...]
    runs: tuple[NotebookRun, ...]
    environment: Environment
    git: GitProvenance | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    agent: Person | None = None
    tool_version: str = ""
    empty_folders: tuple[str, ...] = ()
    local_packages: tuple[LocalPackage, ...] = ()
    export_runs: int = 1  # how many times export ran the notebooks (``--runs``)
    nondeterministic: tuple[NondeterministicOutput, ...] = ()  # what differed between those runs
    # The kernel's environment variables that change results, as it started at export; set again at replay.
    environment_variables: Mapping[str, str] = field(default_factory=dict)

    def setting(self, name: str, default: Any = None) -> Any:
        """The recorded value of one setting, ``default`` when it was not recorded."""
        entry = self.settings.get(name)
        return entry.get("value", default) if isinstance(entry, Mapping) else default

    def notebooks(self) -> tuple[FileRecord, ...]:
        return tuple(f for f in self.files if f.role is FileRole.NOTEBOOK)

    def restricted(self) -> tuple[FileRecord, ...]:
        return tuple(f for f in self.files if f.restricted)

    def recorded_outputs(self) -> dict[str, str]:
        """Package path -> recorded sha256 of what a replay must reproduce: outputs and executed notebooks."""
        return {
            f.path: f.sha256 for f in self.files if f.role in (FileRole.OUTPUT, FileRole.NOTEBOOK) and not f.restricted
        }
