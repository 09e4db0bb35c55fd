"""The backend interface and its registry."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from repropack.errors import BadInput

RUNNER = Path(__file__).with_name("runner.py")


@dataclass(frozen=True)
class SandboxLimits:
    """What a replay may use. Defaults are the sandbox defaults of the docs."""

    timeout: int = 1800  # wall-clock seconds for all notebooks; the sandbox is killed after
    memory: str = "2g"
    pids: int = 256
    network: bool = False

    def describe(self) -> dict:
        return {"timeout_s": self.timeout, "memory": self.memory, "pids": self.pids, "network": self.network}


@dataclass(frozen=True)
class RunPlan:
    notebooks: tuple[tuple[str, bool], ...]  # (package path, allow_errors) in recorded order
    cell_timeout: int
    kernel: str = "python3"
    python_path: tuple[str, ...] = ()  # package-relative folders to put on PYTHONPATH (local packages)


@dataclass(frozen=True)
class PreparedEnvironment:
    """An environment ready to run notebooks: an image, or a virtualenv."""

    reference: str  # image id, or the virtualenv's python
    name: str  # image tag, or virtualenv path
    reused: bool  # found in the cache, not built now
    build_seconds: float = 0.0


@dataclass(frozen=True)
class SandboxRun:
    """What the sandbox reported: the runner's JSON (None if it never wrote one) and how it ended."""

    report: dict | None
    exit_code: int | None
    timed_out: bool = False
    out_of_memory: bool = False
    log_tail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildRequest:
    """Everything a backend needs to rebuild a package's environment."""

    package_root: Path
    environment_hash: str
    base_image: str
    offline: bool = False
    ca_bundle: Path | None = None
    on_log: Callable[[str], None] | None = field(default=None, compare=False)


class Backend(ABC):
    """Rebuilds an environment and runs a plan in it."""

    name: ClassVar[str]
    isolation: ClassVar[str]  # one line for the record: what the sandbox does and does not enforce

    @abstractmethod
    def describe(self) -> dict:
        """Where the replay runs: engine and version, for the record."""

    @abstractmethod
    def prepare(self, request: BuildRequest) -> PreparedEnvironment:
        """Build (or reuse) the environment; BuildFailed or CannotRun when it cannot."""

    @abstractmethod
    def run(
        self, env: PreparedEnvironment, work_dir: Path, plan: RunPlan, limits: SandboxLimits, keep: bool
    ) -> SandboxRun:
        """Run the plan with ``work_dir`` as the package tree; never raise for what the notebooks do."""


#: Modules whose import registers the built-in backends; loaded on first lookup,
#: so importing the registry does not import the Docker SDK.
BUILT_IN_BACKENDS = ("repropack.sandbox.docker.backend", "repropack.sandbox.local")


class BackendRegistry:
    def __init__(self, built_in: tuple[str, ...]) -> None:
        self._backends: dict[str, type[Backend]] = {}
        self._built_in = built_in

    def register(self, cls: type[Backend]) -> type[Backend]:
        self._backends[cls.name] = cls
        return cls

    def _load_built_in(self) -> None:
        for module in self._built_in:
            importlib.import_module(module)

    def names(self) -> list[str]:
        self._load_built_in()
        return sorted(self._backends)

    def get(self, name: str) -> type[Backend]:
        self._load_built_in()
        try:
            return self._backends[name]
        except KeyError:
            raise BadInput(f"unknown backend {name!r} (known: {', '.join(self.names())})") from None


BACKENDS = BackendRegistry(BUILT_IN_BACKENDS)
