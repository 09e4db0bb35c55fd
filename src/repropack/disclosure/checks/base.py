"""The disclosure check extension point: a rule run on one table's declared count columns.

A check is a class with a ``name`` registered in ``CHECKS`` (``@CHECKS.register`` in a module, or an
entry point in the ``repropack.disclosure_checks`` group). ``check_outputs`` runs every registered check
on every table it reads; a check that does not apply to a table returns no findings.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from fnmatch import fnmatchcase
from typing import ClassVar

from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules
from repropack.plugins import Registry


class DisclosureCheck(ABC):
    """One statistical disclosure control rule. Subclasses set ``name`` and implement ``check``."""

    name: ClassVar[str]

    @abstractmethod
    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        """The cells of ``table`` (read from ``path``) that break this rule; ``counts`` are the indexes of its
        declared count columns and ``rules`` the file's effective rules. Must not raise on any table."""


#: The built-in checks, in the order their findings are listed, then those of installed distributions.
CHECKS: Registry[type[DisclosureCheck]] = Registry(
    kind="disclosure check",
    group="repropack.disclosure_checks",
    built_in=(
        "repropack.disclosure.checks.threshold",
        "repropack.disclosure.checks.zeros",
        "repropack.disclosure.checks.complementary",
        "repropack.disclosure.checks.dominance",
        "repropack.disclosure.checks.p_ratio",
    ),
)

TOTAL_LABELS = frozenset({"total", "totals", "grand total", "all", "sum", "合計", "計"})
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+")
_SUPPRESSED = {"", "nan", "<na>", "na", "n/a", "*", "x", "c", "-", "suppressed", "none"}
_BELOW = re.compile(r"<\s*\d+(?:\.\d+)?")


def number(text: str) -> float | None:
    """The cell's value when it shows a finite number ("12", "12.0", "1,234", "-3"), else None."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text.replace(",", ""))
    return value if math.isfinite(value) else None


def is_suppressed(text: str) -> bool:
    """True for a cell shown as withheld: empty, NaN, "*", "x", "c", "-", "<K", "suppressed" (any case)."""
    text = text.strip().lower()
    return text in _SUPPRESSED or bool(_BELOW.fullmatch(text))


def is_total_label(label: str) -> bool:
    """True for a row or column label that names a total: Total(s), Grand total, All, Sum, 合計, 計 (any case)."""
    return " ".join(label.split()).casefold() in TOTAL_LABELS


def total_rows(table: Table) -> list[int]:
    """Indexes in ``table.rows`` of the rows labelled as totals."""
    return [r for r, cells in enumerate(table.rows) if is_total_label(cells[0])]


def total_columns(table: Table) -> list[int]:
    """Indexes of the columns (past the row labels) headed as totals."""
    return [c for c, label in enumerate(table.header) if c > 0 and is_total_label(label)]


def finding(path: str, table: Table, row: int, column: int, rule: str, detail: str) -> CellFinding:
    """The finding for cell (``row``, ``column``) of ``table`` (``row`` indexes ``table.rows``)."""
    cells = table.rows[row]
    return CellFinding(
        path=path,
        table=table.name,
        row=cells[0],
        column=table.header[column],
        value=cells[column],
        rule=rule,
        detail=detail,
    )


def contributions(table: Table, rules: DisclosureRules, path: str) -> list[tuple[str, str, list[float]]]:
    """The cells of the ``magnitudes`` tables that match ``path``: (cell label, value column, contributions).

    A ``magnitudes`` entry ``{file, cell, value}`` says the table's rows are contributors: rows with the
    same values in the ``cell`` columns make one cell of the published aggregate, the ``value`` column
    holds each contributor's amount (its absolute value counts; a row without a number is skipped).
    The cell label is the ``cell`` values joined with " / " ("all rows" when ``cell`` is empty). A table
    without the named columns is not such a table and gives nothing.
    """
    found = []
    for entry in rules.magnitudes:
        glob, key, value = entry.get("file", "*"), entry.get("cell", ()), entry.get("value")
        if not isinstance(glob, str) or not fnmatchcase(path, glob) or not isinstance(value, str):
            continue
        if isinstance(key, str) or not all(isinstance(k, str) for k in key):
            continue
        columns = [table.header.index(k) if k in table.header else -1 for k in (*key, value)]
        if -1 in columns:
            continue
        *key_columns, value_column = columns
        groups: dict[tuple[str, ...], list[float]] = {}
        for cells in table.rows:
            amount = number(cells[value_column])
            if amount is not None:
                groups.setdefault(tuple(cells[k].strip() for k in key_columns), []).append(abs(amount))
        for label, amounts in groups.items():
            found.append((" / ".join(label) if label else "all rows", value, sorted(amounts, reverse=True)))
    return found


def shown(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
