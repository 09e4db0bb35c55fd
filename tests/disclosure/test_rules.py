"""The ``[disclosure]`` table and ACRO configs as rules: what each key sets, and one clear line for each bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repropack.disclosure.rules import (
    is_declared,
    nearest_project_rules,
    rules_from_acro_yaml,
    rules_from_file,
    rules_from_table,
    with_overrides,
)
from repropack.errors import BadInput
from repropack.model.disclosure import DisclosureRules

WHERE = "repropack.toml [disclosure]"


def test_an_empty_table_declares_nothing_and_gives_acros_defaults():
    assert not is_declared({})
    assert not is_declared(None)
    assert is_declared({"min_count": 5})
    rules = rules_from_table({}, WHERE, None)
    assert (rules.min_count, rules.zeros_are_disclosive, rules.nk_n, rules.nk_k, rules.p_ratio) == (
        10,
        True,
        2,
        0.90,
        0.10,
    )
    assert rules.source == WHERE


def test_every_key_sets_its_rule():
    table = {
        "min_count": 5,
        "zeros_are_disclosive": False,
        "counts": ["n", "outputs/*.csv:patients"],
        "dominance": {"n": 3, "k": 0.8},
        "p_ratio": 0.2,
        "magnitudes": [{"file": "outputs/income.csv", "cell": ["region", "year"], "value": "income"}],
        "outputs": ["outputs/*"],
    }
    rules = rules_from_table(table, WHERE, None)
    assert rules.min_count == 5
    assert rules.zeros_are_disclosive is False
    assert rules.counts == ("n", "outputs/*.csv:patients")
    assert (rules.nk_n, rules.nk_k, rules.p_ratio) == (3, 0.8, 0.2)
    assert rules.magnitudes == ({"file": "outputs/income.csv", "cell": ("region", "year"), "value": "income"},)
    assert rules.outputs == ("outputs/*",)
    assert rules.as_dict()["magnitudes"][0]["value"] == "income"


def test_a_per_file_override_is_the_tables_rules_with_its_keys_replaced_in_order():
    table = {
        "min_count": 5,
        "counts": ["n"],
        "files": {"outputs/rare_*.csv": {"min_count": 20}, "outputs/*.csv": {"zeros_are_disclosive": False}},
    }
    rules = rules_from_table(table, WHERE, None)
    assert list(rules.overrides) == ["outputs/rare_*.csv", "outputs/*.csv"]  # the first matching glob wins
    rare = rules.overrides["outputs/rare_*.csv"]
    assert (rare.min_count, rare.counts, rare.zeros_are_disclosive, rare.overrides) == (20, ("n",), True, {})
    assert rare.source == f'{WHERE} files."outputs/rare_*.csv"'
    assert rules.overrides["outputs/*.csv"].min_count == 5


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"min_count": "ten"},
            "min_count must be a whole number, 1 or more (a count below it is disclosive), not 'ten'",
        ),
        ({"min_count": 0}, "min_count must be a whole number, 1 or more"),
        ({"min_count": True}, "min_count must be a whole number"),
        ({"min_count": 2.5}, "min_count must be a whole number"),
        ({"mincount": 10}, "unknown key mincount (known: min_count, "),
        ({"zeros_are_disclosive": "yes"}, "zeros_are_disclosive must be true or false, not 'yes'"),
        ({"counts": "n"}, "counts must be a list of column patterns"),
        ({"counts": ["n", 3]}, "counts[1] must be a column pattern (a non-empty string), not 3"),
        ({"dominance": {"n": 2, "k": 1.5}}, "dominance.k must be a number above 0 and at most 1"),
        ({"dominance": {"m": 2}}, "unknown key dominance.m (known: n, k)"),
        ({"p_ratio": 0}, "p_ratio must be a number above 0 and at most 1"),
        (
            {"magnitudes": [{"file": "a.csv", "value": "v"}]},
            "magnitudes[0] needs cell: it must be a table {file = GLOB",
        ),
        ({"magnitudes": [{"file": "a.csv", "cell": [], "value": "v"}]}, "magnitudes[0].cell must be a non-empty list"),
        ({"files": {"outputs/*.csv": {"min_count": "ten"}}}, 'files."outputs/*.csv".min_count must be a whole number'),
        ({"files": {"outputs/*.csv": {"outputs": ["x"]}}}, 'unknown key files."outputs/*.csv".outputs'),
        ({"files": {"a.csv": 3}}, 'files."a.csv" must be a table of rules'),
        ({"acro_config": 3}, "acro_config must be the path, relative to the project, of an ACRO YAML config"),
    ],
)
def test_a_bad_table_is_one_line_naming_the_key_and_where(table, expected):
    with pytest.raises(BadInput) as refused:
        rules_from_table(table, WHERE, Path("/nonexistent"))
    message = str(refused.value)
    assert message.startswith(f"{WHERE}: "), message
    assert expected in message
    assert "\n" not in message


def test_a_table_that_is_not_a_table_is_refused():
    with pytest.raises(BadInput, match=r"^repropack.toml \[disclosure\]: must be a table$"):
        rules_from_table(["min_count"], WHERE, None)  # type: ignore[arg-type]


def _acro_yaml(folder: Path, text: str, name: str = "acro.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_an_acro_config_sets_the_thresholds_it_names_and_ignores_the_rest(tmp_path):
    path = _acro_yaml(
        tmp_path,
        "safe_threshold: 5\nsafe_dof_threshold: 10\nsafe_nk_n: 3\nsafe_nk_k: 0.75\nsafe_pratio_p: 0.2\n"
        "check_missing_values: false\nsurvival_safe_threshold: 10\nzeros_are_disclosive: false\n",
    )
    rules = rules_from_acro_yaml(path)
    assert (rules.min_count, rules.zeros_are_disclosive, rules.nk_n, rules.nk_k, rules.p_ratio) == (
        5,
        False,
        3,
        0.75,
        0.2,
    )
    assert rules.source == str(path)
    assert rules_from_acro_yaml(_acro_yaml(tmp_path, "", "empty.yaml")) == DisclosureRules(
        source=str(tmp_path / "empty.yaml")
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("safe_threshold: ten\n", "safe_threshold must be a whole number, 1 or more, not 'ten'"),
        ("safe_threshold: 0\n", "safe_threshold must be a whole number, 1 or more, not 0"),
        ("safe_nk_n: 2.5\n", "safe_nk_n must be a whole number"),
        ("safe_nk_k: 1.5\n", "safe_nk_k must be a number above 0 and at most 1"),
        ("safe_pratio_p: .nan\n", "safe_pratio_p must be a number above 0 and at most 1"),
        ("zeros_are_disclosive: 1\n", "zeros_are_disclosive must be true or false"),
        ("base: &b 10\nsafe_threshold: *b\n", "uses a YAML alias (line 2), which is refused"),
        ("- safe_threshold\n", "must be a YAML mapping of ACRO settings"),
        ("safe_threshold: [\n", "not a YAML config we read"),
    ],
)
def test_a_bad_acro_config_is_one_line_naming_the_file_and_key(tmp_path, text, expected):
    path = _acro_yaml(tmp_path, text)
    with pytest.raises(BadInput) as refused:
        rules_from_acro_yaml(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message
    assert "\n" not in message


def test_an_acro_config_that_is_a_link_or_missing_is_refused(tmp_path):
    target = _acro_yaml(tmp_path, "safe_threshold: 5\n", "real.yaml")
    (tmp_path / "link.yaml").symlink_to(target)
    with pytest.raises(BadInput, match="link.yaml: a symlink, not a regular file"):
        rules_from_acro_yaml(tmp_path / "link.yaml")
    with pytest.raises(BadInput, match="gone.yaml: missing"):
        rules_from_acro_yaml(tmp_path / "gone.yaml")


def test_acro_config_in_the_table_gives_thresholds_the_tables_own_keys_override(tmp_path):
    _acro_yaml(tmp_path, "safe_threshold: 5\nsafe_nk_k: 0.7\n")
    rules = rules_from_table({"acro_config": "acro.yaml", "min_count": 7}, WHERE, tmp_path)
    assert (rules.min_count, rules.nk_k) == (7, 0.7)
    assert rules.source == f"{WHERE} with ACRO config acro.yaml"
    _acro_yaml(tmp_path, "safe_threshold: ten\n")
    with pytest.raises(BadInput) as refused:
        rules_from_table({"acro_config": "acro.yaml"}, WHERE, tmp_path)
    assert str(refused.value).startswith(f"{tmp_path / 'acro.yaml'} ({WHERE} acro_config): safe_threshold must be")


@pytest.mark.parametrize("path", ["../acro.yaml", "/etc/acro.yaml", "a/../../acro.yaml", "C:/acro.yaml", "a\\b.yaml"])
def test_acro_config_never_leaves_the_project(tmp_path, path):
    # A package's recorded settings come back through rules_from_table at replay: they are hostile.
    with pytest.raises(BadInput, match=r"acro_config .* must be a path inside the project"):
        rules_from_table({"acro_config": path}, WHERE, tmp_path / "project")


def test_acro_config_needs_a_folder_to_be_read_from():
    with pytest.raises(BadInput, match="acro_config 'acro.yaml' cannot be read here"):
        rules_from_table({"acro_config": "acro.yaml"}, WHERE, None)


def test_the_replayers_overrides_win_everywhere_and_say_so():
    rules = rules_from_table({"min_count": 5, "files": {"outputs/a.csv": {"min_count": 3}}}, WHERE, None)
    stricter = with_overrides(rules, {"min_count": 20}, where="--min-count")
    assert stricter.min_count == 20
    assert stricter.overrides["outputs/a.csv"].min_count == 20
    assert stricter.source == f"{WHERE}, overridden by --min-count (min_count = 20)"
    assert with_overrides(rules, {}) is rules
    with pytest.raises(BadInput, match=r"^--min-count: min_count must be a whole number"):
        with_overrides(rules, {"min_count": 0}, where="--min-count")
    with pytest.raises(BadInput, match=r"^the replayer's disclosure settings: unknown key acro_config"):
        with_overrides(rules, {"acro_config": "x.yaml"})


def test_rules_from_file_reads_a_repropack_toml_a_pyproject_or_an_acro_config(tmp_path):
    (tmp_path / "repropack.toml").write_text('title = "T"\n[disclosure]\nmin_count = 4\n')
    assert rules_from_file(tmp_path / "repropack.toml").min_count == 4
    (tmp_path / "pyproject.toml").write_text("[tool.repropack.disclosure]\nmin_count = 6\n")
    assert rules_from_file(tmp_path / "pyproject.toml").min_count == 6
    assert rules_from_file(_acro_yaml(tmp_path, "safe_threshold: 8\n", "acro.yml")).min_count == 8
    (tmp_path / "other.toml").write_text('title = "T"\n')
    with pytest.raises(BadInput, match=r"other.toml: has no \[disclosure\] table"):
        rules_from_file(tmp_path / "other.toml")
    (tmp_path / "rules.json").write_text("{}")
    with pytest.raises(BadInput, match="rules.json: not a rules file"):
        rules_from_file(tmp_path / "rules.json")
    (tmp_path / "broken.toml").write_text("[disclosure\n")
    with pytest.raises(BadInput, match="broken.toml: invalid TOML"):
        rules_from_file(tmp_path / "broken.toml")


def test_the_nearest_project_above_a_path_gives_the_rules(tmp_path):
    project = tmp_path / "study"
    (project / "outputs" / "deep").mkdir(parents=True)
    (project / "repropack.toml").write_text("[disclosure]\nmin_count = 3\n")
    rules, root = nearest_project_rules(project / "outputs" / "deep")
    assert (rules.min_count, root) == (3, project.resolve())
    assert rules.source == f"{project.resolve() / 'repropack.toml'} [disclosure]"
    (project / "repropack.toml").write_text('title = "no rules"\n')
    assert nearest_project_rules(project / "outputs") == (DisclosureRules(), project.resolve())
    (project / "repropack.toml").write_text("[disclosure]\nmin_count = 'ten'\n")
    with pytest.raises(BadInput, match=r"repropack.toml \[disclosure\]: min_count must be a whole number"):
        nearest_project_rules(project / "outputs")


def test_the_walk_up_stops_at_the_git_top_and_passes_over_a_strangers_config(tmp_path):
    shared = tmp_path / "shared"
    project = shared / "study"
    (project / "outputs").mkdir(parents=True)
    (shared / "repropack.toml").write_text("[disclosure]\nmin_count = 1\n")  # laxer rules planted above
    (project / ".git").mkdir()
    assert nearest_project_rules(project / "outputs") == (DisclosureRules(), None)  # the git top ends the walk
    (project / ".git").rmdir()
    assert nearest_project_rules(project / "outputs")[0].min_count == 1
    if os.geteuid() != 0:
        pytest.skip("giving the planted file to another user needs root")
    os.chown(shared / "repropack.toml", 54321, 54321)
    assert nearest_project_rules(project / "outputs") == (DisclosureRules(), None)
