"""Terminal rendering of ``repropack inspect``."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    return str(int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()))


def render_inspection(console: Console, d: dict) -> None:
    console.print(f"[bold]{d['title']}[/bold]  ({d['package']})")
    console.print(d["description"] or "")
    console.print(
        f"license {d['license'] or '-'} · published {d['date_published']} · authors {', '.join(a for a in d['authors'] if a) or '-'}"
    )
    if d["git"]:
        g = d["git"]
        console.print(
            f"git {g['commit']} on {g['branch'] or '(detached)'}{' (dirty)' if g['dirty'] else ''} {g['remote'] or ''}"
        )
    runs = Table(title="Runs")
    for col in ("notebook", "status", "kernel", "started", "seconds", "read", "wrote"):
        runs.add_column(col)
    for r in d["runs"]:
        runs.add_row(
            r["notebook"] or r["name"],
            r["status"].removesuffix("ActionStatus"),
            r["kernel"] or "",
            r["start_time"] or "-",
            _duration(r["start_time"], r["end_time"]),
            str(len(r["inputs"])),
            str(len(r["outputs"])),
        )
    console.print(runs)
    files = Table(title="Files")
    for col in ("path", "role", "size", "sha256"):
        files.add_column(col)
    for f in d["files"]:
        role = f["role"] + (" (restricted)" if f["restricted"] else "")
        files.add_row(f["path"], role, _size(f["size"]), f["sha256"][:16] + "…")
    console.print(files)
    env = d["environment"]
    console.print(
        f"Python {env['python_version']} · {len(env['lock'])} pinned distributions · environment {(env['environment_hash'] or '')[:16]}"
    )
