"""``repropack govern`` in the terminal: a policy run's progress and report, statuses, a history, regressions.

Titles, causes, diff summaries and ids come from packages strangers made: every one is shown literally
(``ui.text``), never as markup, with control characters escaped.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console
from rich.table import Table

from repropack.ui.text import literal, plain

_VERDICT = {
    "reproduced": "[green]reproduced[/green]",
    "not_reproduced": "[yellow]not reproduced[/yellow]",
    "failed": "[red]failed[/red]",
}
_EXIT_MEANING = {
    0: "every task ended and nothing regressed",
    1: "a package regressed",
    3: "a task could not run (the infrastructure failed past its retries); running the policy again retries it",
    130: "stopped before every task ran; running the policy again resumes this run",
}


class GovernProgress:
    """A policy run's progress as lines on a console (stderr), each stamped with the time: a run lasts hours and
    its lines end up in logs, so nothing is redrawn in place."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def _line(self, text: str, style: str = "") -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        body = f"[{style}]{literal(text)}[/{style}]" if style else literal(text)
        self._console.print(f"[dim]{stamp}[/dim] {body}", soft_wrap=True)

    def stage(self, text: str) -> None:
        self._line(text)

    def detail(self, text: str) -> None:
        self._line(text, "dim")

    def cells(self, notebook: str, done: int, total: int) -> None:
        """Cells run in the workers' processes: a policy run reports per package, not per cell."""

    def hashing(self, total_bytes: int) -> None:
        """Hashing happens in the workers too."""

    def hashed(self, nbytes: int) -> None:
        """As ``hashing``."""


def _verdict(value: str | None) -> str:
    return _VERDICT.get(value or "", literal(value or "-"))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if moment else "-"


def render_report(console: Console, report) -> None:
    """A policy run: each task, the regressions with their category and reason, any problem, and what the exit
    code means."""
    table = Table(title=f"Policy {report.policy.name}: run {report.run_id}" + (" (resumed)" if report.resumed else ""))
    for column in ("package", "version", "state", "verdict", "cause", "attempts", "seconds"):
        table.add_column(column)
    for outcome in report.outcomes:
        table.add_row(
            plain(outcome.public_id),
            str(outcome.version),
            plain(outcome.state.value),
            _verdict(outcome.verdict) if outcome.verdict else "-",
            plain(outcome.cause or outcome.detail or ""),
            str(outcome.attempts),
            f"{outcome.seconds:.1f}",
        )
    if report.outcomes:
        console.print(table)
    if report.regressions:
        render_regressions(console, report.regressions)
    for problem in report.problems:
        console.print(f"[yellow]problem:[/yellow] {literal(problem)}", soft_wrap=True)
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome.state.value] = counts.get(outcome.state.value, 0) + 1
    said = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing selected"
    console.print(f"{said}; {len(report.regressions)} regression(s): {_EXIT_MEANING[report.exit_code]}", soft_wrap=True)


def render_statuses(console: Console, statuses) -> None:
    """``govern status``: each package's newest version and its newest governed run."""
    table = Table(title="Packages: the newest verdict of each")
    for column in ("package", "version", "title", "verdict", "cause", "when", "runs", "base image"):
        table.add_column(column)
    for status in statuses:
        latest = status.latest
        table.add_row(
            plain(status.public_id),
            str(status.version),
            plain(status.title),
            _verdict(latest.verdict) if latest else "[dim]never replayed[/dim]",
            plain((latest.cause_kind or "") if latest else ""),
            _when(latest.finished_at) if latest else "-",
            str(status.runs),
            plain((latest.base_image or "") if latest else ""),
        )
    console.print(table)


def render_history(console: Console, public_id: str, entries) -> None:
    """``govern history ID``: every governed run of the package, oldest first."""
    if not entries:
        console.print(f"{literal(public_id)}: never replayed", soft_wrap=True)
        return
    table = Table(title=f"{plain(public_id)}: governed runs, oldest first")
    for column in ("when", "version", "verdict", "cause", "base image", "environment", "source", "policy run"):
        table.add_column(column)
    for entry in entries:
        environment = {True: "reused", False: "built"}.get(entry.image_reused, "-")
        table.add_row(
            _when(entry.finished_at),
            str(entry.version),
            _verdict(entry.verdict),
            plain(entry.cause or ""),
            plain(entry.base_image or "-"),
            environment,
            plain(entry.source),
            plain(entry.govern_run or "-"),
        )
    console.print(table)
    latest = entries[-1]
    if latest.diff_summary:
        console.print("differs in the newest run:")
        console.print(plain(latest.diff_summary, lines=True))


def render_regressions(console: Console, regressions) -> None:
    """Packages whose newest verdict is worse than the one before, with the category and the reason."""
    if not regressions:
        console.print("no regressions: no package's newest verdict is worse than the one before it")
        return
    table = Table(title="Regressions")
    for column in ("package", "version", "title", "category", "before", "now", "when", "reason"):
        table.add_column(column)
    for regression in regressions:
        table.add_row(
            plain(regression.public_id),
            str(regression.version),
            plain(regression.title),
            plain(regression.category.value),
            _verdict(regression.previous.verdict),
            _verdict(regression.latest.verdict),
            _when(regression.latest.finished_at),
            plain(regression.reason),
        )
    console.print(table)
