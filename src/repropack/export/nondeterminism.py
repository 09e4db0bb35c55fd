"""What differs between two runs of the same notebooks, in the same environment, on the same inputs.

``repropack export --runs 2`` runs the notebooks once in the project (the run
the package holds) and once more in a scratch copy of the project made before
the first run, so the second run starts from the same files and the project
tree is changed only once. Each output file and each executed notebook of the
two runs is then compared under the package's own comparison rules (the
``[compare]`` table, else each file's default rule): what those rules already
tolerate (volatile timings, memory addresses, masked text) does not count as
a difference. The scratch copy's path is written back to the project's before
comparing, so a notebook that prints its own folder does not differ by that.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from repropack.compare.compare import RuleChoice, choose_rule
from repropack.compare.context import NO_CONTEXT, ComparisonContext, RunWindows, Window
from repropack.compare.excerpts import clip
from repropack.fs import tree
from repropack.fs.stale import owned_temp_dir
from repropack.model import NondeterministicOutput, NotebookRun


@dataclass(frozen=True)
class RunOutputs:
    """What one run produced: output files under ``root``, executed notebooks by path, and each notebook's run."""

    root: Path  # the folder the run ran in (the project, or a scratch copy of it)
    notebooks: Mapping[str, bytes]  # package path -> executed notebook as packed
    runs: Sequence[NotebookRun] = ()  # when each notebook ran, and what it wrote

    @property
    def outputs(self) -> frozenset[str]:
        """Package paths of the files the run created or changed."""
        return frozenset(path for run in self.runs for path in run.outputs)

    def windows(self) -> dict[str, Window]:
        """When the run that made each notebook and output ran: its clock readings fall within it."""
        found = {}
        for run in self.runs:
            window = Window.around(moment for moment in (run.start_time, run.end_time) if moment is not None)
            if window is not None:
                found.update({path: window for path in (run.notebook, *run.outputs)})
        return found


@contextmanager
def scratch_copies(
    project: Path, snapshot: tree.Snapshot, empty_folders: Iterable[str], count: int
) -> Iterator[list[Path]]:
    """``count`` copies of the project as ``snapshot`` saw it, removed on exit.

    Only the files a package may hold are copied (what ``snapshot`` lists, plus
    its empty folders), so a later run sees the world a replay will see. Each
    copy keeps the project's folder name: a notebook may print or use it.
    Files are copied, never linked: a run that appends to a file must not
    change the project's.
    """
    if count <= 0:
        yield []
        return
    folders = list(empty_folders)
    with owned_temp_dir("repropack-runs-") as scratch:  # restricted files too: a killed run's is swept
        copies = []
        for number in range(2, count + 2):
            copy = Path(scratch) / f"run-{number}" / project.name
            for relative in snapshot:
                target = copy / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(project / relative, target)
            for folder in folders:
                (copy / folder).mkdir(parents=True, exist_ok=True)
            copy.mkdir(parents=True, exist_ok=True)
            copies.append(copy)
        yield copies


def run_differences(
    first: RunOutputs, other: RunOutputs, choices: Sequence[RuleChoice]
) -> list[NondeterministicOutput]:
    """Every output (file or executed notebook) that differs between two runs, sorted by path.

    A file only one run wrote differs. An executed notebook names the cells
    (numbered from 1) whose outputs differed; a notebook whose cells no longer
    line up (a cell's source changed, say) differs as a whole, with no cells.
    """
    found = []
    ours, theirs = first.windows(), other.windows()
    windows = RunWindows(ours, theirs, _span(ours.values()), _span(theirs.values()))
    with owned_temp_dir("repropack-compare-runs-") as tmp:
        scratch = _Scratch(Path(tmp), other.root, first.root)
        for path in sorted(first.outputs | other.outputs):
            if path not in first.outputs or path not in other.outputs:
                which = "the first run" if path in first.outputs else "a later run"
                found.append(NondeterministicOutput(path, detail=f"written by {which} only"))
                continue
            difference = _file_difference(
                path, first.root / path, scratch.rewritten(path, other.root / path), choices, windows.context(path)
            )
            if difference is not None:
                found.append(difference)
        for path in sorted(first.notebooks.keys() | other.notebooks.keys()):
            if path not in first.notebooks or path not in other.notebooks:
                found.append(NondeterministicOutput(path, detail="executed in one run only"))
                continue
            recorded = scratch.write(f"first/{path}", first.notebooks[path])
            produced = scratch.write(f"other/{path}", scratch.rename(other.notebooks[path]))
            difference = _file_difference(path, recorded, produced, choices, windows.context(path))
            if difference is not None:
                found.append(difference)
    return sorted(found, key=lambda n: n.path)


def merge_differences(found: Iterable[Sequence[NondeterministicOutput]]) -> tuple[NondeterministicOutput, ...]:
    """One entry per path over several comparisons: the union of their cells, the first detail."""
    merged: dict[str, NondeterministicOutput] = {}
    for differences in found:
        for entry in differences:
            seen = merged.get(entry.path)
            if seen is None:
                merged[entry.path] = entry
            elif seen.cells and entry.cells:
                cells = tuple(sorted(set(seen.cells) | set(entry.cells)))
                merged[entry.path] = NondeterministicOutput(entry.path, cells, seen.detail)
            else:  # one comparison found the whole notebook different: it stays so
                merged[entry.path] = NondeterministicOutput(entry.path, (), seen.detail or entry.detail)
    return tuple(merged[path] for path in sorted(merged))


class _Scratch:
    """Temporary files for comparisons, and the rewrite of a later run's folder to the first run's."""

    def __init__(self, folder: Path, other_root: Path, first_root: Path) -> None:
        self._folder = folder
        roots = {str(other_root), str(other_root.resolve())}
        # Longest first, so a resolved path that extends the given one is replaced whole.
        self._renames = [(root.encode(), str(first_root).encode()) for root in sorted(roots, key=len, reverse=True)]

    def rename(self, data: bytes) -> bytes:
        for old, new in self._renames:
            data = data.replace(old, new)
        return data

    def write(self, name: str, data: bytes) -> Path:
        path = self._folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def rewritten(self, path: str, file: Path) -> Path:
        """``file``, or a copy of it with the later run's folder written as the first run's."""
        try:
            data = file.read_bytes()
        except OSError:
            return file  # the comparison says why it cannot read it
        renamed = self.rename(data)
        return file if renamed == data else self.write(f"renamed/{path}", renamed)


def _file_difference(
    path: str, first: Path, other: Path, choices: Sequence[RuleChoice], context: ComparisonContext = NO_CONTEXT
) -> NondeterministicOutput | None:
    """None when the two runs' versions of ``path`` are equal under its rule, else how they differ.

    ``context`` holds each run's window, so a clock reading (a date printed
    within its own run) is no difference, as at replay.
    """
    try:
        if first.read_bytes() == other.read_bytes():
            return None
    except OSError as error:
        return NondeterministicOutput(path, detail=f"cannot read it: {error.strerror or error}")
    rule = choose_rule(path, choices)
    try:
        by_cell = getattr(rule, "differing_cells", None)
        if by_cell is not None:
            cells = by_cell(first, other, context)
            if cells is not None:
                if not cells:
                    return None
                return NondeterministicOutput(path, tuple(sorted(cells)), clip(cells[min(cells)]))
        outcome = rule.compare_in(first, other, context)
    except Exception as error:  # a file a rule cannot read differs, as at replay
        return NondeterministicOutput(path, detail=clip(f"cannot compare as {rule.name}: {error}"))
    return None if outcome.equal else NondeterministicOutput(path, detail=clip(outcome.detail))


def _span(windows: Iterable[Window]) -> Window | None:
    span: Window | None = None
    for window in windows:
        span = window.union(span)
    return span
