"""The ``csv`` rule: delimited tables compared cell by cell, numbers within a tolerance."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from repropack.compare.clock import is_clock_reading
from repropack.compare.context import NO_CONTEXT, ComparisonContext
from repropack.compare.excerpts import counted, quote
from repropack.compare.options import flag, non_negative_number, option
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.tolerance import Drift, NumericTolerance

_TAB_SEPARATED = {".tsv", ".tab"}

Row = list[str]


@dataclass(frozen=True)
class CsvOptions:
    rtol: float = option(0.0, non_negative_number)
    atol: float = option(0.0, non_negative_number)
    ignore_row_order: bool = option(False, flag)  # rows are sorted on both sides before comparing
    clock: bool = option(True, flag)  # a cell that is a date or time within each side's run window is not compared


@RULES.register
class CsvRule(ComparisonRule):
    """Equal when the headers are the same and every cell matches.

    The first row is the header. A cell that parses as a number on both sides
    is compared with ``rtol``/``atol`` (NaN equals NaN); a cell that is, on
    each side, a date or time within that side's run window is a clock
    reading and not compared (``clock``; see ``repropack.compare.clock``);
    any other cell must be the same text. Tab-separated files are recognised by their suffix
    (.tsv, .tab); the rest are read as comma-separated.
    """

    name = "csv"
    default_globs = ("*.csv", "*.tsv")
    Options = CsvOptions
    settings: CsvOptions

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        return self.compare_in(recorded, produced, NO_CONTEXT)

    def compare_in(self, recorded: Path, produced: Path, context: ComparisonContext) -> RuleOutcome:
        old_header, old_rows = _read_table(recorded)
        new_header, new_rows = _read_table(produced)
        if old_header != new_header:
            return RuleOutcome(equal=False, detail=f"header differs: {quote(old_header)} != {quote(new_header)}")
        if self.settings.ignore_row_order:
            old_rows, new_rows = sorted(old_rows, key=_row_order), sorted(new_rows, key=_row_order)
        return self._compare_rows(old_header, old_rows, new_rows, context)

    def _compare_rows(
        self, header: Row, old_rows: list[Row], new_rows: list[Row], context: ComparisonContext
    ) -> RuleOutcome:
        drift = Drift(NumericTolerance(self.settings.rtol, self.settings.atol))
        clocks = 0
        row_word = "sorted row" if self.settings.ignore_row_order else "row"
        first_difference = ""
        differing = 0
        for number, (old_row, new_row) in enumerate(zip_longest(old_rows, new_rows, fillvalue=None), start=1):
            for column, (old, new) in enumerate(zip_longest(old_row or [], new_row or [], fillvalue=None)):
                if self._cells_match(old, new, drift):
                    continue
                if self._clock_readings(old, new, context):
                    clocks += 1
                    continue
                differing += 1
                if not first_difference:
                    first_difference = (
                        f"{row_word} {number}, column {_column_name(header, column)}: {_cell(old)} != {_cell(new)}"
                    )
        if differing:
            rows = (
                ""
                if len(old_rows) == len(new_rows)
                else f"{counted(len(old_rows), 'row')} != {counted(len(new_rows), 'row')}; "
            )
            cells = "1 cell differs" if differing == 1 else f"{differing} cells differ"
            return RuleOutcome(equal=False, detail=f"{rows}{first_difference} ({cells})")
        tolerated = [drift.summary("numeric cell")]
        if clocks:
            tolerated.append(f"{counted(clocks, 'clock reading')} within each run's window masked")
        if self.settings.ignore_row_order:
            tolerated.append("rows compared in sorted order")
        return RuleOutcome(
            equal=True, detail="; ".join(part for part in tolerated if part) or "same cells; formatting differs"
        )

    @staticmethod
    def _cells_match(old: str | None, new: str | None, drift: Drift) -> bool:
        if old == new:
            return True
        old_number, new_number = _number(old), _number(new)
        if old_number is None or new_number is None:
            return False
        if not drift.tolerance.close(old_number, new_number):
            return False
        drift.note(old_number, new_number)
        return True

    def _clock_readings(self, old: str | None, new: str | None, context: ComparisonContext) -> bool:
        return (
            self.settings.clock
            and old is not None
            and new is not None
            and is_clock_reading(old, context.recorded)
            and is_clock_reading(new, context.replayed)
        )


def _read_table(path: Path) -> tuple[Row, list[Row]]:
    delimiter = "\t" if path.suffix.lower() in _TAB_SEPARATED else ","
    # utf-8-sig: a byte-order mark some spreadsheet tools add is not part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.reader(stream, delimiter=delimiter, strict=True))
    return (rows[0], rows[1:]) if rows else ([], [])


def _number(cell: str | None) -> float | None:
    # Python's float() also reads "1_000", which no CSV writer means as a number.
    if cell is None or "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _row_order(row: Row) -> tuple:
    # Numbers sort by value so tiny drift does not reorder rows the way text
    # sorting would ("0.0999999" vs "0.1"); NaN sorts after every number.
    key = []
    for cell in row:
        number = _number(cell)
        if number is None:
            key.append((2, 0.0, cell))
        elif math.isnan(number):
            key.append((1, 0.0, ""))
        else:
            key.append((0, number, ""))
    return tuple(key)


def _column_name(header: Row, column: int) -> str:
    return repr(header[column]) if column < len(header) else str(column + 1)


def _cell(value: str | None) -> str:
    return "<none>" if value is None else quote(value)
