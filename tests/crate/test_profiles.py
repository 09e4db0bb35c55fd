"""roc-validator run many times in one process: the findings of a fresh validator, crate after crate.

``profiles.validate_profiles`` keeps its validators, its offline context cache and the parsed SPARQL
of the profiles for the life of the process. These tests validate a real exported package and copies
damaged on purpose (no license, no author, a Process Run Crate violation), several times and in
changing order, and compare with the issues a fresh validator per call finds (the slow test runs that
original path in a fresh interpreter).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from repropack.crate import parsed_sparql, profiles
from repropack.export import export_project
from tests.conftest import isolate_user_dirs, make_project

METADATA = "ro-crate-metadata.json"
RUN_ID = "#run-1-analysis-ipynb"

_EDITS: dict[str, Callable[[dict], object]] = {
    "valid": lambda metadata: None,
    "no-license": lambda metadata: _entity(metadata, "./").pop("license"),
    "no-author": lambda metadata: _entity(metadata, "./").pop("author"),
    "no-instrument": lambda metadata: _entity(metadata, RUN_ID).pop("instrument"),
}

_ADVICE_1_2 = [
    ("ro-crate-1.2", "RECOMMENDED", "ro-crate-1.2_44.2"),
    ("ro-crate-1.2", "RECOMMENDED", "ro-crate-1.2_89.0"),
    ("ro-crate-1.2", "RECOMMENDED", "ro-crate-1.2_90.1"),
    ("ro-crate-1.2", "RECOMMENDED", "ro-crate-1.2_93.0"),
]
_UNREFERENCED = ("ro-crate-1.2", "RECOMMENDED", "ro-crate-1.2_79.0")
#: What roc-validator 0.13 (a fresh validator per call) finds in each package, in its order.
KNOWN_ISSUES = {
    "valid": _ADVICE_1_2,
    "no-license": [
        ("ro-crate-1.2", "REQUIRED", "ro-crate-1.2_13.3"),
        _ADVICE_1_2[0],
        _UNREFERENCED,  # the license entity, now referenced by nothing
        *_ADVICE_1_2[1:],
        ("process-run-crate-0.5", "REQUIRED", "ro-crate-1.1_8.3"),
        ("process-run-crate-0.5", "RECOMMENDED", "ro-crate-1.1_22.1"),
    ],
    "no-author": [*_ADVICE_1_2, ("process-run-crate-0.5", "RECOMMENDED", "ro-crate-1.1_22.2")],
    "no-instrument": [
        _ADVICE_1_2[0],
        _UNREFERENCED,  # the notebook's SoftwareSourceCode entity
        *_ADVICE_1_2[1:],
        ("process-run-crate-0.5", "REQUIRED", "process-run-crate-0.5_1.1"),
    ],
}


def _entity(metadata: dict, entity_id: str) -> dict:
    return next(e for e in metadata["@graph"] if e["@id"] == entity_id)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    """An executed RO-Crate 1.2 export, and copies of it with one edit each (``_EDITS``)."""
    base = tmp_path_factory.mktemp("profile-packages")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        exported = base / "exported"
        export_project(make_project(base / "study"), exported, {})
    out = {}
    for name, edit in _EDITS.items():
        package = shutil.copytree(exported, base / name)
        metadata = json.loads((package / METADATA).read_text(encoding="utf-8"))
        edit(metadata)
        (package / METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        out[name] = package
    return out


def _ids(issues: list[profiles.ProfileIssue]) -> list[tuple[str, str, str]]:
    return [(i.profile, i.severity, i.check) for i in issues]


def _offline_cache() -> str:
    return profiles._offline_cache(frozenset(profiles.BUNDLED_CONTEXTS.items()))


def test_each_package_gets_its_known_issues_however_often_and_in_whatever_order(packages):
    first = {name: profiles.validate_profiles(path) for name, path in packages.items()}
    assert {name: _ids(issues) for name, issues in first.items()} == KNOWN_ISSUES
    parsed, cache = parsed_sparql.cached_queries(), _offline_cache()
    # The validators are reused: nothing of one crate may carry over to the next, in either order.
    for name in ("no-instrument", "valid"):
        assert profiles.validate_profiles(packages[name]) == first[name]
    # ...and what they reuse is made once: no query parsed again, no second context cache.
    assert parsed_sparql.cached_queries() == parsed > 0
    assert _offline_cache() == cache
    assert Path(cache + ".sqlite").is_file()


def test_a_crate_changed_between_two_validations_is_validated_as_it_is_now(packages, tmp_path):
    package = shutil.copytree(packages["valid"], tmp_path / "pkg")
    assert _ids(profiles.validate_profiles(package)) == KNOWN_ISSUES["valid"]
    metadata = json.loads((package / METADATA).read_text(encoding="utf-8"))
    _entity(metadata, RUN_ID).pop("instrument")
    (package / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
    assert _ids(profiles.validate_profiles(package)) == KNOWN_ISSUES["no-instrument"]


def test_a_context_taken_out_of_the_bundle_is_not_served_from_the_cache_that_had_it(packages, monkeypatch):
    profiles.validate_profiles(packages["valid"], ("ro-crate-1.2",))
    monkeypatch.delitem(profiles.BUNDLED_CONTEXTS, "https://w3id.org/ro/crate/1.2/context")
    issues = profiles.validate_profiles(packages["valid"], ("ro-crate-1.2",))
    assert [i.check for i in issues if i.check == "offline-context"] == ["offline-context"]


def test_a_folder_that_is_not_there_is_not_validated(tmp_path):
    with pytest.raises(FileNotFoundError, match="RO-Crate not found"):
        profiles.validate_profiles(tmp_path / "absent", ("ro-crate-1.2",))


# The original path, as profiles.validate_profiles ran before it reused anything: a fresh offline cache and
# a fresh roc-validator (services.validate) per call, in an interpreter whose rdflib parses every query.
_FRESH_VALIDATOR_PER_CALL = """
import json, sys, tempfile
from pathlib import Path
from rocrate_validator import services
from repropack.crate import profiles
out = {}
for root in sys.argv[2:]:
    issues = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "http_cache")
        profiles._fill_cache(cache, profiles.BUNDLED_CONTEXTS)
        for profile in profiles.profiles_for(Path(root)):
            settings = services.ValidationSettings(rocrate_uri=root, profile_identifier=profile,
                requirement_severity="RECOMMENDED", offline=True, cache_path=cache)
            for i in services.validate(settings).get_issues():
                issues.append([profile, i.severity.name, i.check.identifier, i.message or ""])
    out[root] = issues
Path(sys.argv[1]).write_text(json.dumps(out))
"""


@pytest.mark.slow
def test_findings_equal_those_of_a_fresh_validator_per_call(packages, tmp_path):
    roots = [str(path) for path in packages.values()]
    reference = tmp_path / "reference.json"
    subprocess.run([sys.executable, "-c", _FRESH_VALIDATOR_PER_CALL, str(reference), *roots], check=True)
    expected = json.loads(reference.read_text())
    for root in roots + roots[::-1]:
        assert [[i.profile, i.severity, i.check, i.message] for i in profiles.validate_profiles(Path(root))] == (
            expected[root]
        )
