"""What the pipelines answer: the outcome of an export and of a replay. Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from repropack.model.package import FileRole, Package


@dataclass(frozen=True)
class ExportResult:
    output: Path
    package: Package
    warnings: tuple[str, ...] = ()

    def summary(self) -> dict:
        """The machine-readable summary printed by ``export --json``."""
        pkg = self.package
        return {
            "output": str(self.output),
            "notebooks": [
                {"path": r.notebook, "status": r.status.value, "kernel": r.kernel_name, "errors": list(r.errors)}
                for r in pkg.runs
            ],
            "files": len(pkg.files),
            "inputs": sorted(f.path for f in pkg.files if f.role is FileRole.INPUT),
            "outputs": sorted(f.path for f in pkg.files if f.role is FileRole.OUTPUT),
            "restricted": sorted(f.path for f in pkg.files if f.restricted),
            "bytes": sum(f.size for f in pkg.files if not f.restricted),
            "python": pkg.environment.python_version,
            "locked_distributions": len(pkg.environment.lock),
            "git_commit": pkg.git.commit if pkg.git else None,
            "warnings": list(self.warnings),
        }


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

    @property
    def exit_code(self) -> int:
        """The CLI convention: 0 reproduced, 1 the check said no, 3 the work could not run."""
        return {"reproduced": 0, "not_reproduced": 1, "failed": 3}[self.value]


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


@dataclass(frozen=True)
class ReplayedPackage:
    """Which package a replay replayed: enough to name it in a record."""

    source: Path
    title: str
    metadata_sha256: str  # of its ro-crate-metadata.json


@dataclass(frozen=True)
class ReplayResult:
    """Everything the reports and the record say about one replay."""

    package: ReplayedPackage
    verdict: Verdict
    cause: FailureCause | None
    outputs: tuple[OutputComparison, ...]
    rules: Mapping[str, Any]
    drift: tuple[str, ...]
    backend: Mapping[str, Any]
    isolation: str
    image: str | None  # tag (docker) or virtualenv path (local)
    image_id: str | None  # the engine's image id, or the virtualenv's python
    image_reused: bool
    limits: Mapping[str, Any]
    started: datetime
    ended: datetime
    timings: Mapping[str, float]
    agent: str
    host: str
    record: Path | None = None  # where the signed governed-run record is (set before it is written)
    log_tail: str = ""
    figures: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # path -> (recorded, replayed) data URIs
    settings: Mapping[str, Any] = field(default_factory=dict)  # name -> {"value", "source"}
    notebooks: tuple[str, ...] = ()  # in the order they ran (empty when the sandbox never ran)

    def as_dict(self) -> dict[str, Any]:
        """The ``replay --json`` object (schemas/replay-result.schema.json)."""
        return {
            "verdict": self.verdict.value,
            "cause": str(self.cause) if self.cause else None,
            "cause_kind": self.cause.kind.value if self.cause else None,
            "outputs": [
                {"path": o.path, "status": o.status.value, "rule": o.rule, "detail": o.detail} for o in self.outputs
            ],
            "record": str(self.record) if self.record else None,
            "image": self.image,
            "image_id": self.image_id,
            "image_reused": self.image_reused,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "drift": list(self.drift),
            "package": {
                "path": str(self.package.source),
                "title": self.package.title,
                "metadata_sha256": self.package.metadata_sha256,
            },
            "backend": dict(self.backend),
            "isolation": self.isolation,
            "sandbox": dict(self.limits),
            "rules": dict(self.rules),
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "agent": self.agent,
            "host": self.host,
            "settings": dict(self.settings),
            "notebooks": list(self.notebooks),
        }
