from __future__ import annotations

import pandas as pd

from repropack.disclosure.checks import CHECKS
from repropack.disclosure.tables import Table, read_tables
from repropack.model.disclosure import CellFinding, DisclosureRules

RULES = DisclosureRules()


def table(text: str) -> Table:
    [found] = read_tables("t.csv", text.encode())
    return found


def run(name: str, text: str, counts: list[int], rules: DisclosureRules = RULES) -> list[CellFinding]:
    return CHECKS.get(name)().check(table(text), counts, rules, "t.csv")


def cells(findings: list[CellFinding]) -> list[tuple[str, str]]:
    return [(f.row, f.column) for f in findings]


def test_the_built_in_checks_in_order() -> None:
    assert CHECKS.names()[:5] == ["threshold", "zeros", "complementary", "dominance", "p_ratio"]


# --- threshold and zeros ------------------------------------------------------------------------


def test_threshold_fails_counts_below_the_minimum_in_declared_columns_only() -> None:
    text = "g,n,m\na,3,3\nb,10,2\nc,9.0,1\nd,0,0\ne,1,234,5\n"
    found = run("threshold", text, [1])
    assert found == [
        CellFinding("t.csv", "", "a", "n", "3", "threshold", "3 < 10"),
        CellFinding("t.csv", "", "c", "n", "9.0", "threshold", "9.0 < 10"),
        CellFinding("t.csv", "", "e", "n", "1", "threshold", "1 < 10"),
    ]
    assert run("threshold", text, [1], DisclosureRules(min_count=3)) == [
        CellFinding("t.csv", "", "e", "n", "1", "threshold", "1 < 3")
    ]


def test_threshold_reads_thousands_and_ignores_text_and_suppressed_cells() -> None:
    text = 'g,n\na,"1,234"\nb,*\nc,\nd,<10\ne,few\nf,nan\n'
    assert run("threshold", text, [1]) == []


def test_zeros_fail_only_when_disclosive() -> None:
    text = "g,n,m\na,0,0\nb,0.0,5\n"
    assert cells(run("zeros", text, [1])) == [("a", "n"), ("b", "n")]
    assert run("zeros", text, [1], DisclosureRules(zeros_are_disclosive=False)) == []


# --- complementary ------------------------------------------------------------------------------


def test_one_suppressed_cell_beside_a_row_total_is_recoverable() -> None:
    [found] = run("complementary", "g,f,m,Total\na,,20,31\nb,15,12,27\n", [1, 2])
    assert (found.row, found.column, found.value, found.rule) == ("a", "f", "", "complementary")
    assert "row total" in found.detail and "11" not in found.detail


def test_two_suppressed_cells_in_a_row_with_no_other_way_in_pass() -> None:
    assert run("complementary", "g,f,m,Total\na,,,31\nb,15,12,27\n", [1, 2]) == []


def test_recovery_runs_until_nothing_more_comes_back() -> None:
    # b/f comes back from row b's total; then a/f is column f's only unknown, then a/m row a's.
    text = "g,f,m,Total\na,*,*,40\nb,,12,27\nTotal,41,,\n"
    found = run("complementary", text, [1, 2])
    assert cells(found) == [("a", "f"), ("a", "m"), ("b", "f")]  # the totals that come back are sums
    by_cell = {(f.row, f.column): f.detail for f in found}
    assert "row total" in by_cell[("b", "f")] and "once other" not in by_cell[("b", "f")]
    assert "once other suppressed cells are recovered" in by_cell[("a", "m")]


def test_no_totals_or_totals_that_do_not_add_up_prove_nothing() -> None:
    assert run("complementary", "g,f,m\na,,20\nb,15,12\n", [1, 2]) == []
    assert run("complementary", "g,f,m,Total\na,,20,31\nb,15,12,99\n", [1, 2]) == []
    assert run("complementary", "g,f,m,Total\na,,20,31\nb,15,12,27\n", []) == []


def test_a_pandas_crosstab_with_margins_is_recognised() -> None:
    frame = pd.DataFrame({"band": ["x"] * 15 + ["y"] * 30, "sex": ["f"] * 3 + ["m"] * 12 + ["f"] * 14 + ["m"] * 16})
    crosstab = pd.crosstab(frame["band"], frame["sex"], margins=True)
    masked = crosstab.mask(crosstab < 10)
    [found] = read_tables("t.csv", masked.to_csv(float_format="%.0f").encode())
    result = CHECKS.get("complementary")().check(found, [1, 2], RULES, "t.csv")
    assert cells(result) == [("x", "f")]


# --- dominance and p % --------------------------------------------------------------------------

CONTRIBUTORS = (
    "firm,region,sales\nf1,north,100\nf2,north,5\nf3,north,3\ng1,south,30\ng2,south,30\ng3,south,30\ng4,south,-30\n"
)
MAGNITUDES = ({"file": "*.csv", "cell": ["region"], "value": "sales"},)


def test_dominance_fails_cells_whose_largest_contributors_dominate() -> None:
    rules = DisclosureRules(magnitudes=MAGNITUDES)
    [found] = run("dominance", CONTRIBUTORS, [], rules)
    assert (found.row, found.column, found.value, found.rule) == ("north", "sales", "108", "dominance")
    assert "2 largest" in found.detail and "90%" in found.detail
    assert run("dominance", CONTRIBUTORS, [], DisclosureRules(magnitudes=MAGNITUDES, nk_k=0.99)) == []


def test_a_cell_of_few_contributors_always_fails_both_rules() -> None:
    text = "firm,region,sales\nf1,north,50\nf2,north,40\n"
    rules = DisclosureRules(magnitudes=MAGNITUDES)
    assert cells(run("dominance", text, [], rules)) == [("north", "sales")]
    assert cells(run("p_ratio", text, [], rules)) == [("north", "sales")]


def test_p_ratio_fails_when_the_rest_is_too_small_a_share_of_the_largest() -> None:
    text = "firm,region,sales\nf1,n,100\nf2,n,50\nf3,n,40\nf4,n,40\n"
    assert run("p_ratio", text, [], DisclosureRules(magnitudes=MAGNITUDES, p_ratio=0.5)) == []
    [found] = run("p_ratio", text, [], DisclosureRules(magnitudes=MAGNITUDES, p_ratio=0.9))
    assert (found.row, found.value, found.rule) == ("n", "230", "p_ratio")
    assert run("dominance", text, [], DisclosureRules(magnitudes=MAGNITUDES)) == []


def test_magnitude_rules_need_the_named_file_and_columns() -> None:
    other = ({"file": "other/*.csv", "cell": ["region"], "value": "sales"},)
    missing = ({"file": "*.csv", "cell": ["region"], "value": "turnover"},)
    for magnitudes in (other, missing, ()):
        assert run("dominance", CONTRIBUTORS, [], DisclosureRules(magnitudes=magnitudes)) == []


def test_no_cell_columns_makes_the_whole_table_one_cell() -> None:
    rules = DisclosureRules(magnitudes=({"file": "*", "cell": [], "value": "sales"},))
    [found] = run("dominance", "firm,sales\na,90\nb,5\nc,5\n", [], rules)
    assert found.row == "all rows"
