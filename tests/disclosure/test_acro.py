"""An ACRO results.json among the outputs: its decisions per file, both shapes, and what a hostile one cannot do.

The fixtures are built here in the shapes ACRO's ``finalise(path, "json")`` writes: the current
``{"version", "results": {...}}`` and the older one with the outputs at the top level.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from repropack.disclosure.acro import read_results
from repropack.errors import BadInput
from repropack.model.disclosure import CellFinding, DisclosureStatus


def acro_output(uid: str, status: str, *names: str, summary: str = "") -> dict[str, Any]:
    """One output entry as ACRO records it."""
    return {
        "uid": uid,
        "status": status,
        "type": "table",
        "properties": {"method": "crosstab"},
        "files": [{"name": name, "sdc": {"summary": {"suppressed": False}}} for name in names],
        "outcome": {},
        "command": "acro.crosstab(df.year, df.grant_type)",
        "summary": summary or f"{status}; ",
        "timestamp": "2026-01-02T03:04:05.000000",
        "comments": [],
        "exception": "",
    }


def results_json(*outputs: dict[str, Any], shape: str = "current") -> bytes:
    entries = {output["uid"]: output for output in outputs}
    document = {"version": "0.4.8", "results": entries} if shape == "current" else entries
    return json.dumps(document, indent=4).encode()


@pytest.mark.parametrize("shape", ["current", "older"])
def test_each_named_file_gets_its_outputs_decision(shape):
    data = results_json(
        acro_output("output_0", "fail", "output_0.csv", summary="fail; threshold: 2 cells suppressed; "),
        acro_output("output_1", "pass", "output_1.csv"),
        acro_output("output_2", "review", "output_2.png", summary="review; figure"),
        shape=shape,
    )
    decided = read_results("outputs/acro/results.json", data)
    assert sorted(decided) == ["outputs/acro/output_0.csv", "outputs/acro/output_1.csv", "outputs/acro/output_2.png"]
    failed = decided["outputs/acro/output_0.csv"]
    assert failed.status is DisclosureStatus.FAIL
    assert failed.findings == (
        CellFinding(
            path="outputs/acro/output_0.csv",
            table="",
            row="",
            column="",
            value="",
            rule="acro",
            detail="ACRO results.json: status fail: fail; threshold: 2 cells suppressed",
        ),
    )
    assert decided["outputs/acro/output_1.csv"].status is DisclosureStatus.PASS
    assert decided["outputs/acro/output_1.csv"].findings == ()
    # ACRO asked for a person's decision: the researcher cannot give it, so review gates release too.
    review = decided["outputs/acro/output_2.png"]
    assert review.status is DisclosureStatus.FAIL
    assert review.findings[0].detail == "ACRO results.json: status review: review; figure"


def test_names_are_relative_to_the_results_folder_even_at_the_top():
    decided = read_results("results.json", results_json(acro_output("output_0", "pass", "t.csv")))
    assert list(decided) == ["t.csv"]


def test_a_file_named_by_several_outputs_takes_the_worst_decision():
    data = results_json(
        acro_output("output_0", "pass", "t.csv"),
        acro_output("output_1", "fail", "t.csv", summary="fail; p-ratio: 1 cell"),
        acro_output("output_2", "review", "t.csv", summary="review; custom"),
    )
    decided = read_results("acro/results.json", data)["acro/t.csv"]
    assert decided.status is DisclosureStatus.FAIL
    assert [f.detail for f in decided.findings] == [
        "ACRO results.json: status fail: fail; p-ratio: 1 cell",
        "ACRO results.json: status review: review; custom",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b'{"a": 1}',
        b'{"version": "1", "results": {}}',
        json.dumps({"output_0": {"status": "fail"}}).encode(),  # no files: not ACRO's
        b"\xff\xfe",
        b"[" * 200 + b"]" * 200,  # deeper than anyone writes
    ],
)
def test_json_that_is_not_an_acro_results_file_is_none(data):
    assert read_results("outputs/results.json", data) is None


@pytest.mark.parametrize(
    "name",
    [
        "../secret.csv",
        "a/../../secret.csv",
        "/etc/passwd",
        "C:/x.csv",
        "a\\..\\b.csv",
        "a//b.csv",
        "./a.csv",
        "a\x1b[2J.csv",
    ],
)
def test_a_file_name_that_leaves_the_folder_is_refused(name):
    data = results_json(acro_output("output_0", "pass", name))
    with pytest.raises(BadInput) as refused:
        read_results("outputs/results.json", data)
    message = str(refused.value)
    assert message.startswith("outputs/results.json: output 'output_0': file name ")
    assert "leaves the results.json's folder or is unsafe; refused" in message
    assert "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"uid": "o", "status": "ok", "files": []}, "output 'o': status 'ok' is none of pass, fail, review"),
        ({"uid": "o", "status": 1, "files": []}, "output 'o': status 1 is none of pass, fail, review"),
        ({"uid": "o", "status": "fail", "files": "t.csv"}, "output 'o': files must be a list"),
        ({"uid": "o", "status": "fail", "files": ["t.csv"]}, "output 'o': files[0] names no file"),
        ({"uid": "o", "status": "fail", "files": [{"name": ""}]}, "output 'o': files[0] names no file"),
    ],
)
@pytest.mark.parametrize("shape", ["current", "older"])
def test_a_broken_results_file_is_one_line_naming_it(output, expected, shape):
    with pytest.raises(BadInput) as refused:
        read_results("outputs/results.json", results_json(output, shape=shape))
    assert str(refused.value) == f"outputs/results.json: {expected}"


def test_in_the_current_shape_every_member_of_results_must_be_an_output():
    data = json.dumps({"version": "0.4.8", "results": {"output_0": {"status": "fail"}}}).encode()
    with pytest.raises(BadInput, match=r"^outputs/results.json: output 'output_0': needs a status and files"):
        read_results("outputs/results.json", data)


def test_a_long_summary_is_cut_and_kept_on_one_line():
    data = results_json(acro_output("output_0", "fail", "t.csv", summary="fail;\n" + "x" * 1000))
    detail = read_results("results.json", data)["t.csv"].findings[0].detail
    assert "\n" not in detail
    assert detail.startswith("ACRO results.json: status fail: fail; xxx") and detail.endswith("…")
    assert len(detail) < 400
