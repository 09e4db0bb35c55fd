"""The sandbox's limits for one package: what the user gave, else derived from what export measured.

A fixed limit is wrong both ways: 2 GiB killed a figure notebook that ran fine
at export, and 30 minutes let a hung one sit. Export records each notebook's
peak memory and wall time (``NotebookRun.peak_memory``, ``wall_seconds``); a
limit the user did not give (``SandboxLimits`` field None) is derived from them
with headroom:

- memory: 2 x the largest recorded peak, at least 512 MiB, rounded up to 64 MiB;
- total timeout (the whole run's wall clock, ``--total-timeout``): 3 x the recorded wall time of all
  notebooks + 60 s, at least 300 s;
- disk (what the work folder may hold): 4 x the recorded size of the package's files (inputs,
  outputs, notebooks, restricted inputs), at least 1 GiB, rounded up to 64 MiB.

A package that recorded neither figure (exported before they were) gets the
fallbacks of ``config``. The record says where each value came from: "flag" or
"user" as resolved, "package" when derived, "default" for a fallback. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from repropack.config import FALLBACK_REPLAY_MEMORY, FALLBACK_REPLAY_TIMEOUT, SandboxLimits, size_in_bytes
from repropack.errors import BadInput
from repropack.model import RESERVED_DIR, CauseKind, FailureCause, FileRecord, NotebookRun

MEMORY_FACTOR = 2
MEMORY_FLOOR = 512 * 2**20
MEMORY_STEP = 64 * 2**20
TIMEOUT_FACTOR = 3
TIMEOUT_MARGIN = 60
TIMEOUT_FLOOR = 300
DISK_FACTOR = 4
DISK_FLOOR = 2**30


@dataclass(frozen=True)
class ReplayLimits:
    """The limits a replay runs with, where each came from, and what to tell a reviewer when one is hit."""

    limits: SandboxLimits  # every field filled in
    sources: Mapping[str, str] = field(
        default_factory=dict
    )  # "total_timeout"/"memory"/"disk" -> "package" | "default"; derived only
    memory_note: str = ""  # "limit 640m, ...; raise it with --memory"
    timeout_note: str = ""
    disk_note: str = ""
    disk_bytes: int = DISK_FLOOR  # ``limits.disk`` in bytes


def mebibytes(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def derive_limits(
    requested: SandboxLimits, runs: Sequence[NotebookRun], files: Sequence[FileRecord] = ()
) -> ReplayLimits:
    """``requested`` with each unset (None) timeout, memory or disk derived from ``runs``' recorded
    figures and the sizes of the package's ``files``."""
    peaks = [r.peak_memory for r in runs if r.peak_memory]
    walls = [r.wall_seconds for r in runs if r.wall_seconds is not None]
    peak = max(peaks) if peaks else None
    wall = sum(walls) if walls else None
    sources: dict[str, str] = {}

    memory = requested.memory
    if memory is None:
        if peak is None:
            memory, sources["memory"] = FALLBACK_REPLAY_MEMORY, "default"
        else:
            size = max(MEMORY_FACTOR * peak, MEMORY_FLOOR)
            memory, sources["memory"] = f"{math.ceil(size / MEMORY_STEP) * MEMORY_STEP // 2**20}m", "package"
    timeout = requested.timeout
    if timeout is None:
        if wall is None:
            timeout, sources["total_timeout"] = FALLBACK_REPLAY_TIMEOUT, "default"
        else:
            timeout, sources["total_timeout"] = (
                max(math.ceil(TIMEOUT_FACTOR * wall + TIMEOUT_MARGIN), TIMEOUT_FLOOR),
                "package",
            )

    # What the work folder starts with and what the run wrote, as recorded (support files stay out of it).
    files_size = sum(f.size for f in files if not f.path.startswith(RESERVED_DIR + "/"))
    disk = requested.disk
    if disk is None:
        room = max(DISK_FACTOR * files_size, DISK_FLOOR)
        disk = f"{math.ceil(room / MEMORY_STEP) * MEMORY_STEP // 2**20}m"
        sources["disk"] = "package" if files else "default"
    try:
        disk_bytes = size_in_bytes(disk)
    except ValueError:
        raise BadInput(f"disk limit {disk!r}: not a size such as 20m or 1g") from None

    recorded_peak = f"the recorded run peaked at {mebibytes(peak)}" if peak else "the package recorded no peak memory"
    recorded_wall = f"the recorded run took {wall:.0f} s" if wall is not None else "the package recorded no wall time"
    return ReplayLimits(
        limits=replace(requested, memory=memory, timeout=timeout, disk=disk),
        sources=sources,
        memory_note=f"limit {memory} ({_how(sources.get('memory'), 'peak')}); {recorded_peak}; raise it with --memory",
        timeout_note=f"limit {timeout} s ({_how(sources.get('total_timeout'), 'wall time')}); {recorded_wall}; "
        "raise it with --total-timeout",
        disk_note=f"limit {disk} ({_how(sources.get('disk'), 'size of its files')}); the package's files take "
        f"{mebibytes(files_size)}; raise it with --disk",
        disk_bytes=disk_bytes,
    )


def out_of_disk(cause: FailureCause | None, work_folder_full: bool, note: str) -> FailureCause | None:
    """``cause`` as ``out of disk`` when a failed run failed for want of space in the work folder: the
    folder is full (``work_folder_full``, as its file system says) and the cause is an error or a dead
    kernel. Anything else is returned as it is: a "No space left on device" with the work folder not
    full came from somewhere else (the sandbox's /tmp) and stays the cell error it is."""
    if cause is None or not work_folder_full or cause.kind not in (CauseKind.CELL_ERROR, CauseKind.KERNEL_DIED):
        return cause
    return FailureCause(
        CauseKind.OUT_OF_DISK,
        f"{cause.detail}; the work folder hit its size limit, {note}",
        cause.notebook,
        cause.cell,
    )


def out_of_disk_at_start(note: str) -> FailureCause:
    """The cause of a replay whose package files did not fit in the work folder's limit: nothing ran."""
    return FailureCause(CauseKind.OUT_OF_DISK, f"the package's files do not fit in the work folder, {note}")


def _how(source: str | None, figure: str) -> str:
    if source == "package":
        return f"derived from the recorded {figure}"
    if source == "default":
        return "the default for a package that recorded none"
    return "as given"


#: The per-cell timeout of a package that recorded none.
DEFAULT_CELL_TIMEOUT = 600


@dataclass(frozen=True)
class CellTimeout:
    """How long a single cell may run at replay (``--timeout``), where that came from, and what to say when hit."""

    seconds: int
    source: str | None  # "package" (the export's setting) or "default" when not given; None when given
    note: str  # "limit 600 s per cell (as recorded at export); raise it with --timeout"


def cell_timeout(requested: int | None, recorded: object) -> CellTimeout:
    """``requested`` (``--timeout``, or the user config's), else the per-cell timeout the export ran with."""
    if requested is not None:
        seconds, source, how = requested, None, "as given"
    elif isinstance(recorded, int) and not isinstance(recorded, bool) and recorded > 0:
        seconds, source, how = recorded, "package", "the one the export ran with"
    else:
        seconds, source, how = DEFAULT_CELL_TIMEOUT, "default", "the default for a package that recorded none"
    return CellTimeout(seconds, source, f"limit {seconds} s per cell ({how}); raise it with --timeout")
