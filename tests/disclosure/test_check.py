from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_output

from repropack.disclosure.check import check_outputs
from repropack.errors import BadInput
from repropack.model.disclosure import CellFinding, DisclosureRules, DisclosureStatus
from tests.disclosure.kit import counts_frame, csv_bytes, example_counts, notebook_bytes

COUNTS = DisclosureRules(counts=("female", "male"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def by_path(report):
    return {f.path: f for f in report.files}


def test_a_count_below_k_in_a_declared_column_fails_with_its_cell() -> None:
    report = check_outputs({"outputs/t.csv": csv_bytes(counts_frame())}, COUNTS, "check")
    assert report.status is DisclosureStatus.FAIL and report.where == "check"
    assert report.failing() == ("outputs/t.csv",)
    assert report.findings() == (
        CellFinding("outputs/t.csv", "", "a", "female", "3", "threshold", "3 < 10"),
        CellFinding("outputs/t.csv", "", "c", "female", "0", "zeros", "a zero count, and zeros are disclosive"),
    )
    assert report.files[0].tables == 1


def test_zeros_pass_when_not_disclosive_and_min_count_is_the_rules() -> None:
    rules = DisclosureRules(counts=("female", "male"), zeros_are_disclosive=False, min_count=3)
    report = check_outputs({"t.csv": csv_bytes(counts_frame())}, rules, "check")
    assert report.status is DisclosureStatus.PASS and report.findings() == ()


def test_counts_in_undeclared_columns_are_not_flagged() -> None:
    report = check_outputs({"t.csv": csv_bytes(counts_frame())}, DisclosureRules(counts=("male",)), "check")
    assert report.status is DisclosureStatus.PASS and report.files[0].note == ""


def test_a_table_without_declared_count_columns_passes_with_a_note() -> None:
    report = check_outputs({"t.csv": csv_bytes(counts_frame())}, DisclosureRules(), "check")
    [result] = report.files
    assert result.status is DisclosureStatus.PASS and result.note == "no declared count columns"


def test_figures_and_free_text_need_a_person_and_other_files_are_not_tabular() -> None:
    files = {"fig.png": PNG, "plot.SVG": b"<svg/>", "notes.md": b"3 patients", "model.json": b"{}"}
    report = check_outputs(files, COUNTS, "export")
    results = by_path(report)
    assert report.status is DisclosureStatus.REVIEW
    assert report.needs_review() == ("fig.png", "notes.md", "plot.SVG")
    assert results["fig.png"].note.startswith("needs review by a person: a figure")
    assert results["notes.md"].note.startswith("needs review by a person: free text")
    assert results["model.json"].status is DisclosureStatus.PASS and results["model.json"].note == "not tabular"


def test_a_notebook_table_fails_and_its_text_outputs_are_not_flagged() -> None:
    stream = new_output("stream", name="stdout", text="3 patients in group a\n")
    data = notebook_bytes(counts_frame(), extra_outputs=[stream])
    [result] = check_outputs({"analysis.ipynb": data}, COUNTS, "export").files
    assert result.status is DisclosureStatus.FAIL
    assert {(f.table, f.row, f.column) for f in result.findings} == {
        ("cell 2, output 1, table 1", "a", "female"),
        ("cell 2, output 1, table 1", "c", "female"),
    }
    quiet = notebook_bytes(extra_outputs=[stream])
    assert check_outputs({"analysis.ipynb": quiet}, COUNTS, "export").status is DisclosureStatus.PASS


def test_a_figure_shown_in_a_notebook_needs_a_person() -> None:
    figure = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    [result] = check_outputs({"a.ipynb": notebook_bytes(extra_outputs=[figure])}, COUNTS, "export").files
    assert result.status is DisclosureStatus.REVIEW and "cell 2, output 1" in result.note


def test_only_the_declared_outputs_are_checked_and_overrides_apply_per_file() -> None:
    strict = DisclosureRules(counts=("female", "male"), min_count=20)
    rules = DisclosureRules(counts=("male",), outputs=("outputs/*",), overrides={"outputs/strict*.csv": strict})
    data = csv_bytes(counts_frame())
    report = check_outputs({"outputs/strict.csv": data, "outputs/t.csv": data, "other.csv": data}, rules, "check")
    assert [f.path for f in report.files] == ["outputs/strict.csv", "outputs/t.csv"]
    assert report.failing() == ("outputs/strict.csv",)
    strict_cells = {(f.row, f.column) for f in by_path(report)["outputs/strict.csv"].findings}
    assert strict_cells == {("a", "female"), ("c", "female"), ("a", "male"), ("c", "male")}


def test_files_on_disk_are_read_and_links_refused(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_bytes(csv_bytes(counts_frame()))
    assert check_outputs({"t.csv": table}, COUNTS, "replay").failing() == ("t.csv",)
    os.symlink(table, tmp_path / "link.csv")
    with pytest.raises(BadInput, match="link.csv"):
        check_outputs({"link.csv": tmp_path / "link.csv"}, COUNTS, "replay")


def test_an_unreadable_table_is_one_line_bad_input() -> None:
    with pytest.raises(BadInput) as caught:
        check_outputs({"outputs/a.ipynb": b"{not json"}, COUNTS, "export")
    assert "outputs/a.ipynb" in str(caught.value) and "\n" not in str(caught.value)


# --- the claims example -------------------------------------------------------------------------

EXAMPLE_RULES = DisclosureRules(counts=("outputs/counts_by_ageband_disease.csv:*",))
EXAMPLE_PATH = "outputs/counts_by_ageband_disease.csv"


def test_the_examples_published_masked_table_passes() -> None:
    counts = example_counts()
    published = counts.mask(counts < 10)
    assert published.isna().any().any()  # the example does suppress cells: this is a real case
    data = published.to_csv(float_format="%.0f").encode()
    report = check_outputs({EXAMPLE_PATH: data}, EXAMPLE_RULES, "export")
    assert report.status is DisclosureStatus.PASS and report.files[0].note == ""


def test_the_examples_unmasked_crosstab_fails_on_every_small_cell() -> None:
    counts = example_counts()
    report = check_outputs({EXAMPLE_PATH: counts.to_csv().encode()}, EXAMPLE_RULES, "export")
    small = {(band, group) for band, row in counts.iterrows() for group, n in row.items() if n < 10}
    assert report.status is DisclosureStatus.FAIL
    assert {(f.row, f.column) for f in report.findings()} == small


def test_the_examples_masked_table_with_margins_leaks_through_its_totals() -> None:
    counts = example_counts()
    published = counts.mask(counts < 10)
    published["Total"] = counts.sum(axis=1)
    report = check_outputs({EXAMPLE_PATH: published.to_csv(float_format="%.0f").encode()}, EXAMPLE_RULES, "export")
    assert {f.rule for f in report.findings()} == {"complementary"}


# --- ACRO results.json --------------------------------------------------------------------------


def acro_results(status: str, name: str = "table.csv") -> bytes:
    output = {
        "uid": "output_0",
        "status": status,
        "type": "table",
        "files": [{"name": name}],
        "summary": "fail; threshold: 2 cells suppressed",
    }
    return json.dumps({"version": "0.4.5", "results": {"output_0": output}}).encode()


@pytest.mark.parametrize("status", ["fail", "review"])
def test_an_acro_fail_or_review_fails_the_file_it_names(status: str) -> None:
    files = {"acro/results.json": acro_results(status), "acro/table.csv": b"k,v\na,1\n"}
    report = check_outputs(files, DisclosureRules(), "export")
    results = by_path(report)
    assert report.failing() == ("acro/table.csv",)
    [finding] = results["acro/table.csv"].findings
    assert finding.rule == "acro" and f"status {status}" in finding.detail
    assert results["acro/results.json"].status is DisclosureStatus.PASS


def test_an_acro_decision_gates_a_file_the_rules_do_not_check_but_never_one_not_given() -> None:
    rules = DisclosureRules(outputs=("acro/results.json",))
    files = {"acro/results.json": acro_results("fail"), "acro/table.csv": b"k,v\na,1\n"}
    assert check_outputs(files, rules, "export").failing() == ("acro/table.csv",)
    alone = check_outputs({"acro/results.json": acro_results("fail")}, rules, "export")
    assert alone.status is DisclosureStatus.PASS and [f.path for f in alone.files] == ["acro/results.json"]


def test_a_results_json_that_is_not_acros_is_just_a_file() -> None:
    [result] = check_outputs({"results.json": b'{"accuracy": 0.9}'}, COUNTS, "check").files
    assert result.status is DisclosureStatus.PASS and result.note == "not tabular"


# --- never anything but BadInput ----------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400) | st.text(alphabet=',"\n\r\t0123456789aTotl *x-<', max_size=300).map(str.encode))
def test_random_csv_bytes_give_a_report_or_bad_input(data: bytes) -> None:
    rules = DisclosureRules(counts=("*",), magnitudes=({"file": "*", "cell": [], "value": "a"},))
    for path in ("t.csv", "t.tsv"):
        try:
            report = check_outputs({path: data}, rules, "check")
        except BadInput as error:
            assert "\n" not in str(error)
        else:
            assert len(report.files) == 1


def test_the_examples_own_rules_pass_its_published_csv_and_notebook_tables_and_fail_the_raw_ones() -> None:
    from repropack.disclosure.rules import rules_from_file
    from tests.disclosure.kit import EXAMPLE

    rules = rules_from_file(EXAMPLE / "repropack.toml")
    counts = example_counts()
    published = counts.mask(counts < 10)
    summary = pd.DataFrame({"median_cost_eur": [3.5] * 9, "suppressed_cells": [2] * 9}, index=counts.columns)
    summary.index.name = "disease_group"
    good = {
        EXAMPLE_PATH: published.to_csv(float_format="%.0f").encode(),
        "analysis.ipynb": notebook_bytes(published, summary),
    }
    assert check_outputs(good, rules, "export").status is DisclosureStatus.PASS
    bad = {EXAMPLE_PATH: counts.to_csv().encode(), "analysis.ipynb": notebook_bytes(counts, summary)}
    report = check_outputs(bad, rules, "export")
    assert report.failing() == ("analysis.ipynb", EXAMPLE_PATH)
    assert {f.table for f in by_path(report)["analysis.ipynb"].findings} == {"cell 2, output 1, table 1"}
