"""Export with notebook parameters: injected by papermill, packed in the executed notebook, recorded as
PropertyValues of each run and in settings.json, and refused (exit 2, nothing written) when they cannot be."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from repropack.crate.check import check_package
from repropack.crate.metadata import PARAMETER_ID
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.model import layout
from tests.conftest import isolate_user_dirs, make_project
from tests.hostile.clikit import assert_refused, repropack

PARAMETERS_CELL = "year = 2000\nsite = 'nowhere'\ngroups = ['a']"
WRITE_CELL = (
    "import os\nos.makedirs('outputs', exist_ok=True)\n"
    "with open('outputs/value.csv', 'w') as fh:\n"
    "    fh.write(f'year,site,groups\\n{year},{site},{\"|\".join(groups)}\\n')"
)


def write_parameterised_notebook(path: Path, parameters_tag: bool = True) -> Path:
    """A notebook whose first cell, tagged 'parameters', sets defaults that its output CSV shows."""
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(PARAMETERS_CELL)
    if parameters_tag:
        first.metadata["tags"] = ["parameters"]
    nb.cells = [first, nbformat.v4.new_code_cell(WRITE_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def parameterised_project(root: Path) -> Path:
    make_project(root)
    (root / "analysis.ipynb").unlink()
    write_parameterised_notebook(root / "report.ipynb")
    return root


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One project exported twice: with parameters (-p and a file) and without, in the same folder layout."""
    base = tmp_path_factory.mktemp("parameters")
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, base / "home")
        project = parameterised_project(base / "study")
        flags = {
            "parameters": {"year": 2024, "site": "__import__('os').system('touch /tmp/pwned')", "groups": ["x", "y"]}
        }
        with_parameters = export_project(project, base / "with", flags)
        plain = export_project(project, base / "plain", {})
    return with_parameters, plain


def test_the_output_is_made_with_the_injected_values_and_none_is_evaluated(exported):
    result, _ = exported
    assert (result.output / "outputs/value.csv").read_text() == (
        "year,site,groups\n2024,__import__('os').system('touch /tmp/pwned'),x|y\n"
    )
    assert not Path("/tmp/pwned").exists()
    nb = json.loads((result.output / "report.ipynb").read_text())
    assert [c["metadata"].get("tags") for c in nb["cells"]] == [["parameters"], ["injected-parameters"], None]
    assert nb["metadata"]["papermill"]["parameters"]["year"] == 2024


def test_each_runs_values_are_property_values_of_its_create_action_object(exported):
    result, _ = exported
    graph = {e["@id"]: e for e in json.loads((result.output / "ro-crate-metadata.json").read_text())["@graph"]}
    action = next(e for e in graph.values() if e.get("@type") == "CreateAction")
    values = [graph[ref["@id"]] for ref in action["object"] if graph[ref["@id"]].get("@type") == "PropertyValue"]
    assert {v["name"]: (v["value"], v.get("encodingFormat")) for v in values} == {
        "year": (2024, None),
        "site": ("__import__('os').system('touch /tmp/pwned')", None),
        "groups": ('["x", "y"]', "application/json"),
    }
    assert {v["propertyID"] for v in values} == {PARAMETER_ID}


def test_the_reader_gives_the_values_back_typed_and_not_as_inputs(exported):
    result, _ = exported
    with open_package(result.output) as opened:
        (run,) = opened.package.runs
        assert run.parameters == {
            "year": 2024,
            "site": "__import__('os').system('touch /tmp/pwned')",
            "groups": ["x", "y"],
        }
        assert run.inputs == ()


def test_settings_json_records_the_parameters_and_their_source(exported):
    result, plain = exported
    settings = json.loads((result.output / layout.SETTINGS).read_text())
    assert settings["parameters"] == {
        "value": {"year": 2024, "site": "__import__('os').system('touch /tmp/pwned')", "groups": ["x", "y"]},
        "source": "flag",
    }
    assert json.loads((plain.output / layout.SETTINGS).read_text())["parameters"] == {"value": {}, "source": "default"}


def test_the_package_is_valid_and_the_parameters_add_no_validator_advice(exported):
    result, plain = exported
    report, baseline = check_package(result.output), check_package(plain.output)
    assert report.valid and not report.problems, report.problems
    assert sorted(map(str, report.advice)) == sorted(map(str, baseline.advice))


def test_project_parameters_per_notebook_and_a_flag_over_them(tmp_path):
    project = parameterised_project(tmp_path / "study")
    with (project / "repropack.toml").open("a") as fh:
        fh.write('\n[parameters]\nyear = 1999\nsite = "Kyoto"\n[parameters."report.ipynb"]\ngroups = ["p", "q"]\n')
    result = export_project(project, tmp_path / "pkg", {"parameters": {"year": 2024}})
    assert (result.output / "outputs/value.csv").read_text() == "year,site,groups\n2024,Kyoto,p|q\n"
    assert result.package.runs[0].parameters == {"year": 2024, "site": "Kyoto", "groups": ["p", "q"]}


def test_a_notebook_without_a_parameters_cell_gets_them_at_the_top_with_a_warning(tmp_path):
    project = make_project(tmp_path / "study")
    write_parameterised_notebook(project / "report.ipynb", parameters_tag=False)
    (project / "analysis.ipynb").unlink()
    result = export_project(project, tmp_path / "pkg", {"parameters": {"year": 2024}})
    # injected before the untagged defaults, which then win: what papermill does, and why the warning says to tag
    assert (result.output / "outputs/value.csv").read_text().splitlines()[1] == "2000,nowhere,a"
    assert any(
        w.startswith("report.ipynb has no cell tagged 'parameters': its parameters were injected at the top")
        for w in result.warnings
    ), result.warnings


def test_importing_the_cli_and_exporting_without_parameters_does_not_import_papermill(project, tmp_path):
    code = (
        "import sys; from pathlib import Path; from repropack.cli.main import main;"
        "from repropack.export import export_project;"
        f"export_project(Path({str(project)!r}), Path({str(tmp_path / 'pkg')!r}), {{}});"
        "assert 'papermill' not in sys.modules, 'papermill imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["-p", "not-a-name", "1"], ["--parameter: parameter name 'not-a-name' is not a Python identifier"]),
        (["-p", "x", "inf"], ["--parameter: parameter x: inf is not a finite number"]),
        (["--no-execute", "-p", "year", "1"], ["parameters need the notebooks executed"]),
        (["--parameters-file", "list.yaml"], ["list.yaml: must be a mapping of parameter names to values"]),
        (["--parameters-file", "missing.yaml"], ["missing.yaml: missing"]),
        (["--parameters-file", "other.yaml"], ["parameters for other.ipynb: no such notebook runs in this export"]),
    ],
)
def test_parameters_that_cannot_be_injected_are_refused_and_nothing_is_written(tmp_path, args, fragments):
    project = parameterised_project(tmp_path / "study")
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "other.yaml").write_text("other.ipynb:\n  year: 1\n")
    out = tmp_path / "pkg.zip"
    done = repropack("export", project, "-o", out, *args, cwd=tmp_path)
    assert_refused(done, *fragments)
    assert not out.exists() and not (project / "outputs").exists()


def test_a_bad_project_parameters_table_is_refused_naming_it(tmp_path):
    project = parameterised_project(tmp_path / "study")
    with (project / "repropack.toml").open("a") as fh:
        fh.write('\n[parameters]\n"two words" = 1\n')
    done = repropack("export", project, "-o", tmp_path / "pkg.zip")
    assert_refused(done, "repropack.toml [parameters]: parameter name 'two words' is not a Python identifier")
    assert not (tmp_path / "pkg.zip").exists()


def test_inspect_shows_each_runs_parameters(exported):
    result, plain = exported
    shown = repropack("inspect", result.output)
    assert shown.returncode == 0, shown.stderr
    assert (
        'parameters of report.ipynb: year=2024, site="__import__(\'os\').system(\'touch /tmp/pwned\')", groups=["x", "y"]'
        in shown.stdout
    )
    described = json.loads(repropack("inspect", plain.output, "--json").stdout)
    assert described["runs"][0]["parameters"] == {}
