"""Replay of a package exported with parameters: the recorded values run again, a forged package (its
recorded values and its notebook's injected cell disagree) is refused, and ``replay -p`` is a what-if
whose verdict says everywhere that it is not a reproduction.

The local backend (one cached virtualenv for the module) keeps these quick; one test runs the real
container, on the stdlib-only runtime lock that other container tests share.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from repropack.config import ReplaySettings
from repropack.crate.profiles import validate_profiles
from repropack.errors import BadInput
from repropack.export import export_project
from repropack.model import OutputStatus, Person, Verdict
from repropack.model.results import WHAT_IF_NOTE
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import signing_key
from repropack.record.opened import open_record, result_of
from repropack.replay import replay_package
from repropack.resources import schema_path
from repropack.ui.terminal import render_replay
from tests.conftest import forge_recorded_file, isolate_user_dirs
from tests.export.test_parameters import parameterised_project
from tests.hostile.clikit import assert_refused, repropack

RECORDED = {"year": 2024, "site": "Kyoto", "groups": ["x", "y"]}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A package exported with RECORDED, and a cache folder the module's local replays share."""
    base = tmp_path_factory.mktemp("replay-parameters")
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, base / "home")
        result = export_project(parameterised_project(base / "study"), base / "pkg", {"parameters": RECORDED})
    return result.output, base / "cache"


@pytest.fixture
def package(shared, monkeypatch):
    package, cache = shared
    monkeypatch.setenv("REPROPACK_CACHE_DIR", str(cache))
    return package


def _local(package: Path, tmp_path: Path, **settings) -> object:
    return replay_package(package, ReplaySettings(backend="local", record=tmp_path / "record", **settings))


def _statuses(result) -> dict[str, OutputStatus]:
    return {o.path: o.status for o in result.outputs}


def test_the_recorded_values_run_again_and_reproduce(package, tmp_path):
    result = _local(package, tmp_path)
    assert result.verdict is Verdict.REPRODUCED, (result.cause, result.outputs)
    assert _statuses(result)["outputs/value.csv"] is OutputStatus.IDENTICAL
    assert not result.what_if and result.as_dict()["what_if"] is None
    assert (tmp_path / "record/replayed/outputs/value.csv").read_text() == "year,site,groups\n2024,Kyoto,x|y\n"


def test_a_what_if_replay_compares_and_says_it_is_not_a_reproduction(package, tmp_path):
    result = _local(package, tmp_path, parameters={"year": 2030})
    assert result.what_if == {"report.ipynb": {"year": {"recorded": 2024, "replayed": 2030}}}
    assert result.verdict is Verdict.NOT_REPRODUCED
    assert _statuses(result)["outputs/value.csv"] is OutputStatus.DIFFERENT
    assert (tmp_path / "record/replayed/outputs/value.csv").read_text() == "year,site,groups\n2030,Kyoto,x|y\n"
    as_json = result.as_dict()
    jsonschema.validate(as_json, json.loads(schema_path("replay-result.schema.json").read_text()))
    assert as_json["what_if"]["note"] == WHAT_IF_NOTE and "it is not a reproduction" in WHAT_IF_NOTE
    assert as_json["settings"]["parameters"]["value"] == {"year": 2030}
    # the record says so: its metadata, its report, its result.json (which rejudge reads back)
    metadata = json.loads((tmp_path / "record/ro-crate-metadata.json").read_text())
    action = next(e for e in metadata["@graph"] if e["@id"] == "#replay")
    assert action["whatIf"][0] == WHAT_IF_NOTE and "not a reproduction" in action["description"]
    report = (tmp_path / "record/report.html").read_text()
    assert 'id="what-if"' in report and "report.ipynb: year = 2030 (recorded: 2024)" in report
    assert result_of(open_record(tmp_path / "record")).what_if == result.what_if
    shown = io.StringIO()
    render_replay(Console(file=shown, width=200), result)
    lines = shown.getvalue().splitlines()
    assert "what-if parameter: report.ipynb: year = 2030 (recorded: 2024)" in lines
    assert lines[-3] == "what-if, not reproduced"


def test_what_if_values_equal_to_the_recorded_ones_are_a_plain_replay(package, tmp_path):
    result = _local(package, tmp_path, parameters={"year": 2024, "groups": ["x", "y"]})
    assert not result.what_if and result.verdict is Verdict.REPRODUCED


def test_a_what_if_of_a_parameter_the_package_never_had_is_refused(package, tmp_path):
    with pytest.raises(
        BadInput,
        match=r"--parameter yaer: .* was exported with no parameter of that name \(recorded: groups, site, year\)",
    ):
        _local(package, tmp_path, parameters={"yaer": 2030})
    assert not (tmp_path / "record").exists()


def test_the_cli_what_if_prints_json_saying_so_and_refuses_a_bad_name(package, tmp_path):
    done = repropack(
        "replay", package, "--backend", "local", "-p", "year", "2031", "--record", tmp_path / "r", "--json"
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["what_if"]["parameters"] == {
        "report.ipynb": {"year": {"recorded": 2024, "replayed": 2031}}
    }
    refused = repropack("replay", package, "--backend", "local", "-p", "2x", "1", "--record", tmp_path / "r2")
    assert_refused(refused, "--parameter: parameter name '2x' is not a Python identifier")
    assert not (tmp_path / "r2").exists()


def _forged_copy(package: Path, tmp_path: Path) -> Path:
    forged = tmp_path / "forged"
    shutil.copytree(package, forged)
    return forged


def _edit_metadata(package: Path, edit) -> None:
    path = package / "ro-crate-metadata.json"
    metadata = json.loads(path.read_text())
    edit(metadata["@graph"])
    path.write_text(json.dumps(metadata, indent=2))


def test_a_package_whose_recorded_value_was_edited_is_refused(package, tmp_path):
    forged = _forged_copy(package, tmp_path)

    def edit(graph):
        next(e for e in graph if e.get("name") == "year" and e.get("@type") == "PropertyValue")["value"] = 1999

    _edit_metadata(forged, edit)
    settings = json.loads((forged / ".repropack/settings.json").read_text())
    settings["parameters"]["value"]["year"] = 1999  # settings.json agrees with the edit: only the cell can tell
    forge_recorded_file(forged, ".repropack/settings.json", json.dumps(settings).encode())
    done = repropack("replay", forged, "--backend", "local", "--record", tmp_path / "r")
    assert_refused(done, "report.ipynb: the recorded parameters and the notebook's injected-parameters cell disagree")
    assert not (tmp_path / "r").exists()


def test_a_package_whose_injected_cell_was_edited_is_refused(package, tmp_path):
    forged = _forged_copy(package, tmp_path)
    notebook = json.loads((forged / "report.ipynb").read_text())
    injected = next(c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    injected["source"] = "# Parameters\nyear = 1999\n"
    forge_recorded_file(forged, "report.ipynb", json.dumps(notebook).encode())  # hashes consistent
    with pytest.raises(BadInput, match="the recorded parameters and the notebook's injected-parameters cell disagree"):
        _local(forged, tmp_path)


def _drop_recorded_values(graph) -> None:
    action = next(e for e in graph if e.get("@type") == "CreateAction")
    action["object"] = [o for o in action["object"] if "parameter" not in o["@id"]]


def test_a_package_that_hides_its_runs_values_from_the_metadata_is_refused(package, tmp_path):
    forged = _forged_copy(package, tmp_path)
    _edit_metadata(forged, _drop_recorded_values)
    with pytest.raises(
        BadInput, match=r"report.ipynb: the parameters \.repropack/settings.json records and those of its run disagree"
    ):
        _local(forged, tmp_path)


def test_a_notebook_recording_no_parameters_runs_its_injected_cell_as_its_own_code(package, tmp_path):
    """As a source notebook saved from an earlier papermill run and exported without parameters does."""
    forged = _forged_copy(package, tmp_path)
    settings = json.loads((forged / ".repropack/settings.json").read_text())
    settings["parameters"] = {"value": {}, "source": "default"}
    forge_recorded_file(forged, ".repropack/settings.json", json.dumps(settings).encode())
    _edit_metadata(forged, _drop_recorded_values)
    result = _local(forged, tmp_path)
    assert result.verdict is Verdict.REPRODUCED, (result.cause, result.outputs)
    assert not result.what_if


def test_a_recorded_parameter_value_that_is_not_json_is_refused(package, tmp_path):
    forged = _forged_copy(package, tmp_path)

    def edit(graph):
        next(e for e in graph if e.get("name") == "groups" and e.get("@type") == "PropertyValue")["value"] = "[1,"

    _edit_metadata(forged, edit)
    with pytest.raises(BadInput, match="parameter #run-1-report-ipynb-parameter-groups: not JSON"):
        _local(forged, tmp_path)


@pytest.mark.usefixtures("docker_engine")
def test_in_a_real_container_the_recorded_values_reproduce_and_a_what_if_says_it_is_none(package, tmp_path):
    reproduced = replay_package(package, ReplaySettings(record=tmp_path / "reproduced"))
    assert reproduced.verdict is Verdict.REPRODUCED, (reproduced.cause, reproduced.outputs)
    assert not reproduced.what_if
    what_if = replay_package(package, ReplaySettings(record=tmp_path / "what-if", parameters={"site": "Osaka"}))
    assert what_if.image_reused and what_if.verdict is Verdict.NOT_REPRODUCED
    assert what_if.as_dict()["what_if"]["parameters"] == {
        "report.ipynb": {"site": {"recorded": "Kyoto", "replayed": "Osaka"}}
    }
    kept = tmp_path / "what-if/replayed/outputs/value.csv"
    assert kept.read_text() == "year,site,groups\n2024,Osaka,x|y\n"


def test_a_what_if_record_is_as_valid_as_a_reproductions(package, tmp_path):
    """The record's whatIf term and its longer descriptions add no validator issue."""
    what_if = _local(package, tmp_path, parameters={"site": "Nara"}, operator=Person("Rita Reviewer"))
    assert what_if.what_if
    plain = tmp_path / "plain"
    write_governed_run(
        replace(what_if, what_if={}, replayed=()), plain, operator=Person("Rita Reviewer"), key=signing_key(None)
    )
    issues = {(i.profile, i.check) for i in validate_profiles(tmp_path / "record")}
    assert issues == {(i.profile, i.check) for i in validate_profiles(plain)}


def test_check_names_a_forged_packages_parameters_and_exits_2(package, tmp_path):
    assert repropack("check", package).returncode == 0
    forged = _forged_copy(package, tmp_path)
    _edit_metadata(forged, _drop_recorded_values)
    done = repropack("check", forged)
    assert done.returncode == 2, done.stderr
    assert "parameters: " in done.stdout and "records and those of its run disagree" in done.stdout
