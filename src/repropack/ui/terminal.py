"""The replay verdict in the terminal: a rich table of outputs, drift and the cause."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

_STYLE = {"identical": "green", "equivalent": "green", "different": "red", "missing": "red", "unexpected": "dim"}
_VERDICT = {"reproduced": "bold green", "not_reproduced": "bold red", "failed": "bold yellow"}


def render_replay(console: Console, result) -> None:
    if result.outputs:
        table = Table(title="Outputs")
        for column in ("output", "status", "rule", "detail"):
            table.add_column(column)
        for o in result.outputs:
            first_line = o.detail.splitlines()[0] if o.detail else ""
            table.add_row(o.path, f"[{_STYLE[o.status.value]}]{o.status.value}[/]", o.rule, first_line)
        console.print(table)
    for line in result.drift:
        console.print(f"[yellow]drift:[/yellow] {line}")
    if result.cause:
        console.print(f"[yellow]cause:[/yellow] {result.cause}")
    console.print(
        f"[{_VERDICT[result.verdict.value]}]{result.verdict.value.replace('_', ' ')}[/]  record: {result.record}"
    )
