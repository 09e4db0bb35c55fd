"""schemas/replay-result.schema.json is the contract of `replay --json`: real replays meet it, broken objects do not."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from repropack.config import ReplaySettings
from repropack.export import export_project
from repropack.model import CauseKind, OutputComparison, OutputStatus, ReplayedPackage, ReplayResult, Verdict
from repropack.record.keys import generate_key_pair
from repropack.replay import replay_package
from repropack.resources import schema_path
from tests.conftest import write_notebook

pytestmark = pytest.mark.usefixtures("docker_engine")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path("replay-result.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _errors(validator, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance)]


def test_schema_enums_match_the_model(validator):
    properties = validator.schema["properties"]
    assert set(properties["verdict"]["enum"]) == {v.value for v in Verdict}
    assert set(properties["cause_kind"]["enum"]) == {k.value for k in CauseKind} | {None}
    statuses = validator.schema["$defs"]["output"]["properties"]["status"]["enum"]
    assert set(statuses) == {s.value for s in OutputStatus}


def test_reproduced_replay_and_its_record_meet_the_schema(validator, project, tmp_path):
    export_project(project, tmp_path / "pkg", {})
    pair = generate_key_pair(tmp_path / "keys")
    result = replay_package(tmp_path / "pkg", ReplaySettings(record=tmp_path / "record", key=pair.private_path))
    assert result.verdict is Verdict.REPRODUCED, result.cause
    as_json = json.loads(json.dumps(result.as_dict()))  # what `replay --json` prints
    assert _errors(validator, as_json) == []
    assert as_json["record"] == str(tmp_path / "record") and as_json["cause"] is None
    saved = json.loads((tmp_path / "record" / "result.json").read_text(encoding="utf-8"))
    assert _errors(validator, saved) == []
    assert saved["record"] == str(tmp_path / "record")


def test_failed_replay_meets_the_schema(validator, project, tmp_path):
    write_notebook(project / "analysis.ipynb", "x = 1\n1 / 0")
    export_project(project, tmp_path / "pkg", {"execute": False})
    result = replay_package(tmp_path / "pkg", ReplaySettings())
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.CELL_ERROR, result.cause
    as_json = json.loads(json.dumps(result.as_dict()))
    assert _errors(validator, as_json) == []
    assert as_json["cause_kind"] == "cell error" and as_json["outputs"] == []


def _sample(verdict: Verdict = Verdict.NOT_REPRODUCED) -> dict:
    """as_dict() of a hand-made result (no replay needed): the baseline the broken copies start from."""
    facts = ReplayedPackage(source=Path("/tmp/pkg"), title="Study", metadata_sha256="a" * 64)
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    outputs = [
        OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
        OutputComparison("outputs/counts.csv", OutputStatus.DIFFERENT, "csv", "row 2: n 1 -> 7"),
    ]
    return ReplayResult(
        package=facts,
        verdict=verdict,
        cause=None,
        outputs=outputs,
        rules={"declared": {"*.csv": {"rule": "csv", "rtol": 0.0}}, "applied": {"outputs/counts.csv": "csv"}},
        drift=["numpy 2.0.0 (recorded 1.26.4)"],
        backend={"backend": "docker", "engine": "docker", "engine_version": "26.1.5", "api_version": "1.45"},
        isolation="container",
        image="repropack/env:abc",
        image_id="sha256:" + "c" * 64,
        image_reused=True,
        limits={"timeout_s": 1800, "memory": "2g", "pids": 256, "network": False},
        started=when,
        ended=when,
        timings={"integrity": 0.01, "build": 0.2, "execute": 3.5, "compare": 0.1},
        agent="root",
        host="box",
    ).as_dict()


def _without(key):
    def mutate(d):
        del d[key]

    return mutate


BROKEN = {
    "bad verdict": lambda d: d.update(verdict="reproduced "),
    "missing verdict": _without("verdict"),
    "missing timings": _without("timings"),
    "extra top-level key": lambda d: d.update(exit_code=1),
    "bad output status": lambda d: d["outputs"][0].update(status="same"),
    "output without detail": lambda d: d["outputs"][0].pop("detail"),
    "timing not a number": lambda d: d["timings"].update(build="0.2 s"),
    "unknown cause kind": lambda d: d.update(verdict="failed", cause="oops: x", cause_kind="oops", outputs=[]),
    "failed without a cause": lambda d: d.update(verdict="failed", outputs=[]),
    "cause when it ran to the end": lambda d: d.update(cause="timeout: 1800 s", cause_kind="timeout"),
    "cause not matching its kind": lambda d: d.update(
        verdict="failed", cause="timeout: x", cause_kind="cell error", outputs=[]
    ),
    "reproduced with a different output": lambda d: d.update(verdict="reproduced"),
    "not reproduced with all outputs matching": lambda d: d["outputs"].pop(),
    "absolute output path": lambda d: d["outputs"][0].update(path="/etc/passwd"),
    "time not in UTC": lambda d: d.update(started="2025-01-02T03:04:05"),
}


def test_hand_made_sample_is_valid(validator):
    assert _errors(validator, _sample()) == []


@pytest.mark.parametrize("breakage", list(BROKEN), ids=list(BROKEN))
def test_broken_object_is_rejected(validator, breakage):
    broken = copy.deepcopy(_sample())
    BROKEN[breakage](broken)
    assert _errors(validator, broken), f"{breakage}: accepted by the schema"
