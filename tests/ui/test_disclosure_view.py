"""Disclosure findings as lines: every cell named, nothing from a hostile table reaching the terminal raw."""

from __future__ import annotations

from datetime import datetime, timezone

from repropack.disclosure.check import NO_COUNTS
from repropack.model.disclosure import (
    CellFinding,
    DisclosureReport,
    DisclosureRules,
    DisclosureStatus,
    FileDisclosure,
)
from repropack.ui.disclosure_view import finding_line, report_lines, summary_line
from tests.ui.test_terminal import HOSTILE

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _cell(**given: str) -> CellFinding:
    fields = {
        "path": "outputs/t.csv",
        "table": "",
        "row": "Tokyo",
        "column": "n",
        "value": "3",
        "rule": "threshold",
        "detail": "3 < 10",
    }
    return CellFinding(**{**fields, **given})


def _report(*files: FileDisclosure, rules: DisclosureRules | None = None) -> DisclosureReport:
    return DisclosureReport(rules or DisclosureRules(), files, NOW, NOW, "check")


def test_a_finding_is_one_line_naming_file_table_row_column_value_and_rule():
    assert finding_line(_cell()) == "outputs/t.csv: row Tokyo, column n: value 3: threshold (3 < 10)"
    in_notebook = _cell(path="analysis.ipynb", table="cell 7, output 1, table 1")
    assert finding_line(in_notebook) == (
        "analysis.ipynb, cell 7, output 1, table 1: row Tokyo, column n: value 3: threshold (3 < 10)"
    )


def test_a_finding_without_a_value_or_a_cell_leaves_those_parts_out():
    # A suppressed cell shows "", a report that left the enclave has every value emptied, ACRO names no cell.
    assert finding_line(_cell(value="", rule="complementary", detail="recoverable from the row total")) == (
        "outputs/t.csv: row Tokyo, column n: complementary (recoverable from the row total)"
    )
    acro = _cell(row="", column="", value="", rule="acro", detail="ACRO results.json: status fail: fail")
    assert finding_line(acro) == "outputs/t.csv: acro (ACRO results.json: status fail: fail)"
    assert finding_line(_cell(row="")) == 'outputs/t.csv: row "", column n: value 3: threshold (3 < 10)'


def test_hostile_cells_labels_and_names_are_escaped():
    line = finding_line(_cell(path=HOSTILE, table="\u202etable", row="\x1b]0;x\x07", column="a\nb", value="3\r"))
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line and "\r" not in line
    assert "\u202e" not in line
    assert "\\x1b]0;x\\x07" in line and "a\\nb" in line and "\\u202etable" in line


def test_report_lines_list_each_failing_cell_then_what_needs_review_then_the_outcome():
    report = _report(
        FileDisclosure("outputs/ok.csv", DisclosureStatus.PASS, tables=1),
        FileDisclosure("outputs/t.csv", DisclosureStatus.FAIL, (_cell(), _cell(row="Osaka", value="0")), tables=1),
        FileDisclosure("figures/map.png", DisclosureStatus.REVIEW, note="needs review by a person: a figure"),
    )
    lines = report_lines(report)
    assert lines[:3] == [
        "outputs/t.csv: row Tokyo, column n: value 3: threshold (3 < 10)",
        "outputs/t.csv: row Osaka, column n: value 0: threshold (3 < 10)",
        "figures/map.png: needs review by a person: a figure",
    ]
    assert lines[3] == summary_line(report)
    assert lines[3].startswith(
        "disclosure control: failed — 2 cells in 1 file must not leave; 1 file needs review by a person (3 files checked; "
    )
    assert "min count 10, zeros disclosive" in lines[3] and "from defaults (ACRO's)" in lines[3]
    assert report_lines(report, summary=False) == lines[:3]


def test_the_summary_says_passed_or_pending_review_and_the_rules_source():
    passed = _report(FileDisclosure("outputs/ok.csv", DisclosureStatus.PASS))
    assert report_lines(passed) == [summary_line(passed)]
    assert summary_line(passed).startswith("disclosure control: passed (1 file checked; min count 10")
    rules = DisclosureRules(min_count=5, counts=("n",), p_ratio=0.05, source="repropack.toml [disclosure]")
    pending = _report(FileDisclosure("f.png", DisclosureStatus.REVIEW, note="needs review by a person"), rules=rules)
    said = summary_line(pending)
    assert said.startswith("disclosure control: pending a person's review — 1 file needs review by a person")
    assert "min count 5" in said and "count columns: n" in said and "p 5 %" in said
    assert said.endswith("from repropack.toml [disclosure])")


def test_the_summary_says_when_tables_had_no_declared_count_columns():
    # Nothing in them was checked: a bare "passed" would promise more than the check did.
    report = _report(
        FileDisclosure("outputs/a.csv", DisclosureStatus.PASS, note=NO_COUNTS, tables=1),
        FileDisclosure("outputs/b.csv", DisclosureStatus.PASS, tables=1),
    )
    assert summary_line(report).startswith(
        "disclosure control: passed (2 files checked, 1 with tables but no declared count columns ([disclosure] counts); "
    )
