"""schemas/replay-result.schema.json is the contract of `replay --json`: real replays meet it, broken objects do not."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from repropack.config import ReplaySettings
from repropack.export import export_project
from repropack.model import (
    CauseKind,
    FailureCause,
    Nondeterminism,
    OutputComparison,
    OutputStatus,
    Verdict,
)
from repropack.record.keys import generate_key_pair
from repropack.replay import replay_package
from repropack.resources import schema_path
from tests.conftest import write_notebook
from tests.samples import sample_replay_result

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
    kinds = validator.schema["$defs"]["output"]["properties"]["nondeterminism"]["enum"]
    assert set(kinds) == {n.value for n in Nondeterminism} | {None}
    # The one table of causes in the schema names every kind.
    described = properties["cause_kind"]["description"]
    assert all(f"'{k.value}'" in described for k in CauseKind), described


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
    return sample_replay_result(
        verdict=verdict,
        rules={"declared": {"*.csv": {"rule": "csv", "rtol": 0.0}}, "applied": {"outputs/counts.csv": "csv"}},
        drift=("numpy 2.0.0 (recorded 1.26.4)",),
    ).as_dict()


def _nondeterministic_sample() -> dict:
    """A not_reproduced replay whose only difference differed between export's own runs too."""
    return sample_replay_result(
        cause=FailureCause(CauseKind.NONDETERMINISTIC, "every difference is where the recorded run differed"),
        outputs=(
            OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
            OutputComparison(
                "results/scatter.png",
                OutputStatus.DIFFERENT,
                "image",
                "41% of pixels differ",
                Nondeterminism.AT_SOURCE,
                "nondeterministic at source: it differed between the 2 runs of the export too",
            ),
        ),
        rules={},
        timings={"integrity": 0.01},
    ).as_dict()


def test_nondeterministic_sample_is_valid_and_its_output_carries_the_hint(validator):
    sample = _nondeterministic_sample()
    assert _errors(validator, sample) == []
    assert sample["cause_kind"] == "nondeterministic" and sample["cause"].startswith("nondeterministic: ")
    scatter = sample["outputs"][1]
    assert scatter["nondeterminism"] == "nondeterministic at source" and scatter["hint"].startswith("nondeterministic")
    assert sample["outputs"][0]["nondeterminism"] is None and sample["outputs"][0]["hint"] == ""


NONDETERMINISTIC_BROKEN = {
    "nondeterministic cause on a failed replay": lambda d: d.update(verdict="failed", outputs=[]),
    "nondeterministic cause on a reproduced replay": lambda d: d.update(verdict="reproduced", outputs=d["outputs"][:1]),
    "nondeterministic cause with a real difference": lambda d: d["outputs"][1].update(nondeterminism=None),
    "nondeterministic cause with only a likely hint": lambda d: d["outputs"][1].update(
        nondeterminism="likely nondeterministic"
    ),
    "nondeterministic cause not matching its kind": lambda d: d.update(cause="timeout: x"),
    "nondeterminism on an equivalent output": lambda d: d["outputs"][0].update(
        nondeterminism="likely nondeterministic"
    ),
    "unknown nondeterminism": lambda d: d["outputs"][1].update(nondeterminism="random"),
    "hint not a string": lambda d: d["outputs"][1].update(hint=None),
}


@pytest.mark.parametrize("breakage", list(NONDETERMINISTIC_BROKEN), ids=list(NONDETERMINISTIC_BROKEN))
def test_broken_nondeterministic_object_is_rejected(validator, breakage):
    broken = copy.deepcopy(_nondeterministic_sample())
    NONDETERMINISTIC_BROKEN[breakage](broken)
    assert _errors(validator, broken), f"{breakage}: accepted by the schema"


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
    "compared output without its rule": lambda d: d["outputs"][1].update(rule=""),
    "report not a path": lambda d: d.update(report=""),
    "replayed outputs in another folder": lambda d: d["replayed"].update(folder="outputs"),
    "replayed output outside the record": lambda d: d["replayed"].update(files=["../../etc/passwd"]),
    "base image without its reason": lambda d: d.update(base_image={"image": "repropack/base:bookworm-py3.11"}),
    "drift info not lines": lambda d: d.update(drift_info="Python 3.11.9"),
    "re-judgement not naming its record": lambda d: d.update(
        rejudged_from={
            "key_id": None,
            "signature_sha256": "b" * 64,
            "verdict": "reproduced",
            "compare": [],
            "rejudged": "2025-01-02T03:04:05+00:00",
        }
    ),
}


def test_missing_and_unexpected_outputs_have_no_rule_and_a_re_judgement_names_its_record(validator):
    sample = _sample()
    sample["outputs"] += [
        {"path": "gone.csv", "status": "missing", "rule": "", "detail": "", "nondeterminism": None, "hint": ""},
        {"path": "extra.log", "status": "unexpected", "rule": "", "detail": "", "nondeterminism": None, "hint": ""},
    ]
    sample["rejudged_from"] = {
        "record": "/records/study.replay-20250102T030405Z",
        "key_id": "ed25519:0123456789abcdef",
        "signature_sha256": "b" * 64,
        "verdict": "not_reproduced",
        "compare": ["outputs/*.csv=csv:atol=10"],
        "rejudged": "2025-01-02T03:04:05+00:00",
    }
    assert _errors(validator, sample) == []


def test_hand_made_sample_is_valid(validator):
    assert _errors(validator, _sample()) == []


@pytest.mark.parametrize("breakage", list(BROKEN), ids=list(BROKEN))
def test_broken_object_is_rejected(validator, breakage):
    broken = copy.deepcopy(_sample())
    BROKEN[breakage](broken)
    assert _errors(validator, broken), f"{breakage}: accepted by the schema"
