"""The ``complementary`` rule: a suppressed cell is no secret when a total and the cells beside it give it back.

Totals are recognised by their label: a row whose first cell, or a column whose header, reads Total,
Totals, Grand total, All, Sum, 合計 or 計 (any case). Each row with a total column says "its count cells
add up to the total", each column with a total row "its cells above add up to the total", as long as
every fully shown line of that kind does add up (else the labels lie and the line proves nothing).
A line with exactly one unknown cell gives that cell back; recovering it may leave another line with
one unknown, so recovery runs until nothing more comes back. Only whether a cell can be recovered is
worked out, never its value.
"""

from __future__ import annotations

from collections import deque

from repropack.disclosure.checks.base import (
    CHECKS,
    DisclosureCheck,
    finding,
    is_suppressed,
    number,
    total_columns,
    total_rows,
)
from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules

Cell = tuple[int, int]  # (row index in table.rows, column index)


class _Line:
    """Cells that add up to ``total``, and how a recovered cell's finding says so."""

    def __init__(self, parts: list[Cell], total: Cell, kind: str, total_label: str) -> None:
        self.cells = [*parts, total]
        self.kind = kind  # "row" or "column"
        self.total_label = total_label


@CHECKS.register
class Complementary(DisclosureCheck):
    """Fails each suppressed cell of the declared count columns that the table's totals and shown cells
    give back (a suppressed total that comes back is not listed: it is the sum of cells)."""

    name = "complementary"

    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        lines = _lines(table, counts)
        if not lines:
            return []
        unknown = {cell for line in lines for cell in line.cells if is_suppressed(table.rows[cell[0]][cell[1]])}
        lines_of: dict[Cell, list[int]] = {}
        missing = []
        for n, line in enumerate(lines):
            missing.append(sum(cell in unknown for cell in line.cells))
            for cell in line.cells:
                lines_of.setdefault(cell, []).append(n)
        queue = deque(n for n, count in enumerate(missing) if count == 1)
        recovered: dict[Cell, str] = {}
        while queue:
            line = lines[queue.popleft()]
            cell = next((cell for cell in line.cells if cell in unknown and cell not in recovered), None)
            if cell is None:
                continue
            chained = any(other in recovered for other in line.cells)
            recovered[cell] = _detail(line, chained)
            for n in lines_of[cell]:
                missing[n] -= 1
                if missing[n] == 1:
                    queue.append(n)
        # A recovered total is only the sum of its line: it tells nothing the cells do not, so it is
        # not listed, though it may lead to a cell that is.
        rows, columns = total_rows(table), total_columns(table)
        secrets = sorted((r, c) for r, c in recovered if r not in rows and c not in columns)
        return [finding(path, table, r, c, self.name, recovered[(r, c)]) for r, c in secrets]


def _lines(table: Table, counts: list[int]) -> list[_Line]:
    rows, columns = total_rows(table), total_columns(table)
    parts = [c for c in counts if c > 0 and c not in columns]
    inner = [r for r in range(len(table.rows)) if r not in rows]
    families: list[list[_Line]] = []
    if parts:
        for total in columns:
            label = table.header[total]
            families.append([_Line([(r, c) for c in parts], (r, total), "row", label) for r in range(len(table.rows))])
    if inner:
        for total in rows:
            label = table.rows[total][0]
            families.append([_Line([(r, c) for r in inner], (total, c), "column", label) for c in parts + columns])
    return [line for family in families if _adds_up(table, family) for line in family if _usable(table, line)]


def _usable(table: Table, line: _Line) -> bool:
    """Every cell shows a number or is suppressed (a line with text in it is no sum)."""
    return all(number(table.rows[r][c]) is not None or is_suppressed(table.rows[r][c]) for r, c in line.cells)


def _adds_up(table: Table, family: list[_Line]) -> bool:
    for line in family:
        values = [number(table.rows[r][c]) for r, c in line.cells]
        if any(value is None for value in values):
            continue
        *parts, total = values
        if abs(sum(parts) - total) > 1e-6 * max(1.0, abs(total)):  # type: ignore[arg-type]
            return False
    return True


def _detail(line: _Line, chained: bool) -> str:
    where = "row" if line.kind == "row" else "column"
    label = f"{where} total ({'column' if line.kind == 'row' else 'row'} {line.total_label!r})"
    text = f"recoverable from the {label} and the other cells of the {where}"
    return text + (", once other suppressed cells are recovered" if chained else "")
