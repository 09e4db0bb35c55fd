"""What a replay builds from: only what repropack renders from the package's facts.

A package's Dockerfile and lock are untrusted text. The build uses the lock's
entries as ``model.lock`` parsed them (pins, markers, hashes), re-rendered; the
Dockerfile repropack renders itself from the recorded environment with its own
template; the package's wheels by their recorded sha256. The packaged
Dockerfile is documentation: when it is not what repropack renders from the
same facts, the result says so (a drift warning), and it is never used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from repropack.environment.dockerfile import environment_hash, render_dockerfile
from repropack.errors import BadInput
from repropack.model import Environment, Package, layout
from repropack.model.lock import render_lock

if TYPE_CHECKING:
    from repropack.crate.reader import OpenedPackage

#: The drift warning of a package whose Dockerfile is not repropack's rendering of its facts.
DOCKERFILE_DIFFERS = (
    "the package's Dockerfile differs from the one repropack renders from its facts; the packaged one was not used"
)
_LOCK_HEADER = "Re-rendered by repropack from the package's lock (pins, markers and hashes only)."


@dataclass(frozen=True)
class BuildInputs:
    """The facts a backend builds from; each file it writes into a build is rendered from these."""

    environment: Environment  # the recorded environment; its lock as parsed strictly
    lock_text: str  # the lock re-rendered from the parsed entries: all pip reads
    wheelhouse: Mapping[str, str] = field(default_factory=dict)  # package path -> recorded sha256
    local_wheels: Mapping[str, str] = field(default_factory=dict)  # package path -> recorded sha256
    dockerfile_differs: bool = False

    @property
    def environment_hash(self) -> str:
        """Identity of what is built: repropack's rendering (on the recorded base image) and the lock."""
        return environment_hash(_rendered(self.environment, self.wheelhouse, self.local_wheels) or "", self.lock_text)

    @property
    def drift(self) -> tuple[str, ...]:
        return (DOCKERFILE_DIFFERS,) if self.dockerfile_differs else ()


def build_inputs(opened: OpenedPackage) -> BuildInputs:
    """The build inputs of an opened package that passed its integrity check."""
    package = opened.package
    wheelhouse = _recorded_under(package, layout.WHEELHOUSE)
    local = _local_wheels(package)
    rendered = _rendered(package.environment, wheelhouse, local)
    return BuildInputs(
        environment=package.environment,
        lock_text=render_lock(package.environment.lock, header=_LOCK_HEADER),
        wheelhouse=wheelhouse,
        local_wheels=local,
        dockerfile_differs=rendered is None or rendered != opened.read_text(layout.DOCKERFILE),
    )


def _rendered(environment: Environment, wheelhouse: Mapping[str, str], local: Mapping[str, str]) -> str | None:
    """repropack's Dockerfile for these facts; None when the facts cannot be rendered (a base image that is
    no image reference, a wheel name a Dockerfile cannot hold)."""
    try:
        return render_dockerfile(
            environment,
            wheelhouse=bool(wheelhouse),
            local_wheels={PurePosixPath(path).name: sha256 for path, sha256 in local.items()},
        )
    except BadInput:
        return None


def _recorded_under(package: Package, folder: str) -> dict[str, str]:
    return {r.path: r.sha256 for r in package.files if r.path.startswith(folder + "/") and not r.restricted}


def _local_wheels(package: Package) -> dict[str, str]:
    """The wheels of the project's own non-editable installs that the package records, by path."""
    recorded = _recorded_under(package, layout.LOCAL_WHEELS)
    return {lp.wheel: recorded[lp.wheel] for lp in package.local_packages if lp.wheel and lp.wheel in recorded}
