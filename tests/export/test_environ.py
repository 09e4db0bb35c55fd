"""Environment variables that change results: recorded at export as the kernel started, refused when bad."""

from __future__ import annotations

import json

import pytest

from repropack.config import resolve_settings
from repropack.errors import BadInput, SecretFound
from repropack.export import export_project
from repropack.export.environ import recorded_variables
from tests.conftest import write_notebook


def test_the_built_in_variables_and_the_listed_ones_are_recorded_and_nothing_else():
    environ = {
        "PYTHONHASHSEED": "0",
        "TZ": "Europe/Oslo",
        "LANG": "nb_NO.UTF-8",
        "LC_NUMERIC": "C",
        "OMP_NUM_THREADS": "4",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_CBWR": "COMPATIBLE",
        "HOME": "/home/ada",
        "AWS_PROFILE": "lab",
        "STUDY_SITE": "oslo",
    }
    assert recorded_variables(environ, ("STUDY_SITE", "NOT_SET")) == {
        "LANG": "nb_NO.UTF-8",
        "LC_NUMERIC": "C",
        "MKL_CBWR": "COMPATIBLE",
        "OMP_NUM_THREADS": "4",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "STUDY_SITE": "oslo",
        "TZ": "Europe/Oslo",
    }


def test_the_env_setting_takes_names_from_the_project_and_flags(tmp_path):
    (tmp_path / "repropack.toml").write_text('env = ["STUDY_SITE"]\n')
    resolved = resolve_settings({"env": ("RUN_LABEL",)}, tmp_path, user={})
    assert resolved.values.env == ("STUDY_SITE", "RUN_LABEL")
    assert resolved.recorded()["env"] == {"value": ["STUDY_SITE", "RUN_LABEL"], "source": "flag"}


@pytest.mark.parametrize(
    "value, message",
    [
        ('"STUDY_SITE"', "setting 'env' must be a list"),
        ('["STUDY SITE"]', "lists 'STUDY SITE', which is no environment variable name"),
        ('["1ST"]', "lists '1ST', which is no environment variable name"),
        ("[3]", "lists 3, which is no environment variable name"),
        ('["PATH"]', "lists PATH, which the replay sandbox sets itself"),
        ('["PYTHONPATH", "X"]', "lists PYTHONPATH, which the replay sandbox sets itself"),
    ],
)
def test_a_bad_env_setting_is_refused_naming_the_entry(tmp_path, value, message):
    (tmp_path / "repropack.toml").write_text(f"env = {value}\n")
    with pytest.raises(BadInput, match=message):
        resolve_settings({}, tmp_path, user={})


def _project(root):
    root.mkdir()
    (root / "repropack.toml").write_text('title = "env"\nlicense = "MIT"\nenv = ["STUDY_KEY"]\n')
    write_notebook(root / "analysis.ipynb", "import os\nos.environ['TZ'] = 'UTC'\nprint(2 + 2)")
    return root


def test_export_records_the_variables_as_the_kernel_started_not_as_a_cell_left_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/Lima")
    monkeypatch.setenv("STUDY_KEY", "site-7")
    result = export_project(_project(tmp_path / "p"), tmp_path / "pkg", {})
    capture = json.loads((tmp_path / "pkg/.repropack/capture.json").read_text())
    assert capture["environment_variables"]["TZ"] == "America/Lima"  # the cell set UTC after the start
    assert capture["environment_variables"]["STUDY_KEY"] == "site-7"
    assert result.package.environment_variables == capture["environment_variables"]
    metadata = json.loads((tmp_path / "pkg/ro-crate-metadata.json").read_text())
    (action,) = [e for e in metadata["@graph"] if e.get("@type") == "CreateAction"]
    values = {e["@id"]: e for e in metadata["@graph"]}
    environment = {values[ref["@id"]]["name"]: values[ref["@id"]]["value"] for ref in action["environment"]}
    assert environment["TZ"] == "America/Lima"


def test_a_listed_variable_holding_a_credential_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_KEY", "AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(SecretFound, match=r"\.repropack/capture\.json \(rule aws-access-key-id"):
        export_project(_project(tmp_path / "p"), tmp_path / "pkg", {})
    assert not (tmp_path / "pkg").exists()
