"""Rich rendering of export and replay progress on stderr (the CLI's side of the progress protocols)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from repropack.ui.text import safe


class RichProgress:
    """A live progress display on stderr: one line per stage, a bar for cells and for
    bytes hashed, and the latest line of long work (a build log) beside its stage.

    Stage texts and details are shown as plain text, never as rich markup, with control
    characters escaped (``ui.text.safe``): they name researchers' and packages' files
    ("[draft] results.csv") and quote build logs. The display starts
    at the first stage, so work refused before any stage leaves stderr to its one error line.
    """

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[detail]}", markup=False),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = None
        self._cells: dict[str, object] = {}
        self._started = False

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._finish_current()
            self._progress.stop()

    def _start(self) -> None:
        if not self._started:
            self._progress.start()
            self._started = True

    def _finish_current(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total or 1, total=task.total or 1)

    def stage(self, text: str) -> None:
        self._start()
        self._finish_current()
        self._task = self._progress.add_task(safe(text), total=None, detail="")

    def cells(self, notebook: str, done: int, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=total, detail=f"cell {done}/{total}")

    def hashing(self, total_bytes: int) -> None:
        self._start()
        self._finish_current()
        self._task = self._progress.add_task("Hashing files", total=max(total_bytes, 1), detail="")

    def hashed(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def detail(self, text: str) -> None:
        if self._task is not None and text.strip():
            self._progress.update(self._task, detail=safe(text.strip()[:60]))
