"""settings.json and capture.json are read as hostile input: usable as export writes them, else one problem line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from repropack.crate.support import read_support_file, schema_problem, schema_validator
from repropack.model import layout
from repropack.resources import schema_path


def write(root: Path, package_path: str, data: bytes | str) -> None:
    path = root / package_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_an_absent_support_file_is_empty_with_no_problem(tmp_path):
    found = read_support_file(tmp_path, layout.SETTINGS, max_bytes=1000)
    assert (found.data, found.problem) == ({}, None)


def test_settings_as_export_records_them_are_usable(tmp_path):
    settings = {
        "timeout": {"value": 600, "source": "default"},
        "compare": {"value": {"*.csv": {"rule": "csv", "rtol": 1e-9}}, "source": "project"},
        "restrict": {"value": ["data/*.csv"], "source": "flag"},
        "publisher": {"value": {"name": "Example"}, "source": "project"},
        "a_setting_of_a_later_version": {"value": [1, 2], "source": "default"},
    }
    write(tmp_path, layout.SETTINGS, json.dumps(settings))
    found = read_support_file(tmp_path, layout.SETTINGS, max_bytes=10_000)
    assert (found.data, found.problem) == (settings, None)


def test_a_capture_log_as_export_writes_it_is_usable(tmp_path):
    capture = {
        "interpreter": {"python_version": "3.11.7", "executable": "/usr/bin/python3"},
        "empty_folders": ["outputs/empty"],
        "local_packages": [
            {"name": "mylib", "path": "."},
            {"name": "b", "path": "b", "editable": False, "wheel": None},
        ],
        "nondeterministic": {"runs": 2, "outputs": [{"path": "a.csv", "cells": [], "detail": "row 1"}]},
        "environment_variables": {"TZ": "UTC"},
        "unresolved_requirements": [],
        "runs": [{"notebook": "a.ipynb", "read": [], "written": []}],
    }
    write(tmp_path, layout.CAPTURE, json.dumps(capture))
    assert read_support_file(tmp_path, layout.CAPTURE, max_bytes=10_000).problem is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            "{",
            ".repropack/settings.json: not JSON (Expecting property name enclosed in double quotes at line 1 column 2)",
        ),
        ('{"timeout": {"value": "abc"}}', ".repropack/settings.json: timeout/value: 'abc' is not of type 'integer'"),
        ("x" * 2000, ".repropack/settings.json: 2000 bytes, more than the 1000 allowed"),
    ],
    ids=["not-json", "wrong-type", "too-large"],
)
def test_a_malformed_settings_file_is_empty_with_its_problem(tmp_path, data, problem):
    write(tmp_path, layout.SETTINGS, data)
    found = read_support_file(tmp_path, layout.SETTINGS, max_bytes=1000)
    assert (found.data, found.problem) == ({}, problem)


def test_a_problem_stays_one_line_whatever_the_file_holds(tmp_path):
    write(tmp_path, layout.CAPTURE, json.dumps({"environment_variables": {"A\nB": ["x\n" * 500]}}))
    problem = read_support_file(tmp_path, layout.CAPTURE, max_bytes=100_000).problem
    assert problem is not None and "\n" not in problem
    assert problem.startswith(".repropack/capture.json: environment_variables/'A\\nB': ")
    assert len(problem) < 300  # the quoted value is cut short


def test_every_way_a_document_fails_is_counted_after_the_first(tmp_path):
    problem = schema_problem("capture.schema.json", {"empty_folders": 1, "unresolved_requirements": 2}, "c.json")
    assert problem == "c.json: empty_folders: 1 is not of type 'array' (and 1 more)"


def _errors(validator, document) -> list[tuple[list[str], str]]:
    return sorted((list(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(document))


@pytest.mark.parametrize("schema_file", ["package.schema.json", "settings.schema.json", "replay-result.schema.json"])
def test_inlined_refs_report_the_errors_the_schema_as_written_does(schema_file):
    schema = json.loads(schema_path(schema_file).read_text(encoding="utf-8"))
    written, inlined = jsonschema.Draft202012Validator(schema), schema_validator(schema_file)
    graph = [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "conformsTo": {"@id": "x"}, "about": 3},
        {"@id": "./", "@type": "Dataset", "name": 7, "hasPart": [{"@id": ""}]},
        {"@id": "a.csv", "@type": "File", "contentSize": "big", "sha256": None},
        {"@id": "#run", "@type": "CreateAction", "object": "a.csv"},
        {"@type": "File"},
    ]
    documents = [{}, [], {"@context": [], "@graph": graph}, {"timeout": {"value": "soon"}, "restrict": {"value": 1}}]

    assert json.dumps(inlined.schema).count("$ref") < json.dumps(schema).count("$ref")  # it did inline some
    for document in documents:
        assert _errors(inlined, document) == _errors(written, document)
