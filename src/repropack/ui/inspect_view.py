"""``repropack inspect``: a package described as one JSON-able object, and drawn in the terminal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from repropack.crate.metadata import iso8601
from repropack.model import FileRecord, NotebookRun, Package, RunStatus
from repropack.parameters import shown
from repropack.ui.text import literal, plain

_ACTION_STATUS = {RunStatus.COMPLETED: "CompletedActionStatus", RunStatus.FAILED: "FailedActionStatus"}


def _file(record: FileRecord) -> dict:
    return {
        "path": record.path,
        "size": record.size,
        "sha256": record.sha256,
        "encoding_format": record.encoding_format,
        "role": record.role.value,
        "restricted": record.restricted,
        "access_note": record.access_note,
        "encrypted_copy": record.encrypted_copy,  # restricted, yet in the package: age-encrypted to recipients
        "recipients": list(record.recipients),
    }


def _run(run: NotebookRun) -> dict:
    return {
        "notebook": run.notebook,
        "name": f"Execution of {run.notebook}",
        "status": _ACTION_STATUS.get(run.status, run.status.value),
        "kernel": run.kernel_name or None,
        "start_time": iso8601(run.start_time) if run.start_time else None,
        "end_time": iso8601(run.end_time) if run.end_time else None,
        "inputs": sorted({run.notebook, *run.inputs}),
        "outputs": sorted({run.notebook, *run.outputs}),
        "error": "; ".join(run.errors) or None,
        "parameters": dict(run.parameters),  # injected into its parameters cell before it ran
    }


def describe_package(source: Path, package: Package, environment_hash: str) -> dict:
    """What ``repropack inspect --json`` prints."""
    meta = package.metadata
    files = [_file(f) for f in package.files]
    return {
        "package": str(source),
        "title": meta.title,
        "description": meta.description,
        "license": meta.license,
        "date_published": iso8601(meta.date_published),
        "authors": [a.name for a in meta.authors],
        "notebooks": [f.path for f in package.notebooks()],
        "files": files,
        "restricted": [f for f in files if f["restricted"]],
        "runs": [_run(r) for r in package.runs],
        "environment": {
            "python_version": package.environment.python_version or None,
            "environment_hash": environment_hash,
            "lock": [
                f"{d.name}=={d.version}  # {', '.join(d.reasons)}" for d in package.environment.lock if not d.local
            ],
        },
        "git": {
            "commit": package.git.commit,
            "branch": package.git.branch,
            "remote": package.git.remote_url,
            "dirty": package.git.dirty,
        }
        if package.git
        else None,
    }


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
    """The package in the terminal; every name and text from the package is shown literally (``ui.text``)."""
    console.print(f"[bold]{literal(d['title'])}[/bold]  ({literal(d['package'])})")
    console.print(plain(d["description"] or "", lines=True))
    console.print(
        plain(
            f"license {d['license'] or '-'} · published {d['date_published']} · authors {', '.join(a for a in d['authors'] if a) or '-'}"
        )
    )
    if d["git"]:
        g = d["git"]
        console.print(
            plain(
                f"git {g['commit']} on {g['branch'] or '(detached)'}{' (dirty)' if g['dirty'] else ''} {g['remote'] or ''}"
            )
        )
    runs = Table(title="Runs")
    for col in ("notebook", "status", "kernel", "started", "seconds", "read", "wrote"):
        runs.add_column(col)
    for r in d["runs"]:
        runs.add_row(
            plain(r["notebook"] or r["name"]),
            plain(r["status"].removesuffix("ActionStatus")),
            plain(r["kernel"] or ""),
            r["start_time"] or "-",
            _duration(r["start_time"], r["end_time"]),
            str(len(r["inputs"])),
            str(len(r["outputs"])),
        )
    console.print(runs)
    for r in d["runs"]:
        if r.get("parameters"):  # a description without them (hand-made) has none to show
            console.print(Text("parameters of ") + plain(r["notebook"]) + Text(": ") + plain(shown(r["parameters"])))
    files = Table(title="Files")
    for col in ("path", "role", "size", "sha256"):
        files.add_column(col)
    for f in d["files"]:
        role = f["role"] + (" (restricted)" if f["restricted"] else "")
        files.add_row(plain(f["path"]), plain(role), _size(f["size"]), plain(f["sha256"][:16] + "…"))
    console.print(files)
    for f in d["files"]:
        if f.get("encrypted_copy"):  # a description without the key (hand-made, older) has none to show
            console.print(
                plain(f"{f['path']} travels encrypted in {f['encrypted_copy']} to: {', '.join(f['recipients'])}")
            )
    env = d["environment"]
    console.print(
        plain(
            f"Python {env['python_version']} · {len(env['lock'])} pinned distributions · environment {(env['environment_hash'] or '')[:16]}"
        )
    )
