"""What the pipelines answer: the outcome of an export and of a replay. Plain data, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from repropack.model.disclosure import DisclosureReport
from repropack.model.package import FileRole, Package

#: A governed-run record's HTML report, and the folder holding the outputs its replay produced.
RECORD_REPORT = "report.html"
RECORD_REPLAYED_DIR = "replayed"

#: What a what-if replay (``replay -p``) says of its verdict, wherever the verdict is shown.
WHAT_IF_NOTE = (
    "what-if: run with other parameter values than the recorded ones, so this verdict only says how its outputs "
    "compare with the recorded outputs; it is not a reproduction"
)


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
            "runs": pkg.export_runs,
            "nondeterministic": [{"path": n.path, "cells": list(n.cells)} for n in pkg.nondeterministic],
            "warnings": list(self.warnings),
        }


class OutputStatus(str, Enum):
    """How a recorded output compares with what the replay produced."""

    IDENTICAL = "identical"  # same sha256
    EQUIVALENT = "equivalent"  # equal under a comparison rule
    DIFFERENT = "different"
    MISSING = "missing"  # recorded, not produced
    UNEXPECTED = "unexpected"  # produced, not recorded


class Nondeterminism(str, Enum):
    """Why a differing output may differ on every run, wherever it runs."""

    AT_SOURCE = "nondeterministic at source"  # it differed between the runs of the export itself (--runs 2)
    LIKELY = "likely nondeterministic"  # the code that made it calls a random number generator with no seed


@dataclass(frozen=True)
class OutputComparison:
    path: str
    status: OutputStatus
    rule: str  # name of the comparison rule that decided ("sha256" when the bytes matched)
    detail: str = ""  # a short, readable diff or summary; empty when identical
    nondeterminism: Nondeterminism | None = None  # set on a differing output that randomness explains
    hint: str = ""  # one line for the reviewer on why it may differ (or why randomness does not explain it)


class Verdict(str, Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not_reproduced"
    FAILED = "failed"

    @property
    def exit_code(self) -> int:
        """The CLI convention: 0 reproduced, 1 the check said no, 3 the work could not run."""
        return {"reproduced": 0, "not_reproduced": 1, "failed": 3}[self.value]


class CauseKind(str, Enum):
    """Why a replay could not run to the end, or (``NONDETERMINISTIC``) why its outputs could not match."""

    BUILD_FAILED = "build failed"
    MISSING_MODULE = "missing module"
    MISSING_INPUT = "missing or mismatched input"
    NETWORK_NEEDED = "network needed"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out of memory"
    OUT_OF_DISK = "out of disk"  # the work folder hit its size limit
    KERNEL_DIED = "kernel died"
    CELL_ERROR = "cell error"
    # Not a failure: the run ended, and every difference is where the recorded run differed from itself.
    NONDETERMINISTIC = "nondeterministic"


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
    drift_info: tuple[str, ...] = ()  # informational drift (a Python micro version); ``drift`` holds the warnings
    base_image: str | None = None  # the base image the environment was built on (None: the backend uses none)
    base_image_reason: str = ""  # why that base image: one line
    base_image_id: str | None = None  # the engine's id of that base image (a rebuilt base keeps its name, not its id)
    recorded_errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # notebook -> recorded cell errors
    replayed: tuple[str, ...] = ()  # package paths of the replayed outputs the record keeps under replayed/
    not_kept: tuple[str, ...] = ()  # "path: why" for each produced output the record does not keep
    rejudged_from: Mapping[str, Any] | None = None  # the record this one re-judges ({"record", "key_id", ...})
    # A what-if replay (``replay -p``): notebook -> parameter -> {"recorded": value, "replayed": value} for each
    # value injected instead of the recorded one. Empty for a reproduction.
    what_if: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Disclosure control over the replayed outputs (None: the package declares none); findings carry no values.
    disclosure: DisclosureReport | None = None

    @property
    def report(self) -> Path | None:
        """The record's HTML report (None until the record is named)."""
        return self.record / RECORD_REPORT if self.record else None

    def difference_count(self) -> tuple[int, int]:
        """(how many recorded outputs differ or are missing, how many were recorded and compared)."""
        recorded = [o for o in self.outputs if o.status is not OutputStatus.UNEXPECTED]
        bad = [o for o in recorded if o.status in (OutputStatus.DIFFERENT, OutputStatus.MISSING)]
        return len(bad), len(recorded)

    def recorded_errors_note(self) -> str:
        """One line on the recorded run's cell errors ("" when it had none): whether the replay reproduced them."""
        count = sum(len(errors) for errors in self.recorded_errors.values())
        if not count:
            return ""
        had = f"the recorded run had {count} cell error{'s' if count != 1 else ''}"
        if self.verdict is Verdict.FAILED or not self.outputs:
            return f"{had}; the replay did not run to the end, so they were not compared"
        by_path = {o.path: o for o in self.outputs}
        same = (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
        differing = [nb for nb in self.recorded_errors if nb not in by_path or by_path[nb].status not in same]
        if not differing:
            return f"{had}, reproduced identically"
        return f"{had}; not reproduced identically in {', '.join(sorted(differing))}"

    def what_if_lines(self) -> list[str]:
        """One line per parameter a what-if replay changed: ``notebook: name = replayed (recorded: value)``."""
        return [
            f"{notebook}: {name} = {json.dumps(values['replayed'], ensure_ascii=False)} "
            f"(recorded: {json.dumps(values['recorded'], ensure_ascii=False)})"
            for notebook, changed in self.what_if.items()
            for name, values in changed.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        """The ``replay --json`` object (schemas/replay-result.schema.json)."""
        return {
            "verdict": self.verdict.value,
            "cause": str(self.cause) if self.cause else None,
            "cause_kind": self.cause.kind.value if self.cause else None,
            "outputs": [
                {
                    "path": o.path,
                    "status": o.status.value,
                    "rule": o.rule,
                    "detail": o.detail,
                    "nondeterminism": o.nondeterminism.value if o.nondeterminism else None,
                    "hint": o.hint,
                }
                for o in self.outputs
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
            "report": str(self.report) if self.report else None,
            "drift_info": list(self.drift_info),
            "base_image": (
                {"image": self.base_image, "id": self.base_image_id, "reason": self.base_image_reason}
                if self.base_image
                else None
            ),
            "recorded_errors": {notebook: list(errors) for notebook, errors in self.recorded_errors.items()},
            "replayed": {"folder": RECORD_REPLAYED_DIR, "files": list(self.replayed), "not_kept": list(self.not_kept)},
            "rejudged_from": dict(self.rejudged_from) if self.rejudged_from else None,
            "what_if": {"note": WHAT_IF_NOTE, "parameters": dict(self.what_if)} if self.what_if else None,
            "disclosure": self.disclosure.as_dict() if self.disclosure else None,
        }
