"""Rich rendering of export and replay progress on stderr (the CLI's side of the progress protocols)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class RichProgress:
    """A live progress display on stderr: one line per stage, a bar for cells and for
    bytes hashed, and the latest line of long work (a build log) beside its stage."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = None
        self._cells: dict[str, object] = {}

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._finish_current()
        self._progress.__exit__(*exc)

    def _finish_current(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total or 1, total=task.total or 1)

    def stage(self, text: str) -> None:
        self._finish_current()
        self._task = self._progress.add_task(text, total=None, detail="")

    def cells(self, notebook: str, done: int, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=total, detail=f"cell {done}/{total}")

    def hashing(self, total_bytes: int) -> None:
        self._finish_current()
        self._task = self._progress.add_task("Hashing files", total=max(total_bytes, 1), detail="")

    def hashed(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def detail(self, text: str) -> None:
        if self._task is not None and text.strip():
            self._progress.update(self._task, detail=text.strip()[:60])
