"""The model every pipeline shares: plain typed dataclasses, no I/O.

``package`` is what a reproducibility package says (written by export, read
back by ``crate.reader``); ``results`` is what the pipelines answer; ``lock``
is the lock file's text both ways; ``layout`` names repropack's own files.
"""

from repropack.model.package import (
    RESERVED_DIR,
    Digest,
    Environment,
    FileRecord,
    FileRole,
    GitProvenance,
    LocalPackage,
    LockedDistribution,
    NondeterministicOutput,
    NotebookRun,
    Organization,
    Package,
    PackageMetadata,
    Person,
    RunStatus,
)
from repropack.model.results import (
    CauseKind,
    ExportResult,
    FailureCause,
    Nondeterminism,
    OutputComparison,
    OutputStatus,
    ReplayedPackage,
    ReplayResult,
    Verdict,
)

__all__ = [
    "RESERVED_DIR",
    "CauseKind",
    "Digest",
    "Environment",
    "ExportResult",
    "FailureCause",
    "FileRecord",
    "FileRole",
    "GitProvenance",
    "LocalPackage",
    "LockedDistribution",
    "Nondeterminism",
    "NondeterministicOutput",
    "NotebookRun",
    "Organization",
    "OutputComparison",
    "OutputStatus",
    "Package",
    "PackageMetadata",
    "Person",
    "ReplayResult",
    "ReplayedPackage",
    "RunStatus",
    "Verdict",
]
