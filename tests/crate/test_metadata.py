"""Package model -> ro-crate-metadata.json, on hand-built packages (no kernel, no disk)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from repropack.crate.check import check_schema
from repropack.crate.metadata import build_metadata, collapse_singletons, iso8601, license_id
from repropack.crate.versions import crate_version_of
from repropack.errors import BadInput
from repropack.model import (
    Environment,
    FileRecord,
    FileRole,
    LockedDistribution,
    NotebookRun,
    Organization,
    Package,
    PackageMetadata,
    Person,
    RunStatus,
    layout,
)

REPO = Path(__file__).resolve().parents[2]
RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_1_2_CONTEXT = "https://w3id.org/ro/crate/1.2/context"
WORKFLOW_RUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
PLUS_TWO = timezone(timedelta(hours=2))


# --- collapse_singletons -------------------------------------------------------------------


def test_collapse_singletons_replaces_one_element_lists_at_every_depth():
    value = {
        "a": [1],
        "b": [1, 2],
        "c": {"d": [{"e": ["x"]}], "f": []},
        "g": [[["deep"]]],
        "h": "text",
    }
    assert collapse_singletons(value) == {
        "a": 1,
        "b": [1, 2],
        "c": {"d": {"e": "x"}, "f": []},
        "g": "deep",
        "h": "text",
    }


def test_collapse_singletons_inside_lists_that_stay_lists():
    assert collapse_singletons([{"@id": ["a"]}, {"@id": ["b", "c"]}]) == [{"@id": "a"}, {"@id": ["b", "c"]}]


def test_collapse_singletons_leaves_context_untouched():
    context = ["https://w3id.org/ro/crate/1.1/context"]
    nested_context = [{"term": ["kept"]}]
    value = {"@context": context, "@graph": [{"@id": "./", "x": ["y"], "inner": {"@context": nested_context}}]}
    out = collapse_singletons(value)
    assert out["@context"] == ["https://w3id.org/ro/crate/1.1/context"]
    assert out["@graph"] == {"@id": "./", "x": "y", "inner": {"@context": [{"term": ["kept"]}]}}
    assert value["@graph"][0]["x"] == ["y"]  # the input is not modified


def test_collapse_singletons_leaves_scalars_alone():
    for scalar in (None, 0, 1.5, "", "x", True):
        assert collapse_singletons(scalar) == scalar


# --- iso8601 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 5, 1, 14, 0, 0, tzinfo=PLUS_TWO), "2024-05-01T12:00:00+00:00"),
        (datetime(2024, 5, 1, 12, 0, 0, 999_999, tzinfo=timezone.utc), "2024-05-01T12:00:00+00:00"),
        (datetime(2024, 1, 1, 0, 30, 5, 1, tzinfo=PLUS_TWO), "2023-12-31T22:30:05+00:00"),
        (datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))), "2024-03-01T06:30:00+00:00"),
    ],
)
def test_iso8601_is_utc_whole_seconds_with_explicit_offset(moment, expected):
    text = iso8601(moment)
    assert text == expected
    assert not text.endswith("Z") and "." not in text
    assert datetime.fromisoformat(text) == moment.replace(microsecond=0)


# --- license_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("license", "expected"),
    [
        ("MIT", "https://spdx.org/licenses/MIT"),
        ("Apache-2.0", "https://spdx.org/licenses/Apache-2.0"),
        ("CC-BY-4.0", "https://spdx.org/licenses/CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by/4.0/", "https://creativecommons.org/licenses/by/4.0/"),
        ("http://example.org/licence.txt", "http://example.org/licence.txt"),
    ],
)
def test_license_id_is_an_spdx_url_unless_already_a_url(license, expected):
    assert license_id(license) == expected


# --- build_metadata ------------------------------------------------------------------------


DOCKERFILE, LOCK, SETTINGS = layout.DOCKERFILE, layout.LOCK, layout.SETTINGS
ENV_HASH = "0123456789abcdef" * 4
ADA = Person(
    "Ada Example", Organization("Example Institute", "https://example.org"), "https://orcid.org/0000-0002-1825-0097"
)
BOB = Person("Bob Builder", Organization("Garage Lab"))


def _record(
    path: str, role: FileRole, *, restricted: bool = False, note: str | None = None, fmt: str = "text/csv"
) -> FileRecord:
    digest = hashlib.sha256(path.encode()).hexdigest()
    return FileRecord(path, digest, len(path) * 3, fmt, role, restricted, note)


def _package(**changes) -> Package:
    files = [
        _record("analysis.ipynb", FileRole.NOTEBOOK, fmt="application/x-ipynb+json"),
        _record("saved.ipynb", FileRole.NOTEBOOK, fmt="application/x-ipynb+json"),
        _record("data/open.csv", FileRole.INPUT),
        _record("data/raw/secret register.csv", FileRole.INPUT, restricted=True, note="Ask the data steward."),
        _record("data/raw/other-secret.csv", FileRole.OTHER, restricted=True),
        _record("outputs/counts.csv", FileRole.OUTPUT),
        _record("my notes.md", FileRole.OTHER, fmt="text/markdown"),
        _record(DOCKERFILE, FileRole.SUPPORT, fmt="text/plain"),
        _record(LOCK, FileRole.SUPPORT, fmt="text/plain"),
        _record(SETTINGS, FileRole.SUPPORT, fmt="application/json"),
    ]
    runs = [
        NotebookRun(
            "analysis.ipynb",
            "python3",
            "Python 3",
            RunStatus.COMPLETED,
            start_time=datetime(2024, 5, 1, 14, 0, 0, 250_000, tzinfo=PLUS_TWO),
            end_time=datetime(2024, 5, 1, 14, 0, 7, tzinfo=PLUS_TWO),
            inputs=("data/open.csv", "data/raw/secret register.csv"),
            outputs=("outputs/counts.csv",),
        ),
        NotebookRun("saved.ipynb", "python3", "Python 3", RunStatus.NOT_EXECUTED),
    ]
    environment = Environment(
        python_version="3.11.7",
        implementation="CPython",
        platform="Linux-x86_64",
        machine="x86_64",
        lock=(LockedDistribution("ipykernel", "6.29.4", ("runtime",)),),
        base_image="python:3.11-slim",
    )
    fields = dict(
        metadata=PackageMetadata(
            title="Study",
            description="A small study.",
            license="MIT",
            authors=(ADA, BOB),
            publisher=Organization("Example Institute", "https://example.org"),
            date_published=datetime(2024, 5, 2, 9, 30, tzinfo=timezone.utc),
            keywords=("claims",),
        ),
        files=files,
        runs=runs,
        environment=environment,
        git=None,
        agent=ADA,
        tool_version="0.1.0",
    )
    fields.update(changes)
    return Package(**fields)


def _build(package: Package | None = None, **options) -> dict:
    return build_metadata(
        package or _package(),
        dockerfile_path=DOCKERFILE,
        lock_path=LOCK,
        settings_path=SETTINGS,
        env_hash=ENV_HASH,
        **options,
    )


def _entities(metadata: dict) -> dict[str, dict]:
    return {e["@id"]: e for e in metadata["@graph"]}


def _ids(value) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value])]


def test_context_is_ro_crate_then_workflow_run_then_our_inline_terms():
    context = _build(crate_version="1.1")["@context"]
    ours = json.loads((REPO / "schemas" / "repropack-context.jsonld").read_text(encoding="utf-8"))["@context"]
    assert context == [RO_CRATE_CONTEXT, WORKFLOW_RUN_CONTEXT, ours]
    assert {"restricted", "fileRole", "accessNote", "environmentHash"} <= context[2].keys()


def test_default_context_is_ro_crate_1_2_then_workflow_run_then_our_inline_terms():
    context = _build()["@context"]
    ours = json.loads((REPO / "schemas" / "repropack-context.jsonld").read_text(encoding="utf-8"))["@context"]
    assert context == [RO_CRATE_1_2_CONTEXT, WORKFLOW_RUN_CONTEXT, ours]


@pytest.mark.parametrize(
    ("options", "version", "conforms_to"),
    [
        ({}, "1.2", ["https://w3id.org/ro/crate/1.2", "https://w3id.org/ro/crate/1.1"]),
        ({"crate_version": "1.2"}, "1.2", ["https://w3id.org/ro/crate/1.2", "https://w3id.org/ro/crate/1.1"]),
        ({"crate_version": "1.1"}, "1.1", ["https://w3id.org/ro/crate/1.1"]),
    ],
)
def test_descriptor_names_the_chosen_version_and_1_2_also_names_1_1(options, version, conforms_to):
    metadata = _build(**options)
    descriptor = _entities(metadata)["ro-crate-metadata.json"]
    assert _ids(descriptor["conformsTo"]) == conforms_to
    assert _ids(descriptor["about"]) == ["./"]
    assert crate_version_of(metadata) == version


@pytest.mark.parametrize("version", ["1.0", "1.3", "2", ""])
def test_a_version_repropack_does_not_write_is_bad_input(version):
    with pytest.raises(BadInput, match="cannot be written"):
        _build(crate_version=version)


@pytest.mark.parametrize(("version", "types"), [("1.1", "CreativeWork"), ("1.2", ["CreativeWork", "Profile"])])
def test_process_run_crate_is_declared_as_a_profile_entity_from_1_2_on(version, types):
    ents = _entities(_build(crate_version=version))
    profile = ents["https://w3id.org/ro/wfrun/process/0.5"]
    assert profile["@type"] == types
    assert profile["version"] == "0.5" and profile["name"] == "Process Run Crate"
    assert _ids(ents["./"]["conformsTo"]) == ["https://w3id.org/ro/wfrun/process/0.5"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_file_has_a_description_that_says_why_it_is_there(version):
    ents = _entities(_build(crate_version=version))
    files = {layout.path_of_entity(e["@id"]): e for e in ents.values() if e["@type"] == "File"}
    assert all(e.get("description") for e in files.values()), files
    assert files["data/open.csv"]["description"] == "Input read by analysis.ipynb."
    assert files["outputs/counts.csv"]["description"] == "Output written by analysis.ipynb."
    assert "executed it at export" in files["analysis.ipynb"]["description"]
    assert "not executed at export" in files["saved.ipynb"]["description"]
    assert files["data/raw/secret register.csv"]["description"].startswith("Restricted input: ")
    assert files["data/raw/other-secret.csv"]["description"].startswith("Restricted file: ")
    assert "no notebook run read or wrote it" in files["my notes.md"]["description"]
    assert "Dockerfile" in files[DOCKERFILE]["description"]


@pytest.mark.parametrize(("version", "has_local_path"), [("1.1", False), ("1.2", True)])
def test_restricted_files_say_where_they_belong_from_1_2_on(version, has_local_path):
    ents = _entities(_build(crate_version=version))
    restricted = [e for e in ents.values() if e.get("restricted")]
    assert len(restricted) == 2
    for entity in restricted:
        path = layout.path_of_entity(entity["@id"])
        assert entity.get("localPath") == (path if has_local_path else None)
    assert not [e for e in ents.values() if "localPath" in e and not e.get("restricted")]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_software_has_a_version_and_not_also_a_software_version(version):
    ents = _entities(_build(crate_version=version))
    apps = [e for e in ents.values() if e["@type"] == "SoftwareApplication"]
    assert {a["@id"] for a in apps} == {"https://ipython.org/", "https://pypi.org/project/repropack/"}
    assert ents["https://ipython.org/"]["version"] == "6.29.4"
    assert ents["https://pypi.org/project/repropack/"]["version"] == "0.1.0"
    assert not [a for a in apps if "softwareVersion" in a]


def test_license_and_container_image_are_described_with_schema_org_types():
    ents = _entities(_build())
    assert ents["https://spdx.org/licenses/MIT"]["description"] == (
        "The license with SPDX identifier MIT; its text is at https://spdx.org/licenses/MIT.html."
    )
    image = ents["#container-image"]
    assert image["@type"] == ["ContainerImage", "CreativeWork"]


def test_a_person_with_an_email_has_a_contact_point():
    carol = Person("Carol Contact", email="carol@example.org")
    ents = _entities(_build(_package(metadata=replace(_package().metadata, authors=(carol,)))))
    person = ents["#person-carol-contact"]
    assert person["email"] == "carol@example.org"
    assert _ids(person["contactPoint"]) == ["mailto:carol@example.org"]
    assert ents["mailto:carol@example.org"] == {
        "@id": "mailto:carol@example.org",
        "@type": "ContactPoint",
        "name": "Email address of Carol Contact",
        "email": "carol@example.org",
    }


@dataclass(frozen=True)
class _RegisteredOrganization(Organization):
    """An Organization with the two facts the settings are to supply (publisher.ror, publisher.email)."""

    ror: str | None = None
    email: str | None = None


def test_an_organization_with_a_ror_id_is_identified_by_it_and_has_its_contact_point():
    org = _RegisteredOrganization(
        "Example Institute", "https://example.org", "https://ror.org/03yrm5c26", "info@example.org"
    )
    package = _package(metadata=replace(_package().metadata, publisher=org))
    ents = _entities(_build(package))
    assert _ids(ents["./"]["publisher"]) == ["https://ror.org/03yrm5c26"]
    publisher = ents["https://ror.org/03yrm5c26"]
    assert publisher["url"] == "https://example.org"
    assert _ids(publisher["contactPoint"]) == ["mailto:info@example.org"]


def test_a_package_that_did_not_run_mentions_its_image_and_names_no_kernel():
    package = _package(runs=[replace(run, status=RunStatus.NOT_EXECUTED) for run in _package().runs])
    ents = _entities(_build(package))
    assert _ids(ents["./"]["mentions"]) == ["#container-image"]
    assert "https://ipython.org/" not in ents
    assert not [e for e in ents.values() if e["@type"] == "CreateAction"]


def test_restricted_files_get_fragment_ids_and_are_parts_of_the_root():
    ents = _entities(_build())
    root_parts = set(_ids(ents["./"]["hasPart"]))
    for path in ("data/raw/secret register.csv", "data/raw/other-secret.csv"):
        entity_id = layout.entity_id(path, True)  # "#restricted/" + the path, percent-encoded as every @id
        assert entity_id.startswith("#restricted/data/raw/")
        assert entity_id in ents, sorted(ents)
        assert path not in ents
        assert entity_id in root_parts
        assert ents[entity_id]["restricted"] is True
        assert ents[entity_id]["@type"] == "File"
    assert ents["#restricted/data/raw/secret%20register.csv"]["accessNote"] == "Ask the data steward."
    assert ents["#restricted/data/raw/other-secret.csv"]["accessNote"] == ""
    assert "restricted" not in ents["data/open.csv"]
    assert "data/open.csv" in root_parts and "outputs/counts.csv" in root_parts


def test_every_file_entity_has_digest_size_format_and_role():
    package = _package()
    ents = _entities(_build(package))
    files = {e["sha256"]: e for e in ents.values() if e["@type"] == "File"}  # each record has its own digest
    assert len(files) == len(package.files)
    for record in package.files:
        entity = files[record.sha256]
        assert entity["sha256"] == record.sha256
        assert entity["contentSize"] == str(record.size)
        assert entity["encodingFormat"] == record.encoding_format
        assert entity["fileRole"] == record.role.value
        assert entity["name"] == record.path.rsplit("/", 1)[-1]


def test_completed_run_has_status_times_in_utc_and_its_files():
    ents = _entities(_build())
    run = ents["#run-1-analysis-ipynb"]
    assert run["@type"] == "CreateAction"
    assert run["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert run["startTime"] == "2024-05-01T12:00:00+00:00"
    assert run["endTime"] == "2024-05-01T12:00:07+00:00"
    assert set(_ids(run["object"])) == {"analysis.ipynb", "data/open.csv", "#restricted/data/raw/secret%20register.csv"}
    assert set(_ids(run["result"])) == {"analysis.ipynb", "outputs/counts.csv"}
    assert _ids(run["instrument"]) == ["https://ipython.org/"]
    assert _ids(run["containerImage"]) == ["#container-image"]
    assert _ids(run["agent"]) == [ADA.identifier]
    assert "error" not in run


def test_not_executed_run_is_no_action_and_its_notebook_stays_a_file():
    ents = _entities(_build())
    assert "#run-2-saved-ipynb" not in ents
    assert ents["saved.ipynb"]["fileRole"] == "notebook"
    assert _ids(ents["./"]["mentions"]) == ["#run-1-analysis-ipynb"]


def test_failed_run_records_its_status_and_errors():
    package = _package()
    package.runs[0] = NotebookRun(
        "analysis.ipynb",
        "python3",
        "Python 3",
        RunStatus.FAILED,
        start_time=datetime(2024, 5, 1, 12, tzinfo=timezone.utc),
        end_time=datetime(2024, 5, 1, 12, 1, tzinfo=timezone.utc),
        errors=("cell 3: ZeroDivisionError: division by zero", "cell 5: NameError: name 'x' is not defined"),
    )
    run = _entities(_build(package))["#run-1-analysis-ipynb"]
    assert run["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert run["error"] == "cell 3: ZeroDivisionError: division by zero; cell 5: NameError: name 'x' is not defined"


def test_authors_have_affiliated_organizations():
    ents = _entities(_build())
    assert _ids(ents["./"]["author"]) == [ADA.identifier, "#person-bob-builder"]
    ada = ents[ADA.identifier]
    assert ada["@type"] == "Person" and ada["name"] == "Ada Example"
    org = ents[_ids(ada["affiliation"])[0]]
    assert org == {
        "@id": "https://example.org",
        "@type": "Organization",
        "name": "Example Institute",
        "url": "https://example.org",
    }
    bob = ents["#person-bob-builder"]
    bob_org = ents[_ids(bob["affiliation"])[0]]
    assert bob_org == {"@id": "#org-garage-lab", "@type": "Organization", "name": "Garage Lab"}
    assert _ids(ents["./"]["publisher"]) == ["https://example.org"]


def test_root_dataset_license_and_date():
    ents = _entities(_build())
    root = ents["./"]
    assert root["name"] == "Study" and root["description"] == "A small study."
    assert root["datePublished"] == "2024-05-02T09:30:00+00:00"
    assert _ids(root["license"]) == ["https://spdx.org/licenses/MIT"]
    assert ents["https://spdx.org/licenses/MIT"]["identifier"] == "MIT"
    assert _ids(root["conformsTo"]) == ["https://w3id.org/ro/wfrun/process/0.5"]
    assert _ids(root["settingsFile"]) == [SETTINGS]
    assert root["keywords"] == "claims"  # a one-element list is collapsed


def test_container_image_points_at_the_recipe_and_lock():
    image = _entities(_build())["#container-image"]
    assert image["environmentHash"] == ENV_HASH
    assert image["tag"] == ENV_HASH[:16]
    assert _ids(image["buildRecipe"]) == [DOCKERFILE]
    assert _ids(image["lockFile"]) == [LOCK]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_built_metadata_satisfies_the_package_schema(version):
    assert check_schema(_build(crate_version=version)) == []


def test_build_is_deterministic():
    assert json.dumps(_build(), sort_keys=False) == json.dumps(_build(), sort_keys=False)


def test_file_ids_map_back_to_their_package_paths():
    ents = _entities(_build())
    files = [e for e in ents.values() if e["@type"] == "File"]
    paths = {layout.path_of_entity(e["@id"]) for e in files}
    assert {r.path for r in _package().files} == paths
