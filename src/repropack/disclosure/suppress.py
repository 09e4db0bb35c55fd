"""Masked copies of outputs that failed disclosure control (``export --suppress``, and replay re-applying it).

What a caller may rely on: the same bytes and findings always give the same bytes back; a file with no
finding comes back unchanged; only the file's own findings (``finding.path == path``) are applied.

- A threshold or zeros finding empties exactly its cell (row label, column). A ``complementary``
  finding's cell is already empty; what gives it back is a total, so every total row and column of
  its table is emptied. A finding on a contributor table (dominance, p %) names a cell of the
  aggregate, not a row: its whole value column is emptied.
- CSV/TSV: written back with the file's delimiter, line ending, byte order mark and final newline.
- Notebook: each output holding a failing table becomes the masked HTML table(s) plus a ``text/plain``
  note saying so; every other mime type of that output (the DataFrame's text repr, above all) is dropped.
- An ACRO ``results.json`` decision is about a whole file and cannot be masked: BadInput, as for a
  finding that names no cell of the file.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from repropack.disclosure.check import check_outputs
from repropack.disclosure.checks.base import is_total_label
from repropack.disclosure.tables import (
    DELIMITED,
    NOTEBOOK,
    Table,
    csv_rows,
    csv_text,
    load_notebook,
    notebook_tables,
    suffix,
)
from repropack.errors import BadInput
from repropack.model.disclosure import CellFinding, DisclosureReport, DisclosureRules

_WHOLE_COLUMN = ("dominance", "p_ratio")


def suppressed_copy(path: str, data: bytes, findings: Sequence[CellFinding]) -> bytes:
    """``data`` (the file at package path ``path``) with the cells of ``findings`` masked (see the module)."""
    mine = [f for f in findings if f.path == path]
    if not mine:
        return data
    for f in mine:
        if f.rule == "acro":
            raise BadInput(f"{path}: ACRO's results.json decided on the whole file; it cannot be masked cell by cell")
    if suffix(path) in DELIMITED:
        return _masked_delimited(path, data, mine)
    if suffix(path) == NOTEBOOK:
        return _masked_notebook(path, data, mine)
    raise BadInput(f"{path}: not a table; its disclosure findings cannot be masked")


@dataclass(frozen=True)
class Masking:
    """What masking the failing files of one check gave: the gates at export and replay decide what follows.

    ``masked``: package path -> masked bytes, for each failing file whose masked copy passes the check again.
    ``unmaskable``: failing files no mask can make safe (not a table, judged whole by an ACRO results.json,
    or not given as bytes). ``recheck``: the masked copies checked again (None when nothing could be masked);
    a file failing there can be recovered even masked (a cell from a total) and is in neither list.
    """

    masked: Mapping[str, bytes] = field(default_factory=dict)
    unmaskable: tuple[str, ...] = ()
    recheck: DisclosureReport | None = None

    @property
    def still_failing(self) -> tuple[str, ...]:
        return self.recheck.failing() if self.recheck else ()


def mask_failing(report: DisclosureReport, files: Mapping[str, bytes], rules: DisclosureRules, where: str) -> Masking:
    """Mask every file ``report`` fails (its bytes in ``files``) and check the masked copies again under ``rules``."""
    findings = {f.path: f.findings for f in report.files}
    copies: dict[str, bytes] = {}
    unmaskable = []
    for path in report.failing():
        data = files.get(path)
        try:
            if data is None or not findings[path]:
                raise BadInput(f"{path}: nothing to mask")
            copies[path] = suppressed_copy(path, data, findings[path])
        except BadInput:
            unmaskable.append(path)
    if not copies:
        return Masking(unmaskable=tuple(unmaskable))
    recheck = check_outputs(copies, rules, where)
    still = set(recheck.failing())
    return Masking({p: d for p, d in copies.items() if p not in still}, tuple(unmaskable), recheck)


def masked_cells(path: str, header: Sequence[str], body: Sequence[Sequence[str]], findings: Sequence[CellFinding]):
    """The (body row, column) positions to empty for ``findings`` on one table."""
    masked: set[tuple[int, int]] = set()
    for f in findings:
        columns = [j for j, label in enumerate(header) if label == f.column]
        if not columns:
            raise BadInput(f"{path}: a disclosure finding names column {f.column!r}, which is not in the table")
        if f.rule == "complementary":
            totals = [j for j, label in enumerate(header) if j > 0 and is_total_label(label)]
            for i, row in enumerate(body):
                whole_row = bool(row) and is_total_label(row[0])
                masked.update((i, j) for j in range(1, len(row)) if whole_row or j in totals)
            continue
        rows = [i for i, row in enumerate(body) if row and row[0] == f.row]
        if f.rule in _WHOLE_COLUMN or not rows:
            rows = list(range(len(body)))
        masked.update((i, j) for i in rows for j in columns if j < len(body[i]))
    return masked


def _masked_delimited(path: str, data: bytes, findings: Sequence[CellFinding]) -> bytes:
    rows, delimiter = csv_rows(path, data)
    if not rows:
        raise BadInput(f"{path}: an empty table has no cells to mask")
    for f in findings:
        if f.table:
            raise BadInput(f"{path}: a disclosure finding names table {f.table!r}; the file is one table")
    body = rows[1:]
    for i, j in masked_cells(path, rows[0], body, findings):
        body[i][j] = ""
    text = csv_text(path, data)
    first = text.find("\n")
    newline = "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerows(rows)
    written = out.getvalue()
    if not text.endswith(("\n", "\r")):
        written = written[: -len(newline)]
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    return bom + written.encode("utf-8")


def _masked_notebook(path: str, data: bytes, findings: Sequence[CellFinding]) -> bytes:
    notebook = load_notebook(path, data)
    by_table: dict[str, list[CellFinding]] = {}
    for f in findings:
        by_table.setdefault(f.table, []).append(f)
    seen: set[str] = set()
    for c, o, tables in notebook_tables(path, notebook):
        failing = [t for t in tables if t.name in by_table]
        if not failing:
            continue
        seen.update(t.name for t in failing)
        shown, count = [], 0
        for table in tables:
            masked = masked_cells(path, table.header, table.rows, by_table.get(table.name, []))
            count += len(masked)
            shown.append(_html(table, masked))
        rules = sorted({f.rule for t in failing for f in by_table[t.name]})
        old = notebook["cells"][c - 1]["outputs"][o - 1]
        new: dict[str, Any] = {
            "output_type": old["output_type"],
            "data": {
                "text/html": "\n".join(shown),
                "text/plain": f"table withheld by disclosure control: {count} cells masked ({', '.join(rules)})",
            },
            "metadata": {},
        }
        if old["output_type"] == "execute_result":
            new["execution_count"] = old.get("execution_count")
        notebook["cells"][c - 1]["outputs"][o - 1] = new
    unknown = sorted(set(by_table) - seen)
    if unknown:
        raise BadInput(f"{path}: a disclosure finding names {unknown[0]!r}, which is no table of the notebook")
    return (json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _html(table: Table, masked: set[tuple[int, int]]) -> str:
    """The table in pandas' ``to_html`` shape (header row, row labels as ``th``), masked cells empty."""

    def row(cells: Sequence[str], first: str, rest: str) -> str:
        tags = [
            f"<{first if j == 0 else rest}>{html.escape(text)}</{first if j == 0 else rest}>"
            for j, text in enumerate(cells)
        ]
        return "      <tr>" + "".join(tags) + "</tr>"

    body = [
        row([("" if (i, j) in masked else text) for j, text in enumerate(cells)], "th", "td")
        for i, cells in enumerate(table.rows)
    ]
    return "\n".join(
        [
            '<table border="1" class="dataframe">',
            "  <thead>",
            row(table.header, "th", "th"),
            "  </thead>",
            "  <tbody>",
            *body,
            "  </tbody>",
            "</table>",
        ]
    )
