from __future__ import annotations

from repropack.disclosure.patterns import count_columns, effective_rules, is_checked
from repropack.model.disclosure import DisclosureRules

HEADER = ("n", "count_f", "count_m", "Count_x", "mean", "n")


def test_column_globs_pick_count_columns_case_sensitively() -> None:
    rules = DisclosureRules(counts=("count_*",))
    assert count_columns(rules, "outputs/t.csv", HEADER) == [1, 2]


def test_file_scoped_patterns_apply_only_to_matching_files() -> None:
    rules = DisclosureRules(counts=("outputs/by_*.csv:mean", "*.tsv:count_f"))
    assert count_columns(rules, "outputs/by_age.csv", HEADER) == [4]
    assert count_columns(rules, "outputs/other.csv", HEADER) == []
    assert count_columns(rules, "x/t.tsv", HEADER) == [1]


def test_the_row_label_column_is_a_count_only_when_named_exactly() -> None:
    assert count_columns(DisclosureRules(counts=("*",)), "t.csv", HEADER) == [1, 2, 3, 4, 5]
    assert count_columns(DisclosureRules(counts=("n",)), "t.csv", HEADER) == [0, 5]
    assert count_columns(DisclosureRules(counts=("n*",)), "t.csv", HEADER) == [5]


def test_no_patterns_no_counts() -> None:
    assert count_columns(DisclosureRules(), "t.csv", HEADER) == []


def test_the_first_matching_override_gives_the_rules() -> None:
    strict = DisclosureRules(min_count=20, source="strict")
    loose = DisclosureRules(min_count=5, source="loose")
    rules = DisclosureRules(overrides={"outputs/strict_*.csv": strict, "outputs/*.csv": loose})
    assert effective_rules(rules, "outputs/strict_a.csv") is strict
    assert effective_rules(rules, "outputs/b.csv") is loose
    assert effective_rules(rules, "outputs/b.tsv") is rules


def test_outputs_globs_choose_the_checked_files_and_none_means_all() -> None:
    assert is_checked(DisclosureRules(), "anything/at/all.bin")
    rules = DisclosureRules(outputs=("outputs/*.csv", "*.ipynb"))
    assert is_checked(rules, "outputs/t.csv") and is_checked(rules, "analysis.ipynb")
    assert not is_checked(rules, "outputs/t.CSV") and not is_checked(rules, "outputs/fig.png")
