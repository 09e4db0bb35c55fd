"""The backend interface and its registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from repropack.config import DEFAULT_BUILD_TIMEOUT, SandboxLimits
from repropack.environment.pipindex import PipIndex
from repropack.plugins import Registry
from repropack.sandbox.probe import EnvironmentFacts

if TYPE_CHECKING:  # reading packages (the crate stack) is not needed to name the backends
    from repropack.environment.build_inputs import BuildInputs

RUNNER = Path(__file__).with_name("runner.py")


@dataclass(frozen=True)
class RunPlan:
    notebooks: tuple[tuple[str, bool], ...]  # (package path, allow_errors) in recorded order
    cell_timeout: int
    kernel: str = "python3"
    python_path: tuple[str, ...] = ()  # package-relative folders to put on PYTHONPATH (local packages)
    # Variables the recorded kernel had that change results (TZ, PYTHONHASHSEED, ...): set in the sandbox as they were.
    environment: Mapping[str, str] = field(default_factory=dict)
    # Decrypted restricted inputs (package path -> plaintext): put where the notebooks read them, in memory
    # inside the container (a tmpfs) or in the local backend's private work dir, and gone after the run.
    private_inputs: Mapping[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PreparedEnvironment:
    """An environment ready to run notebooks: an image, or a virtualenv."""

    reference: str  # image id, or the virtualenv's python
    name: str  # image tag, or virtualenv path
    reused: bool  # found in the cache, not built now
    build_seconds: float = 0.0
    base_image_id: str | None = None  # the engine's id of the base image built on (None: no base image)


@dataclass(frozen=True)
class SandboxRun:
    """What the sandbox reported: the runner's JSON (None if it never wrote one or it was unusable) and how
    it ended. ``report_problem`` says why a report that was there could not be read (sandbox/report.py)."""

    report: dict | None
    exit_code: int | None
    timed_out: bool = False
    out_of_memory: bool = False
    log_tail: str = ""
    seconds: float = 0.0
    report_problem: str = ""


@dataclass(frozen=True)
class BuildRequest:
    """Everything a backend needs to rebuild a package's environment.

    Nothing executable comes from the package: a backend builds from ``inputs``
    (``environment.build_inputs``: the recorded facts, the strictly parsed lock
    re-rendered, the wheels' recorded sha256s), with the reviewer's ``index``,
    within ``build_timeout`` seconds.
    """

    package_root: Path
    environment_hash: str
    base_image: str
    inputs: BuildInputs
    offline: bool = False
    ca_bundle: Path | None = None
    index: PipIndex = field(default_factory=PipIndex)
    build_timeout: int = DEFAULT_BUILD_TIMEOUT
    on_log: Callable[[str], None] | None = field(default=None, compare=False)


class Backend(ABC):
    """Rebuilds an environment and runs a plan in it."""

    name: ClassVar[str]
    isolation: ClassVar[str]  # one line for the record: what the sandbox does and does not enforce

    #: Whether ``prepare`` builds on ``BuildRequest.base_image`` (a container image); the local backend does not.
    uses_base_image: ClassVar[bool] = False

    @abstractmethod
    def describe(self) -> dict:
        """Where the replay runs: engine and version, for the record."""

    def has_base_image(self, name: str) -> bool:
        """Whether the base image ``name`` is here to build on (only asked when ``uses_base_image``)."""
        return False

    @abstractmethod
    def prepare(self, request: BuildRequest) -> PreparedEnvironment:
        """Build (or reuse) the environment; BuildFailed or CannotRun when it cannot."""

    def probe(self, env: PreparedEnvironment, limits: SandboxLimits) -> EnvironmentFacts | None:
        """The environment's Python version and distributions from repropack's probe (sandbox/probe.py), run in
        it before any notebook under the same lockdown as ``run`` with nothing of the package mounted.

        ProbeFailed when the probe cannot run or prints something else; None from a backend that cannot
        probe (its record then has no drift).
        """
        return None

    def refuse_private_inputs(self, paths: Sequence[str]) -> None:
        """BadInput when this backend cannot keep decrypted inputs at ``paths`` off the host's disk; asked before
        anything is built. By default every path is fine."""
        return None

    def remove_stale(self) -> None:
        """Remove what runs of this backend that were killed outright left running (containers); by default nothing."""
        return None

    @abstractmethod
    def run(
        self, env: PreparedEnvironment, work_dir: Path, plan: RunPlan, limits: SandboxLimits, keep: bool
    ) -> SandboxRun:
        """Run the plan with ``work_dir`` as the package tree; never raise for what the notebooks do."""


#: Modules whose import registers the built-in backends; loaded on first lookup,
#: so importing the registry does not import the Docker SDK.
BUILT_IN_BACKENDS = ("repropack.sandbox.docker.backend", "repropack.sandbox.local")

#: The backends ``repropack replay --backend`` accepts: the built-ins, then those of
#: installed distributions' ``repropack.backends`` entry points.
BACKENDS: Registry[type[Backend]] = Registry(kind="backend", group="repropack.backends", built_in=BUILT_IN_BACKENDS)
