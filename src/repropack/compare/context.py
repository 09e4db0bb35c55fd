"""What a comparison may know besides the two files: when each side's run ran.

A date or time an output prints is a clock reading, not a result, when it
falls within the window of the run that printed it (see
``repropack.compare.clock``). The recorded window comes from the package (each
``NotebookRun``'s start and end, or the executed notebook's own cell
timestamps); the replayed one from the replayed notebook's cell timestamps, or
failing those from the time the sandbox ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from repropack.model import NotebookRun

#: Added to both ends of every window: recorded start and end times are whole
#: seconds (the end rounded down), and a value printed at the very end of a run
#: must still fall within it.
SLACK = timedelta(seconds=1)

# nbclient's per-cell timestamps (``record_timing``), in the order a cell goes through them.
_CELL_TIMES = ("iopub.status.busy", "iopub.execute_input", "shell.execute_reply", "iopub.status.idle")


@dataclass(frozen=True)
class Window:
    """From ``start`` to ``end`` (both time-zone aware), the span a run's clock readings fall within."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a run window needs time-zone aware moments")
        if self.end < self.start:
            raise ValueError(f"a run window cannot end ({self.end}) before it starts ({self.start})")

    @classmethod
    def around(cls, moments: Iterable[datetime]) -> Window | None:
        """The smallest window holding every moment, widened by ``SLACK``; None for no moments."""
        listed = sorted(moments)
        if not listed:
            return None
        return cls(listed[0] - SLACK, listed[-1] + SLACK)

    @cached_property
    def naive_utc(self) -> tuple[datetime, datetime]:
        """Start and end in UTC without a time zone, the form clock readings are compared in."""
        return (
            self.start.astimezone(timezone.utc).replace(tzinfo=None),
            self.end.astimezone(timezone.utc).replace(tzinfo=None),
        )

    def union(self, other: Window | None) -> Window:
        if other is None:
            return self
        return Window(min(self.start, other.start), max(self.end, other.end))


@dataclass(frozen=True)
class ComparisonContext:
    """The windows of the runs that made the recorded file and the replayed one; None when unknown."""

    recorded: Window | None = None
    replayed: Window | None = None


#: A comparison that knows nothing about the runs: no clock reading is recognised.
NO_CONTEXT = ComparisonContext()


@dataclass(frozen=True)
class RunWindows:
    """The run windows of every output of a replay, by package path.

    An output that no recorded run names (which export does not produce) gets
    the window spanning every run of its side.
    """

    recorded: Mapping[str, Window] = field(default_factory=dict)
    replayed: Mapping[str, Window] = field(default_factory=dict)
    recorded_all: Window | None = None
    replayed_all: Window | None = None

    def context(self, path: str) -> ComparisonContext:
        return ComparisonContext(
            recorded=self.recorded.get(path, self.recorded_all),
            replayed=self.replayed.get(path, self.replayed_all),
        )


def run_windows(runs: Sequence[NotebookRun], produced_root: Path, replayed: Window | None = None) -> RunWindows:
    """The windows of each recorded run's notebook and outputs, on both sides.

    A recorded run's window is its start and end time. A replayed run's is the
    span of the replayed notebook's cell timestamps (under ``produced_root``),
    else ``replayed``: when the whole sandbox run happened.
    """
    recorded: dict[str, Window] = {}
    produced: dict[str, Window] = {}
    for run in runs:
        old = Window.around(moment for moment in (run.start_time, run.end_time) if moment is not None)
        new = notebook_window(_read_json(produced_root / run.notebook)) or replayed
        for path in (run.notebook, *run.outputs):
            if old is not None:
                recorded[path] = old
            if new is not None:
                produced[path] = new
    return RunWindows(recorded, produced, _span(recorded.values()), _span(produced.values()) or replayed)


def cell_times(cell: Mapping[str, Any]) -> list[datetime]:
    """The moments nbclient recorded for a cell's execution (none for a cell it did not run)."""
    execution = cell.get("metadata", {}).get("execution", {})
    moments = []
    for key in _CELL_TIMES:
        moment = _moment(execution.get(key)) if isinstance(execution, Mapping) else None
        if moment is not None:
            moments.append(moment)
    return moments


def notebook_window(notebook: Mapping[str, Any] | None) -> Window | None:
    """From the first cell's start to the last cell's end, by the notebook's own timestamps."""
    if not notebook or not isinstance(notebook.get("cells"), list):
        return None
    return Window.around(
        moment for cell in notebook["cells"] if isinstance(cell, Mapping) for moment in cell_times(cell)
    )


def cell_windows(cells: Sequence[Mapping[str, Any]], fallback: Window | None) -> list[Window | None]:
    """For each cell, the window its outputs' clock readings may come from.

    A cell can print a moment taken in any earlier cell, never in a later one:
    its window runs from the notebook's first timestamp to the cell's own end.
    A cell without timestamps (not run, or run by a tool that records none)
    gets ``fallback``, the window of the whole run.
    """
    first: datetime | None = None
    windows: list[Window | None] = []
    for cell in cells:
        moments = cell_times(cell)
        if moments and first is None:
            first = min(moments)
        if moments and first is not None:
            windows.append(Window(first - SLACK, max(moments) + SLACK))
        else:
            windows.append(fallback)
    return windows


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _span(windows: Iterable[Window]) -> Window | None:
    span: Window | None = None
    for window in windows:
        span = window.union(span)
    return span


def _read_json(path: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None
