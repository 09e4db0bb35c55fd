"""A disclosure check as a Five Safes AssessAction: its shape, its outcome, no values, and a crate that validates."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from repropack.crate.assess import (
    DISCLOSURE_CHECK_TYPE,
    MAX_LISTED_FINDINGS,
    add_disclosure_check,
    check_id,
    outcome,
)
from repropack.crate.check import check_package
from repropack.crate.metadata import REPROPACK_APP_ID, build_metadata, generate, new_crate
from repropack.crate.profiles import validate_profiles
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.model import layout
from repropack.model.disclosure import (
    CellFinding,
    DisclosureReport,
    DisclosureRules,
    DisclosureStatus,
    FileDisclosure,
)
from tests.conftest import isolate_user_dirs, make_project

STARTED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)
ENDED = datetime(2026, 3, 4, 5, 6, 9, tzinfo=timezone.utc)
TABLE = "outputs/counts.csv"
SMALL = CellFinding(TABLE, "", "b", "n", "3", "threshold", "3 < 10")


def _report(*files: FileDisclosure, suppressed=None, where: str = "export") -> DisclosureReport:
    rules = DisclosureRules(counts=("n",), source="repropack.toml [disclosure]")
    return DisclosureReport(rules, files, STARTED, ENDED, where, suppressed or {})


FAILING = FileDisclosure(TABLE, DisclosureStatus.FAIL, (SMALL,), tables=1)
PASSING = FileDisclosure(TABLE, DisclosureStatus.PASS, tables=1)
FIGURE = FileDisclosure("outputs/plot.png", DisclosureStatus.REVIEW, note="needs review by a person: a figure")


@pytest.mark.parametrize(
    ("report", "said"),
    [
        (_report(PASSING), "passed"),
        (_report(FAILING), "failed"),
        (_report(FAILING, suppressed={TABLE: (SMALL,)}), "passed after suppression"),
        (_report(PASSING, FIGURE), "pending review"),
        (_report(FAILING, FIGURE, suppressed={TABLE: (SMALL,)}), "pending review"),
        (_report(FAILING, FIGURE), "failed"),  # a failure outranks review
        (_report(), "passed"),
    ],
)
def test_outcome_says_what_leaves(report, said):
    assert outcome(report) == said


def test_check_ids_are_stable_per_place():
    assert check_id("export") == "#disclosure-check-export"
    assert check_id("replay") == "#disclosure-check-replay"
    assert check_id("") == "#disclosure-check-check"
    assert check_id("Gov ern/../x") == "#disclosure-check-gov-ern-x"


def _graph(crate) -> dict[str, dict]:
    return {e["@id"]: e for e in generate(crate)["@graph"]}


def _crate_with_table():
    crate = new_crate("1.2")
    table = crate.add_file(dest_path=TABLE, properties={"name": "counts.csv"})
    tool = crate.add_jsonld({"@id": REPROPACK_APP_ID, "@type": "SoftwareApplication", "name": "repropack"})
    return crate, table, tool


def test_the_action_is_an_assess_action_typed_disclosure_check_mentioned_by_the_root():
    crate, table, tool = _crate_with_table()
    action = add_disclosure_check(
        crate, _report(FAILING, suppressed={TABLE: (SMALL,)}), agent=tool, object_ids=[TABLE, "absent.csv"]
    )
    graph = _graph(crate)
    assert action.id == "#disclosure-check-export"
    entity = graph[action.id]
    assert entity["@type"] == "AssessAction"
    assert entity["additionalType"] == {"@id": DISCLOSURE_CHECK_TYPE}
    assert graph[DISCLOSURE_CHECK_TYPE]["@type"] == "DefinedTerm"
    assert entity["name"] == "Disclosure check of the outputs: passed after suppression"
    assert entity["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert (entity["startTime"], entity["endTime"]) == ("2026-03-04T05:06:07+00:00", "2026-03-04T05:06:09+00:00")
    assert entity["object"] == [{"@id": "./"}, {"@id": TABLE}]  # the absent file is left out
    assert entity["agent"] == {"@id": REPROPACK_APP_ID}
    rules = json.loads(graph[entity["instrument"]["@id"]]["value"])
    assert rules["counts"] == ["n"] and rules["min_count"] == 10
    result = json.loads(graph[entity["result"]["@id"]]["value"])
    assert result["outcome"] == "passed after suppression"
    assert result["files"][0]["findings"] == [{"table": "", "row": "b", "column": "n", "rule": "threshold"}]
    assert result["suppressed"] == {TABLE: [{"table": "", "row": "b", "column": "n", "rule": "threshold"}]}
    mentions = graph["./"]["mentions"]
    assert {"@id": action.id} in (mentions if isinstance(mentions, list) else [mentions])


def test_no_value_and_no_detail_is_written_whatever_the_caller_passes():
    secret = CellFinding(TABLE, "", "b", "n", "7319", "threshold", "7319 < 10000")
    crate, _, tool = _crate_with_table()
    add_disclosure_check(
        crate, _report(FileDisclosure(TABLE, DisclosureStatus.FAIL, (secret,))), agent=tool, object_ids=[TABLE]
    )
    assert "7319" not in json.dumps(generate(crate))


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ((FAILING,), "http://schema.org/FailedActionStatus"),
        ((PASSING, FIGURE), "http://schema.org/PotentialActionStatus"),
        ((PASSING,), "http://schema.org/CompletedActionStatus"),
    ],
)
def test_action_status_follows_the_outcome(files, status):
    crate, _, tool = _crate_with_table()
    action = add_disclosure_check(crate, _report(*files, where="replay"), agent=tool, object_ids=[])
    assert _graph(crate)[action.id]["actionStatus"] == status
    assert action.id == "#disclosure-check-replay"


def test_a_million_findings_are_counted_but_listed_only_up_to_the_bound():
    many = tuple(CellFinding(TABLE, "", str(i), "n", "1", "threshold", "") for i in range(MAX_LISTED_FINDINGS + 50))
    crate, _, tool = _crate_with_table()
    action = add_disclosure_check(
        crate, _report(FileDisclosure(TABLE, DisclosureStatus.FAIL, many)), agent=tool, object_ids=[TABLE]
    )
    graph = _graph(crate)
    result = json.loads(graph[graph[action.id]["result"]["@id"]]["value"])
    assert result["files"][0]["finding_count"] == MAX_LISTED_FINDINGS + 50
    assert len(result["files"][0]["findings"]) == MAX_LISTED_FINDINGS


# --- a real package with the action, through the official validator ---------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Executed exports of the small project, as RO-Crate 1.2 and 1.1."""
    base = tmp_path_factory.mktemp("assess-packages")
    out = {}
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        for version in ("1.2", "1.1"):
            out[version] = base / f"package-{version}"
            export_project(make_project(base / f"study-{version}"), out[version], {"crate_version": version})
    return out


def _with_check(package: Path, target: Path, report: DisclosureReport, version: str) -> Path:
    shutil.copytree(package, target)
    with open_package(target) as opened:
        model, env_hash = opened.package, opened.environment_hash
    metadata = build_metadata(
        model,
        dockerfile_path=layout.DOCKERFILE,
        lock_path=layout.LOCK,
        settings_path=layout.SETTINGS,
        env_hash=env_hash,
        crate_version=version,
        disclosure=report,
    )
    (target / layout.METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return target


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1.2", "1.1"])
def test_a_package_with_the_check_adds_no_validator_issue_and_checks_clean(exported, tmp_path, version):
    report = _report(
        FAILING,
        FileDisclosure("analysis.ipynb", DisclosureStatus.PASS, note="no declared count columns"),
        suppressed={TABLE: (SMALL,)},
    )
    package = _with_check(exported[version], tmp_path / "with-check", report, version)
    metadata = json.loads((package / layout.METADATA).read_text(encoding="utf-8"))
    assert any(e["@id"] == "#disclosure-check-export" for e in metadata["@graph"])
    issues = validate_profiles(package)
    if version == "1.1":
        assert issues == []  # 0 REQUIRED, 0 RECOMMENDED
    else:  # only the advice the package has without it: facts nobody gave (a ROR id, contact points)
        assert [(i.severity, i.check) for i in issues] == [
            (i.severity, i.check) for i in validate_profiles(exported[version])
        ]
        assert not [i for i in issues if i.severity == "REQUIRED"]
    assert check_package(package).problems == []
