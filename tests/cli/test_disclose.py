"""``repropack disclose check`` as a researcher in an enclave uses it, on real small tables.

Exit 0 when nothing must be withheld, 1 with one line per violating cell, 2 with one line for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from repropack.cli.main import main
from tests.disclosure.test_acro import acro_output, results_json
from tests.hostile.clikit import assert_refused, repropack

COUNTS = "region,n,mean_age\nTokyo,3,41.5\nOsaka,25,39.0\nNagoya,0,40.1\nTotal,28,40.0\n"
PASSING = "region,n\nTokyo,30\nOsaka,40\n"


def invoke(*args: str | Path):
    return CliRunner().invoke(main, ["disclose", "check", *map(str, args)], catch_exceptions=False)


def project(root: Path, disclosure: str = 'counts = ["n"]\n') -> Path:
    """A project whose repropack.toml declares ``disclosure`` and whose outputs/ holds a failing and a passing table."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "repropack.toml").write_text(f'title = "Claims"\n[disclosure]\n{disclosure}')
    (root / "outputs").mkdir()
    (root / "outputs" / "by_region.csv").write_text(COUNTS)
    (root / "outputs" / "overall.csv").write_text(PASSING)
    return root


def one_error(done, *fragments: str) -> str:
    """Exit 2, nothing on stdout, and exactly one error line on stderr holding every fragment."""
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("repropack: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_a_small_count_fails_with_one_line_per_cell(tmp_path):
    root = project(tmp_path / "study")
    done = invoke(root / "outputs", "--min-count", "10")
    assert done.exit_code == 1, done.output
    tokyo, nagoya = done.stdout.splitlines()
    assert tokyo == "outputs/by_region.csv: row Tokyo, column n: value 3: threshold (3 < 10)"
    assert nagoya.startswith(
        "outputs/by_region.csv: row Nagoya, column n: value 0: zeros ("
    )  # its detail is the rule's
    assert "disclosure control: failed — 2 cells in 1 file must not leave (2 files checked" in done.stderr
    assert "overridden by --min-count (min_count = 10)" in done.stderr


def test_the_projects_rules_apply_and_min_count_overrides_them(tmp_path):
    root = project(tmp_path / "study", 'counts = ["n"]\nmin_count = 2\nzeros_are_disclosive = false\n')
    assert invoke(root / "outputs").exit_code == 0  # 3 >= 2, zeros allowed
    stricter = invoke(root / "outputs", "--min-count", "5")
    assert stricter.exit_code == 1
    assert stricter.stdout.splitlines() == ["outputs/by_region.csv: row Tokyo, column n: value 3: threshold (3 < 5)"]


def test_a_passing_table_exits_0_and_says_what_was_checked(tmp_path):
    root = project(tmp_path / "study")
    done = invoke(root / "outputs" / "overall.csv")
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    assert "disclosure control: passed (1 file checked; min count 10" in done.stderr
    assert f"from {root.resolve() / 'repropack.toml'} [disclosure]" in done.stderr


def test_counts_in_undeclared_columns_are_not_flagged_and_the_summary_says_so(tmp_path):
    root = project(tmp_path / "study", 'counts = ["patients"]\n')
    done = invoke(root / "outputs")
    assert done.exit_code == 0, done.output
    assert "2 with tables but no declared count columns ([disclosure] counts)" in done.stderr


def test_json_prints_the_report_as_one_object_and_nothing_else(tmp_path):
    root = project(tmp_path / "study")
    done = invoke(root / "outputs", "--json")
    assert done.exit_code == 1
    report = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert report["status"] == "fail" and report["where"] == "check"
    assert report["rules"]["min_count"] == 10 and report["rules"]["counts"] == ["n"]
    by_path = {f["path"]: f for f in report["files"]}
    assert sorted(by_path) == ["outputs/by_region.csv", "outputs/overall.csv"]
    assert by_path["outputs/overall.csv"]["status"] == "pass"
    tokyo = by_path["outputs/by_region.csv"]["findings"][0]
    assert tokyo == {
        "path": "outputs/by_region.csv",
        "table": "",
        "row": "Tokyo",
        "column": "n",
        "value": "3",  # the person running the check sees values; nothing written elsewhere does
        "rule": "threshold",
        "detail": "3 < 10",
    }
    assert done.stderr == ""


def test_an_acro_results_json_that_says_fail_blocks_release(tmp_path):
    root = project(tmp_path / "study")
    acro = root / "outputs" / "acro"
    acro.mkdir()
    (acro / "output_0.csv").write_text("year,grants\n2020,12\n")
    (acro / "output_1.csv").write_text("year,grants\n2021,40\n")
    (acro / "results.json").write_bytes(
        results_json(
            acro_output("output_0", "fail", "output_0.csv", summary="fail; threshold: 2 cells suppressed; "),
            acro_output("output_1", "pass", "output_1.csv"),
        )
    )
    done = invoke(acro)
    assert done.exit_code == 1, done.output
    assert done.stdout.splitlines() == [
        "outputs/acro/output_0.csv: acro (ACRO results.json: status fail: fail; threshold: 2 cells suppressed)"
    ]


def test_a_results_json_naming_a_file_outside_its_folder_is_refused(tmp_path):
    root = project(tmp_path / "study")
    (root / "outputs" / "results.json").write_bytes(results_json(acro_output("output_0", "pass", "../secret.csv")))
    one_error(invoke(root / "outputs"), "outputs/results.json", "'../secret.csv'", "refused")


def test_a_figure_needs_review_by_a_person_and_does_not_block(tmp_path):
    root = project(tmp_path / "study")
    (root / "outputs" / "by_region.csv").write_text(PASSING)
    (root / "outputs" / "map.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    done = invoke(root / "outputs")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("outputs/map.png: needs review by a person: a figure")
    assert "disclosure control: pending a person's review — 1 file needs review by a person" in done.stderr


def test_a_notebooks_html_table_is_checked_and_named_by_cell(tmp_path):
    root = project(tmp_path / "study")
    html = (
        '<table border="1" class="dataframe"><thead><tr><th></th><th>n</th></tr></thead>'
        "<tbody><tr><th>Tokyo</th><td>4</td></tr><tr><th>Osaka</th><td>52</td></tr></tbody></table>"
    )
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "c1",
                "metadata": {},
                "execution_count": 1,
                "source": "df",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/html": html, "text/plain": "    n\nTokyo 4\nOsaka 52"},
                    }
                ],
            }
        ],
    }
    (root / "analysis.ipynb").write_text(json.dumps(notebook))
    done = invoke(root / "analysis.ipynb")
    assert done.exit_code == 1, done.output
    assert done.stdout.splitlines() == [
        "analysis.ipynb, cell 1, output 1, table 1: row Tokyo, column n: value 4: threshold (4 < 10)"
    ]


def test_hostile_cells_reach_the_terminal_escaped(tmp_path):
    root = project(tmp_path / "study")
    (root / "outputs" / "by_region.csv").write_text('region,n\n"\x1b]0;pwned\x07\x1b[2J",3\n')
    done = invoke(root / "outputs" / "by_region.csv")
    assert done.exit_code == 1
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "row \\x1b]0;pwned\\x07\\x1b[2J, column n: value 3" in done.stdout


@pytest.mark.parametrize(
    ("disclosure", "fragments"),
    [
        ('counts = ["n"]\nmincount = 5\n', ["unknown key mincount"]),
        ('min_count = "ten"\n', ["min_count must be a whole number", "'ten'"]),
        ('[disclosure.files."outputs/*.csv"]\nmin_count = 0\n', ['files."outputs/*.csv".min_count must be']),
    ],
)
def test_a_bad_disclosure_table_is_one_line_naming_the_key_and_file(tmp_path, disclosure, fragments):
    root = project(tmp_path / "study", disclosure)
    one_error(invoke(root / "outputs"), f"{root.resolve() / 'repropack.toml'} [disclosure]: ", *fragments)


@pytest.mark.parametrize(
    ("yaml_text", "fragments"),
    [
        ("safe_threshold: &t 10\nsafe_nk_n: *t\n", ["uses a YAML alias (line 2), which is refused"]),
        ("safe_threshold: ten\n", ["safe_threshold must be a whole number, 1 or more, not 'ten'"]),
        ("zeros_are_disclosive: maybe\n", ["zeros_are_disclosive must be true or false"]),
    ],
)
def test_a_bad_acro_config_is_one_line_naming_the_key_and_file(tmp_path, yaml_text, fragments):
    root = project(tmp_path / "study")
    (root / "acro.yaml").write_text(yaml_text)
    one_error(invoke(root / "outputs", "--rules", root / "acro.yaml"), f"{root / 'acro.yaml'}: ", *fragments)
    # The same file named by the project's acro_config: the line names both.
    (root / "repropack.toml").write_text('[disclosure]\ncounts = ["n"]\nacro_config = "acro.yaml"\n')
    one_error(invoke(root / "outputs"), f"{root.resolve() / 'acro.yaml'} (", "acro_config): ", *fragments)


def test_an_acro_config_as_rules_sets_the_threshold(tmp_path):
    root = project(tmp_path / "study")
    (root / "acro.yaml").write_text("safe_threshold: 2\nzeros_are_disclosive: false\nsafe_dof_threshold: 10\n")
    (root / "repropack.toml").write_text('[disclosure]\ncounts = ["n"]\nacro_config = "acro.yaml"\n')
    assert invoke(root / "outputs").exit_code == 0
    # --rules acro.yaml replaces the project's rules, counts included: no count column is declared then.
    alone = invoke(root / "outputs", "--rules", root / "acro.yaml")
    assert alone.exit_code == 0 and "no declared count columns" in alone.stderr


def test_a_path_that_does_not_exist_is_refused(tmp_path):
    one_error(invoke(tmp_path / "nowhere"), "nowhere: no such file or folder")


def test_links_are_never_followed(tmp_path):
    root = project(tmp_path / "study")
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("region,n\nTokyo,1\n")
    (root / "outputs" / "link.csv").symlink_to(secret)
    done = invoke(root / "outputs")
    assert "skipped" in done.stderr and "link.csv: not a regular file" in done.stderr
    assert "link.csv" not in done.stdout
    one_error(invoke(root / "outputs" / "link.csv"), "link.csv: a symlink")


def test_help_teaches_with_examples():
    done = CliRunner().invoke(main, ["disclose", "check", "--help"])
    assert done.exit_code == 0
    assert "repropack disclose check outputs/ analysis.ipynb --min-count 10" in done.output
    assert "--rules FILE" in done.output and "--min-count K" in done.output
    assert "Exit 0" in done.output


def test_the_installed_command_refuses_bad_input_with_one_line(tmp_path):
    root = project(tmp_path / "study", 'min_count = "ten"\n')
    assert_refused(repropack("disclose", "check", root / "outputs"), "repropack.toml [disclosure]: min_count")
    assert_refused(repropack("disclose", "check", root / "outputs", "--min-count", "0"), "--min-count")
