"""The replay verdict in the terminal: a rich table of outputs, drift and the cause.

Whatever comes from the package or the run (file names, diffs, causes, drift) is
shown literally (``ui.text``): a file may be named ``[red]x[/red].csv``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from repropack.ui.text import literal, plain

_STYLE = {"identical": "green", "equivalent": "green", "different": "red", "missing": "red", "unexpected": "dim"}
_VERDICT = {"reproduced": "bold green", "not_reproduced": "bold red", "failed": "bold yellow"}


def render_replay(console: Console, result) -> None:
    if result.outputs:
        table = Table(title="Outputs")
        for column in ("output", "status", "rule", "detail"):
            table.add_column(column)
        for o in result.outputs:
            first_line = o.detail.splitlines()[0] if o.detail else ""
            table.add_row(
                plain(o.path), Text(o.status.value, style=_STYLE[o.status.value]), plain(o.rule), plain(first_line)
            )
        console.print(table)
    for line in result.drift:
        console.print(f"[yellow]drift:[/yellow] {literal(line)}")
    if result.cause:
        console.print(f"[yellow]cause:[/yellow] {literal(result.cause)}")
    console.print(
        f"[{_VERDICT[result.verdict.value]}]{result.verdict.value.replace('_', ' ')}[/]  record: {literal(result.record)}"
    )
