"""The governed-run record as an RO-Crate: 1.2 by default, 1.1 on request, what roc-validator says of each.

The operator is what the settings layer gives: the OS user, git's user.name and
user.email, or a configured ``[replay.operator]``. Nothing is invented for
what is not known, so the facts nobody gave stay RECOMMENDED issues, and each
one's advice names the ``[replay.operator]`` setting that supplies it.
Records are built from a hand-made result (no engine) and validated once per
module: roc-validator takes seconds per crate.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from repropack.crate.check import explain_profile_issues
from repropack.crate.profiles import profiles_for, validate_profiles
from repropack.crate.versions import crate_version_of
from repropack.fs.hashing import sha256_file
from repropack.model import (
    Organization,
    OutputComparison,
    OutputStatus,
    Person,
    ReplayedPackage,
    ReplayResult,
    Verdict,
)
from repropack.record.governed_run import REPORT_FILE, RESULT_FILE, _metadata
from repropack.record.report_html import render_html_report
from tests.samples import sample_replay_result

METADATA = "ro-crate-metadata.json"
OPERATORS = {
    "os-user": Person("root"),  # no git identity: the OS user's name only
    "git": Person("Ada Example", email="ada@example.org"),  # git's user.name and user.email
    "configured": Person(
        "Rita Reviewer",
        Organization("Data Governance Office", "https://governance.example.org"),
        "https://orcid.org/0000-0001-5109-3700",
        "rita@governance.example.org",
    ),
}
CASES = [(version, operator) for version in ("1.2", "1.1") for operator in OPERATORS]


def _result() -> ReplayResult:
    return sample_replay_result(
        package=ReplayedPackage(Path("/data/claims.crate.zip"), "Claims by age band", "a" * 64),
        verdict=Verdict.REPRODUCED,
        outputs=(
            OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
            OutputComparison("outputs/counts.csv", OutputStatus.IDENTICAL, "sha256"),
        ),
        rules={"declared": {}, "applied": {"analysis.ipynb": "notebook"}},
        image_reused=False,
        agent="root",
    )


def write_record(folder: Path, operator: Person, crate_version: str) -> Path:
    """The record's files as write_governed_run lays them out (unsigned: the validator does not read signatures)."""
    result = _result()
    folder.mkdir(parents=True)
    (folder / RESULT_FILE).write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / REPORT_FILE).write_text(render_html_report(result), encoding="utf-8")
    files = {name: sha256_file(folder / name) for name in (RESULT_FILE, REPORT_FILE)}
    metadata = _metadata(result, operator, crate_version=crate_version, files=files)
    (folder / METADATA).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, list]]:
    base = tmp_path_factory.mktemp("records")
    out = {}
    for version, operator in CASES:
        folder = write_record(base / f"{version}-{operator}", OPERATORS[operator], version)
        out[version, operator] = (folder, validate_profiles(folder))
    return out


def _metadata_of(folder: Path) -> dict:
    return json.loads((folder / METADATA).read_text(encoding="utf-8"))


def _entities(folder: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in _metadata_of(folder)["@graph"]}


def _checks(issues, profile: str, severity: str) -> list[str]:
    return sorted(i.check for i in issues if i.profile == profile and i.severity == severity)


# Measured with roc-validator 0.13 offline. The 1.1 ids under process-run-crate-0.5 are the RO-Crate 1.1 checks it
# inherits: 22.3 publisher SHOULD be an Organization, 30.2/30.3 the author SHOULD have an affiliation (an entity).
NO_AFFILIATION_1_1 = ["ro-crate-1.1_22.3", "ro-crate-1.1_30.2", "ro-crate-1.1_30.3"]
EXPECTED = {
    # ro-crate-1.2: 44.2 the descriptor also names 1.1 (crate.versions); 80.2/80.3 affiliation; 91.0 ORCID;
    # 93.0 a contact point (from an email); 89.0 a ROR id and 90.1 a contact point for the organization.
    ("1.2", "os-user"): {
        "ro-crate-1.2": [
            "ro-crate-1.2_44.2",
            "ro-crate-1.2_80.2",
            "ro-crate-1.2_80.3",
            "ro-crate-1.2_91.0",
            "ro-crate-1.2_93.0",
        ],
        "process-run-crate-0.5": NO_AFFILIATION_1_1,
    },
    ("1.2", "git"): {
        "ro-crate-1.2": ["ro-crate-1.2_44.2", "ro-crate-1.2_80.2", "ro-crate-1.2_80.3", "ro-crate-1.2_91.0"],
        "process-run-crate-0.5": NO_AFFILIATION_1_1,
    },
    ("1.2", "configured"): {
        "ro-crate-1.2": ["ro-crate-1.2_44.2", "ro-crate-1.2_89.0", "ro-crate-1.2_90.1"],
        "process-run-crate-0.5": [],
    },
    ("1.1", "os-user"): {"ro-crate-1.1": NO_AFFILIATION_1_1, "process-run-crate-0.5": NO_AFFILIATION_1_1},
    ("1.1", "git"): {"ro-crate-1.1": NO_AFFILIATION_1_1, "process-run-crate-0.5": NO_AFFILIATION_1_1},
    ("1.1", "configured"): {"ro-crate-1.1": [], "process-run-crate-0.5": []},
}


@pytest.mark.parametrize(("version", "operator"), CASES)
def test_record_is_written_as_the_chosen_version_and_checked_with_its_profiles(records, version, operator):
    folder, _ = records[version, operator]
    assert crate_version_of(_metadata_of(folder)) == version
    assert profiles_for(folder) == (f"ro-crate-{version}", "process-run-crate-0.5")


@pytest.mark.parametrize(("version", "operator"), CASES)
def test_record_validator_counts(records, version, operator):
    _, issues = records[version, operator]
    expected = EXPECTED[version, operator]
    assert Counter(i.severity for i in issues)["REQUIRED"] == 0, issues
    assert {profile: _checks(issues, profile, "RECOMMENDED") for profile in expected} == expected
    assert {i.profile for i in issues} <= set(expected)


@pytest.mark.parametrize(("version", "operator"), CASES)
def test_every_recommendation_left_is_advice_naming_the_operator_setting(records, version, operator):
    folder, issues = records[version, operator]
    problems, advice = explain_profile_issues(issues, _metadata_of(folder))
    assert problems == []
    for item in advice:
        if item.check in ("ro-crate-1.2_44.2",):
            assert item.setting.startswith("nothing to set")
        else:
            assert "[replay.operator]" in item.setting, item
    settings = " ".join(a.setting for a in advice)
    if operator != "configured":
        assert "set affiliation = {name, url} in [replay.operator]" in settings
    if operator == "os-user" and version == "1.2":
        assert "set email in [replay.operator]" in settings
    if version == "1.2" and operator == "configured":
        assert "affiliation.ror" in settings and "Data Governance Office" in settings


# --- what the record says of the operator: only what is known ------------------------------------


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_an_operator_known_by_name_only_is_a_person_with_a_name_only(records, version):
    ents = _entities(records[version, "os-user"][0])
    assert ents["#operator"] == {"@id": "#operator", "@type": "Person", "name": "root"}
    assert not [e for e in ents.values() if e["@type"] in ("Organization", "ContactPoint")]
    assert ents["./"]["author"] == {"@id": "#operator"}
    assert ents["#replay"]["agent"] == {"@id": "#operator"}


def test_without_an_organization_a_1_1_record_has_no_publisher_and_a_1_2_record_is_published_by_its_operator(records):
    assert "publisher" not in _entities(records["1.1", "git"][0])["./"]  # 1.1 wants an Organization there
    assert _entities(records["1.2", "git"][0])["./"]["publisher"] == {"@id": "#operator"}


def test_git_email_becomes_the_operators_contact_point(records):
    ents = _entities(records["1.2", "git"][0])
    ada = ents["#operator"]
    assert ada["email"] == "ada@example.org"
    assert ada["contactPoint"] == {"@id": "mailto:ada@example.org"}
    assert ents["mailto:ada@example.org"]["@type"] == "ContactPoint"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_configured_operator_is_identified_and_their_organization_publishes(records, version):
    ents = _entities(records[version, "configured"][0])
    rita = ents["https://orcid.org/0000-0001-5109-3700"]
    assert rita["name"] == "Rita Reviewer"
    assert rita["affiliation"] == {"@id": "https://governance.example.org"}
    assert ents["./"]["publisher"] == {"@id": "https://governance.example.org"}
    assert ents["https://governance.example.org"] == {
        "@id": "https://governance.example.org",
        "@type": "Organization",
        "name": "Data Governance Office",
        "url": "https://governance.example.org",
    }


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_record_files_state_their_size_and_digest(records, version):
    folder = records[version, "git"][0]
    ents = _entities(folder)
    for name in (RESULT_FILE, REPORT_FILE):
        digest = sha256_file(folder / name)
        assert ents[name]["contentSize"] == str(digest.size)
        assert ents[name]["sha256"] == digest.sha256
        assert ents[name]["description"]


def test_an_image_the_engine_did_not_name_by_sha256_is_no_container_image():
    result = _result()
    local = ReplayResult(**{**result.__dict__, "image": "/tmp/venv", "image_id": "/tmp/venv/bin/python"})
    metadata = _metadata(local, OPERATORS["git"])
    assert not [e for e in metadata["@graph"] if "ContainerImage" in e["@type"]]
    assert "containerImage" not in next(e for e in metadata["@graph"] if e["@id"] == "#replay")
