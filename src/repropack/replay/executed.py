"""The errors the executed notebooks themselves hold: a second witness beside the runner's report.

The runner's report is written where the notebooks can write, so a notebook can
forge it (``"completed"`` while a cell raised). The executed notebooks are the
run's own record of each cell: ``new_errors`` reads each one the plan ran
(regular file, size- and depth-limited strict JSON, never through a link) and
lists the error outputs that the recorded notebook did not already show in the
same cell. An executed notebook that cannot be read is itself an error. A
notebook the plan allows to fail (its recorded run failed) is not read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.fs.bounded import UnsafeData, read_json_file

#: Far above a notebook with figures; the comparison reads the same file whole.
NOTEBOOK_LIMIT = 256 * 2**20
#: Notebook, cells, cell, outputs, output, data: the rest is room for JSON outputs.
NOTEBOOK_DEPTH = 256
#: Characters of an exception's name or message kept for a cause: a notebook can raise a megabyte.
_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class ExecutedError:
    """An error output of ``notebook`` in ``cell`` (counted from 1); ``unreadable`` when the notebook is."""

    notebook: str
    cell: int | None
    ename: str
    evalue: str
    unreadable: bool = False


def new_errors(work: Path, recorded_root: Path, notebooks: Sequence[tuple[str, bool]]) -> list[ExecutedError]:
    """The error outputs of the executed ``notebooks`` ((path, allow_errors), in plan order) under ``work``
    that the recorded notebook under ``recorded_root`` did not show in the same cell, in order."""
    found: list[ExecutedError] = []
    for path, allow_errors in notebooks:
        if allow_errors:
            continue
        try:
            executed = error_outputs(_read(work / path, path))
        except UnsafeData as exc:
            found.append(ExecutedError(path, None, "", f"the executed notebook cannot be read: {exc}", True))
            continue
        try:
            recorded = set(error_outputs(_read(recorded_root / path, path)))
        except UnsafeData:
            recorded = set()  # the package's own notebook unreadable: every error at replay is new
        found.extend(
            ExecutedError(path, cell, ename, evalue)
            for cell, ename, evalue in executed
            if (cell, ename, evalue) not in recorded
        )
    return found


def _read(path: Path, shown: str) -> Any:
    return read_json_file(path, limit=NOTEBOOK_LIMIT, max_depth=NOTEBOOK_DEPTH, what=shown)


def error_outputs(notebook: Any) -> list[tuple[int, str, str]]:
    """(cell counted from 1, ename, evalue) of each error output, in order; UnsafeData when ``notebook``
    is not shaped as a notebook (cells, each with a list of outputs when it has any)."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise UnsafeData("not a notebook (no list of cells)")
    found = []
    for number, cell in enumerate(cells, start=1):
        outputs = cell.get("outputs", []) if isinstance(cell, dict) else None
        if not isinstance(outputs, list):
            raise UnsafeData(f"not a notebook (cell {number} has no list of outputs)")
        for output in outputs:
            if isinstance(output, dict) and output.get("output_type") == "error":
                found.append((number, _text(output.get("ename")), _text(output.get("evalue"))))
    return found


def _text(value: Any) -> str:
    return value[:_TEXT_LIMIT] if isinstance(value, str) else ""
