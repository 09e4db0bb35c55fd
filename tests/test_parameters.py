"""Notebook parameters: papermill's typing of -p values, parameters files within limits, and literal injection."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import nbformat
import pytest

from repropack import parameters
from repropack.errors import BadInput


def _notebook(*cells: tuple[str, list[str] | None]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags is not None:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nbformat.from_dict(nb)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2024", 2024),
        ("-3", -3),
        ("0.05", 0.05),
        ("1e3", 1000.0),
        ("True", True),
        ("False", False),
        ("None", None),
        ("true", "true"),  # papermill -p: only Python's spellings are booleans
        ("Kyoto", "Kyoto"),
        ("[1, 2]", "[1, 2]"),  # -p never parses structure: a list comes from a parameters file
        ("", ""),
    ],
)
def test_cli_values_are_typed_as_papermill_types_them(text, value):
    parsed = parameters.typed_cli_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_later_pairs_win_and_the_table_is_checked():
    assert parameters.parse_cli_pairs([("year", "2023"), ("year", "2024"), ("site", "Kyoto")]) == {
        "year": 2024,
        "site": "Kyoto",
    }


@pytest.mark.parametrize("name", ["1st", "a-b", "x y", "class", "x=1;import os#", "é", ""])
def test_a_name_that_is_not_a_python_identifier_is_refused(name):
    with pytest.raises(BadInput, match=r"^--parameter: parameter name .* is not a Python identifier"):
        parameters.parse_cli_pairs([(name, "1")])


def test_non_finite_numbers_are_refused_as_the_metadata_is_json():
    with pytest.raises(BadInput, match="parameter x: nan is not a finite number"):
        parameters.parse_cli_pairs([("x", "nan")])


def test_a_yaml_file_gives_typed_values_lists_mappings_and_per_notebook_tables(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "year: 2024\nalpha: 0.05\nsite: Kyoto\nstrict: yes\ngroups: [a, b]\nlimits: {low: 1, high: 2.5}\n"
        "when: 2024-01-01\nanalysis.ipynb:\n  year: 2020\n"
    )
    table = parameters.read_parameters_file(path)
    assert table == {
        "year": 2024,
        "alpha": 0.05,
        "site": "Kyoto",
        "strict": True,
        "groups": ["a", "b"],
        "limits": {"low": 1, "high": 2.5},
        "when": "2024-01-01",  # papermill's loader keeps dates as text
        "analysis.ipynb": {"year": 2020},
    }
    assert parameters.for_notebook(table, "analysis.ipynb")["year"] == 2020
    assert parameters.for_notebook(table, "other.ipynb")["year"] == 2024


def test_upper_layer_values_win_over_lower_per_notebook_ones_too():
    lower = {"year": 2020, "site": "Kyoto", "a.ipynb": {"year": 2019, "alpha": 0.1}}
    merged = parameters.merge(lower, {"year": 2024})
    assert parameters.for_notebook(merged, "a.ipynb") == {"year": 2024, "site": "Kyoto", "alpha": 0.1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", "must be a mapping of parameter names to values"),
        ("x: [1, 2\n", "not YAML"),
        ("x: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "not YAML"),
        ("x: !!binary aGVsbG8=\n", "a bytes is no parameter value"),
        ("a.ipynb: 3\n", "'a.ipynb' names a notebook: its value must be a table"),
        ("1: 2\n", "parameter name 1 is not a Python identifier"),
        ("x: {1: 2}\n", "mapping key 1 is not a string"),
        ("x: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 32 levels"),
        ("x: .inf\n", "is not a finite number"),
    ],
)
def test_a_bad_parameters_file_is_refused_naming_it(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match=f"^--parameters-file {path}.*{message}"):
        parameters.read_parameters_file(path)
    assert not Path("/tmp/pwned").exists()


def test_a_yaml_alias_bomb_is_refused_by_counting_values_as_they_expand(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(BadInput, match="more than 10000 values in all"):
        parameters.read_parameters_file(path)


def test_a_huge_or_special_parameters_file_is_refused_before_it_is_parsed(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("x: '" + "a" * parameters.MAX_FILE_BYTES + "'\n")
    with pytest.raises(BadInput, match=f"^--parameters-file {huge}: .* bytes, more than the 1048576 allowed"):
        parameters.read_parameters_file(huge)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="FIFO, not a regular file"):
        parameters.read_parameters_file(fifo)
    link = tmp_path / "link.yaml"
    link.symlink_to(huge)
    with pytest.raises(BadInput, match="a symlink, not a regular file"):
        parameters.read_parameters_file(link)


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    '"; import os; os.system("touch /tmp/pwned"); x = "',
    "\\\"; __import__('os'); #",
    "line one\nimport os\n",
    "\u202e bidi \x1b[31m",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_that_is_code_is_injected_as_a_string_literal(value):
    nb = parameters.inject(_notebook(("x = 1", ["parameters"]), ("print(x)", None)), {"x": value}, "python3")
    injected = nb.cells[1]
    assert injected.metadata.tags == ["injected-parameters"]
    tree = ast.parse(injected.source)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Assign)
    assert ast.literal_eval(tree.body[0].value) == value  # a literal: nothing to evaluate
    assert "tags" not in nb.cells[2].metadata  # papermill's tags come off the cells that had none


def test_injection_replaces_a_previous_injected_cell_and_verification_matches_it():
    nb = parameters.inject(_notebook(("x = 1", ["parameters"]), ("print(x)", None)), {"x": 2}, "python3")
    nb = parameters.inject(nb, {"x": 3}, "python3")
    assert [c.source for c in nb.cells] == ["x = 1", "# Parameters\nx = 3\n", "print(x)"]
    as_json = json.loads(nbformat.writes(nb))
    parameters.verify_injected(as_json, {"x": 3}, "python3", "nb.ipynb")
    with pytest.raises(BadInput, match="^nb.ipynb: the recorded parameters and the notebook's injected-parameters"):
        parameters.verify_injected(as_json, {"x": 2}, "python3", "nb.ipynb")
    as_json["cells"].append(as_json["cells"][1])
    with pytest.raises(BadInput, match=r"disagree \(the notebook has 2 injected-parameters cells, not one\)"):
        parameters.verify_injected(as_json, {"x": 3}, "python3", "nb.ipynb")


def test_a_notebook_without_a_parameters_cell_gets_the_values_at_the_top():
    nb = _notebook(("print(x)", None))
    assert not parameters.has_parameters_cell(nb)
    nb = parameters.inject(nb, {"x": [1, "two"]}, "python3")
    assert nb.cells[0].source == '# Parameters\nx = [1, "two"]\n'
    assert nb.metadata.papermill.parameters == {"x": [1, "two"]}
