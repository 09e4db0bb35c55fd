"""Disclosure control over a set of output files: one call, one ``DisclosureReport``.

Used by ``disclose check``, the export gate and the replay gate. What a caller may rely on:

- only the files given are read (a ``Path`` is read as a regular file, never through a link; bytes as
  they are); nothing found in a file names another file to open;
- every file that ``is_checked`` gets exactly one ``FileDisclosure``, in path order;
- a table's declared count columns go through every check in ``CHECKS``; a table with none passes with
  the note "no declared count columns"; figures and free text need a person (REVIEW); other files pass
  as "not tabular";
- an ACRO ``results.json`` among the files decides for the files it names (among those given): its
  ``fail`` and ``review`` become FAIL findings with rule "acro";
- the only error raised is ``BadInput`` (one line naming the file) for a file that cannot be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from repropack.disclosure.acro import read_results
from repropack.disclosure.checks import CHECKS
from repropack.disclosure.patterns import count_columns, effective_rules, is_checked
from repropack.disclosure.tables import (
    MAX_FILE_BYTES,
    NOTEBOOK,
    Table,
    displayed_outputs,
    load_notebook,
    read_tables,
    suffix,
)
from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.model.disclosure import (
    CellFinding,
    DisclosureReport,
    DisclosureRules,
    DisclosureStatus,
    FileDisclosure,
)

FIGURES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf"})
FREE_TEXT = frozenset({".txt", ".md", ".html", ".htm"})
FIGURE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml", "application/pdf")
ACRO_RESULTS = "results.json"

NO_COUNTS = "no declared count columns"
FIGURE_NOTE = "needs review by a person: a figure, which no rule can check"
TEXT_NOTE = "needs review by a person: free text, which no rule can check"


def check_outputs(files: Mapping[str, Path | bytes], rules: DisclosureRules, where: str) -> DisclosureReport:
    """Check ``files`` (package path -> the file on disk or its bytes) under ``rules``; ``where`` names the
    gate ("export", "replay", "check", "govern"). Raises BadInput for a file that cannot be checked."""
    started = datetime.now(timezone.utc)
    checked = sorted(path for path in files if is_checked(rules, path))
    decided: dict[str, FileDisclosure] = {}
    notes: dict[str, str] = {}
    for path in checked:
        if PurePosixPath(path).name == ACRO_RESULTS:
            decisions = read_results(path, _contents(path, files[path]))
            if decisions is not None:
                named = {target: fd for target, fd in decisions.items() if target in files}
                for target, decision in named.items():
                    decided[target] = _merged(decided.get(target), decision)
                notes[path] = f"ACRO results.json: decides for {len(named)} of the given files"
    reported = [
        _decided(path, _contents(path, files[path]), effective_rules(rules, path), decided.get(path), notes.get(path))
        for path in checked
    ]
    # ACRO's decision about a file the rules do not check still gates it.
    for path in sorted(set(decided) - set(checked)):
        reported.append(decided[path])
    reported.sort(key=lambda fd: fd.path)
    return DisclosureReport(
        rules=rules, files=tuple(reported), started=started, ended=datetime.now(timezone.utc), where=where
    )


def check_file(path: str, data: bytes, rules: DisclosureRules) -> FileDisclosure:
    """One file's outcome under its effective ``rules`` (ACRO results aside)."""
    tables = read_tables(path, data)
    kind = suffix(path)
    if tables is None:
        if kind in FIGURES:
            return FileDisclosure(path, DisclosureStatus.REVIEW, note=FIGURE_NOTE)
        if kind in FREE_TEXT:
            return FileDisclosure(path, DisclosureStatus.REVIEW, note=TEXT_NOTE)
        return FileDisclosure(path, DisclosureStatus.PASS, note="not tabular")
    findings: list[CellFinding] = []
    declared = False
    for table in tables:
        counts = count_columns(rules, path, table.header)
        declared = declared or bool(counts) or _has_magnitudes(rules, path)
        findings.extend(_run_checks(table, counts, rules, path))
    figures = _notebook_figures(path, data) if kind == NOTEBOOK else []
    note = f"needs review by a person: a figure in its outputs ({'; '.join(figures)})" if figures else ""
    if findings:
        return FileDisclosure(path, DisclosureStatus.FAIL, tuple(findings), note=note, tables=len(tables))
    if figures:
        return FileDisclosure(path, DisclosureStatus.REVIEW, note=note, tables=len(tables))
    if not tables:
        return FileDisclosure(path, DisclosureStatus.PASS, note="no tables", tables=0)
    return FileDisclosure(path, DisclosureStatus.PASS, note="" if declared else NO_COUNTS, tables=len(tables))


def _run_checks(table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
    found: list[CellFinding] = []
    for name in CHECKS.names():
        found.extend(CHECKS.get(name)().check(table, counts, rules, path))
    return found


def _has_magnitudes(rules: DisclosureRules, path: str) -> bool:
    return any(isinstance(m.get("file", "*"), str) and fnmatchcase(path, m.get("file", "*")) for m in rules.magnitudes)


def _notebook_figures(path: str, data: bytes) -> list[str]:
    notebook: dict[str, Any] = load_notebook(path, data)
    return [
        f"cell {c}, output {o}"
        for c, o, output in displayed_outputs(path, notebook)
        if any(mime in output.get("data", {}) for mime in FIGURE_TYPES)
    ]


def _decided(
    path: str, data: bytes, rules: DisclosureRules, acro: FileDisclosure | None, note: str | None
) -> FileDisclosure:
    if note is not None:  # an ACRO results.json: JSON, not itself an output anyone publishes
        own = FileDisclosure(path, DisclosureStatus.PASS, note=note)
    else:
        own = check_file(path, data, rules)
    return own if acro is None else _merged(own, acro)


def _merged(first: FileDisclosure | None, second: FileDisclosure) -> FileDisclosure:
    """Both outcomes for one file: the worse status, every finding, the first note."""
    if first is None:
        return second
    order = [DisclosureStatus.PASS, DisclosureStatus.REVIEW, DisclosureStatus.FAIL]
    status = max(first.status, second.status, key=order.index)
    return FileDisclosure(
        path=first.path,
        status=status,
        findings=first.findings + second.findings,
        note=first.note or second.note,
        tables=max(first.tables, second.tables),
    )


def _contents(path: str, source: Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return read_regular_file(source, limit=MAX_FILE_BYTES, what=path)
    except UnsafeData as error:
        raise BadInput(f"cannot check {path} for disclosure: {error}") from None
