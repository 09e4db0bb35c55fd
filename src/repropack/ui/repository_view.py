"""The repository's answers in the terminal: imports, a package, search hits, a check.

Titles, names, paths and messages come from packages strangers made: every one is shown literally
(``ui.text``), never as markup, with control characters escaped.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from repropack.fs.shown_paths import shown_path
from repropack.repository.queries import utc
from repropack.ui.text import literal, plain

_OUTCOME = {
    "imported": "[green]imported[/green]",
    "new-version": "[green]new version[/green]",
    "unchanged": "[dim]unchanged[/dim]",
    "record": "[green]run recorded[/green]",
}


def render_import(console: Console, outcome) -> None:
    """One line per import: what happened, the reference, and what the store gained."""
    said = _OUTCOME.get(outcome.outcome, literal(outcome.outcome))
    where = f"{literal(shown_path(outcome.source))} -> {literal(outcome.reference)}"
    if outcome.verdict is not None:
        detail = f"verdict {literal(outcome.verdict.replace('_', ' '))}"
        if outcome.outcome == "unchanged":
            detail += "; this record was imported before, nothing changed"
    elif outcome.outcome == "unchanged":
        detail = "this content is in the repository already; nothing changed"
    else:
        detail = f"{outcome.files_stored} file(s) stored ({outcome.bytes_written} bytes), {outcome.files_present} already present"
        if outcome.restricted:
            detail += f", {outcome.restricted} restricted (described only)"
    console.print(f"{said} {where}: {literal(outcome.title)}; {detail}", soft_wrap=True)
    if outcome.findings:
        # The advice is the package author's to act on (repropack check shows it to them); one line here.
        console.print(
            f"  {len(outcome.findings)} RECOMMENDED RO-Crate profile note(s), not refusals; "
            "--json lists them, `repropack check PACKAGE` explains them",
            soft_wrap=True,
        )


def render_package(console: Console, view) -> None:
    """``show``: the version's facts, its files, its runs, the other versions and the linked DOIs."""
    v = view.version
    console.print(f"[bold]{literal(view.public_id)}@{v.number}[/bold] {literal(v.title)}", soft_wrap=True)
    facts = [
        ("authors", ", ".join(a.name + (f" <{a.identifier}>" if a.identifier else "") for a in v.authors)),
        ("keywords", ", ".join(v.keywords)),
        ("license", v.license or ""),
        ("doi", v.doi or ""),
        ("linked", ", ".join(p.doi for p in view.publications)),
        ("version", v.work_version or ""),
        ("format", v.format),
        ("published", utc(v.date_published).isoformat() if v.date_published else ""),
        ("imported", utc(v.imported_at).isoformat(timespec="seconds")),
        ("files", f"{v.file_count} ({v.total_bytes} bytes)"),
        ("content", v.content_digest),
    ]
    for name, value in facts:
        if value:
            console.print(f"  {name + ':':11}{literal(value)}", soft_wrap=True)
    if v.description:
        console.print(plain(v.description, lines=True))
    table = Table(title="Files")
    for column in ("path", "size", "sha256", "role"):
        table.add_column(column)
    for f in v.files:
        table.add_row(
            plain(f.path), str(f.size), f.sha256[:16] + "…", plain(f.role + (" (restricted)" if f.restricted else ""))
        )
    console.print(table)
    for run in v.runs:
        cause = f": {literal(run.cause)}" if run.cause else ""
        when = utc(run.finished_at).isoformat() if run.finished_at else "time unknown"
        console.print(
            f"  run {literal(when)} {literal(run.verdict.replace('_', ' '))}{cause} (signer {literal(run.signer)})"
        )
    if len(view.versions) > 1:
        listed = ", ".join(f"{s.number}" + (" (shown)" if s.number == v.number else "") for s in view.versions)
        console.print(f"  versions: {listed}; latest {view.latest}")


def render_hits(console: Console, hits) -> None:
    if not hits:
        console.print("no package matches")
        return
    table = Table()
    for column in ("id", "title", "authors", "doi", "verdict"):
        table.add_column(column)
    for hit in hits:
        dois = ", ".join(dict.fromkeys([d for d in (hit.doi, *hit.linked_dois) if d]))
        table.add_row(
            plain(f"{hit.public_id}@{hit.version}"),
            plain(hit.title),
            plain(", ".join(hit.authors)),
            plain(dois),
            plain((hit.verdict or "").replace("_", " ")),
        )
    console.print(table)
