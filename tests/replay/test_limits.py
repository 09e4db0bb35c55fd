"""Replay limits derived from what export measured, and the causes that name them. Pure."""

from __future__ import annotations

import pytest

from repropack.config import SandboxLimits
from repropack.errors import BadInput
from repropack.model import CauseKind, FailureCause, FileRecord, FileRole, NotebookRun, RunStatus
from repropack.replay.limits import derive_limits, out_of_disk, out_of_disk_at_start
from repropack.replay.verdict import classify_run

MIB = 2**20


def _run(peak: int | None, wall: float | None, name: str = "a.ipynb") -> NotebookRun:
    return NotebookRun(name, "python3", "Python 3", RunStatus.COMPLETED, peak_memory=peak, wall_seconds=wall)


def test_memory_is_twice_the_largest_peak_rounded_up_to_64_mib_and_timeout_three_times_the_total_plus_a_minute():
    chosen = derive_limits(SandboxLimits(), [_run(400 * MIB, 100.0), _run(350 * MIB, 40.0, "b.ipynb")])
    # 2 x 400 MiB = 800 MiB -> 832m (13 x 64); 3 x (100 + 40) + 60 = 480 s.
    assert (chosen.limits.memory, chosen.limits.timeout) == ("832m", 480)
    assert chosen.sources == {"memory": "package", "total_timeout": "package", "disk": "default"}
    assert chosen.memory_note == (
        "limit 832m (derived from the recorded peak); the recorded run peaked at 400 MiB; raise it with --memory"
    )
    assert chosen.timeout_note.startswith(
        "limit 480 s (derived from the recorded wall time); the recorded run took 140 s"
    )


def test_small_runs_get_the_floors_and_other_limits_are_kept():
    chosen = derive_limits(SandboxLimits(pids=64, network=True), [_run(90 * MIB, 2.5)])
    assert (chosen.limits.memory, chosen.limits.timeout) == ("512m", 300)
    assert (chosen.limits.pids, chosen.limits.network) == (64, True)


def test_what_the_user_gave_wins_and_is_not_called_derived():
    chosen = derive_limits(SandboxLimits(timeout=90, memory="128m"), [_run(300 * MIB, 20.0)])
    assert (chosen.limits.memory, chosen.limits.timeout) == ("128m", 90)
    assert chosen.sources == {"disk": "default"}
    assert chosen.memory_note == "limit 128m (as given); the recorded run peaked at 300 MiB; raise it with --memory"
    assert chosen.timeout_note == "limit 90 s (as given); the recorded run took 20 s; raise it with --total-timeout"


def test_a_package_that_recorded_no_figures_gets_the_fallbacks_as_defaults():
    old = NotebookRun("a.ipynb", "python3", "Python 3", RunStatus.COMPLETED)  # exported before figures were recorded
    chosen = derive_limits(SandboxLimits(), [old])
    assert (chosen.limits.memory, chosen.limits.timeout) == ("2g", 1800)
    assert chosen.sources == {"memory": "default", "total_timeout": "default", "disk": "default"}
    assert "the package recorded no peak memory" in chosen.memory_note
    assert derive_limits(SandboxLimits(), []).limits.memory == "2g"  # --no-execute: no run at all


def _report(status: str = "completed", **outcome) -> dict:
    entry = {"path": "figure.ipynb", "status": status, "cell": None, "ename": None, "evalue": None, **outcome}
    return {"environment": {}, "notebooks": [entry], "running": None, "error": None, "finished": True}


def test_an_out_of_memory_kill_names_the_limit_the_recorded_peak_and_the_flag():
    chosen = derive_limits(SandboxLimits(memory="128m"), [_run(300 * MIB, 5.0)])
    running = {**_report(), "running": "figure.ipynb", "finished": False}
    cause = classify_run(
        running,
        timed_out=False,
        out_of_memory=True,
        exit_code=137,
        log_tail="",
        memory_note=chosen.memory_note,
        timeout_note=chosen.timeout_note,
    )
    assert cause.kind is CauseKind.OUT_OF_MEMORY
    assert cause.detail == (
        "figure.ipynb: the sandbox hit its memory limit and was killed; limit 128m (as given); "
        "the recorded run peaked at 300 MiB; raise it with --memory"
    )


def test_a_wall_clock_kill_names_the_limit_the_recorded_time_and_the_flag():
    chosen = derive_limits(SandboxLimits(), [_run(100 * MIB, 200.0)])
    cause = classify_run(
        {**_report(), "finished": False, "running": "figure.ipynb"},
        timed_out=True,
        out_of_memory=False,
        exit_code=None,
        log_tail="",
        timeout_note=chosen.timeout_note,
    )
    assert cause.kind is CauseKind.TIMEOUT
    assert cause.detail.endswith(
        "limit 660 s (derived from the recorded wall time); the recorded run took 200 s; raise it with --total-timeout"
    )


def test_a_memory_error_in_a_cell_names_the_limit_too():
    chosen = derive_limits(SandboxLimits(memory="256m"), [_run(300 * MIB, 5.0)])
    report = _report("cell_error", cell=2, ename="MemoryError", evalue="")
    cause = classify_run(
        report, timed_out=False, out_of_memory=False, exit_code=0, log_tail="", memory_note=chosen.memory_note
    )
    assert cause.kind is CauseKind.OUT_OF_MEMORY and cause.cell == 3
    assert cause.detail.endswith("the recorded run peaked at 300 MiB; raise it with --memory")


def _file(path: str, size: int) -> FileRecord:
    return FileRecord(path, "0" * 64, size, "text/plain", FileRole.INPUT)


def test_disk_is_four_times_the_package_files_at_least_a_gib_support_files_left_out():
    files = [
        _file("data/big.csv", 300 * MIB),
        _file("outputs/out.csv", 100 * MIB),
        _file(".repropack/x.whl", 900 * MIB),
    ]
    chosen = derive_limits(SandboxLimits(), [_run(100 * MIB, 1.0)], files)
    # 4 x 400 MiB = 1600 MiB, a multiple of 64 MiB already; the wheel under .repropack/ is never in the work folder.
    assert chosen.limits.disk == "1600m" and chosen.sources["disk"] == "package"
    assert chosen.disk_note == (
        "limit 1600m (derived from the recorded size of its files); the package's files take 400 MiB; "
        "raise it with --disk"
    )
    small = derive_limits(SandboxLimits(), [], [_file("a.csv", 10)])
    assert small.limits.disk == "1024m"


def test_a_given_disk_wins_and_is_called_as_given():
    chosen = derive_limits(SandboxLimits(disk="20m"), [], [_file("a.csv", 5 * MIB)])
    assert chosen.limits.disk == "20m" and "disk" not in chosen.sources
    assert chosen.disk_note == "limit 20m (as given); the package's files take 5 MiB; raise it with --disk"


def test_a_failed_run_in_a_full_work_folder_is_out_of_disk_naming_the_limit_and_the_flag():
    note = derive_limits(SandboxLimits(disk="20m"), [], [_file("a.csv", MIB)]).disk_note
    error = FailureCause(
        CauseKind.CELL_ERROR, "a.ipynb cell 2: OSError: [Errno 28] No space left on device", "a.ipynb", 2
    )
    cause = out_of_disk(error, True, note)
    assert cause.kind is CauseKind.OUT_OF_DISK and (cause.notebook, cause.cell) == ("a.ipynb", 2)
    assert cause.detail == (
        "a.ipynb cell 2: OSError: [Errno 28] No space left on device; the work folder hit its size limit, "
        "limit 20m (as given); the package's files take 1 MiB; raise it with --disk"
    )


def test_no_space_elsewhere_or_a_timeout_is_not_called_out_of_disk():
    error = FailureCause(CauseKind.CELL_ERROR, "a.ipynb cell 2: OSError: [Errno 28] No space left on device")
    assert out_of_disk(error, False, "note") is error  # the sandbox's /tmp, not the work folder
    timeout = FailureCause(CauseKind.TIMEOUT, "a.ipynb: the wall-clock limit was reached")
    assert out_of_disk(timeout, True, "note") is timeout
    assert out_of_disk(None, True, "note") is None  # a run that ended well filled it exactly: no failure
    assert out_of_disk_at_start("limit 1m").kind is CauseKind.OUT_OF_DISK


def test_disk_in_bytes_and_a_disk_that_is_no_size_is_bad_input():
    assert derive_limits(SandboxLimits(disk="20m"), []).disk_bytes == 20 * MIB
    assert derive_limits(SandboxLimits(disk="2G"), []).disk_bytes == 2 * 1024 * MIB
    with pytest.raises(BadInput, match="disk limit 'lots': not a size such as 20m or 1g"):
        derive_limits(SandboxLimits(disk="lots"), [])
