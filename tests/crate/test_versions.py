"""Which RO-Crate version a crate is: read from its descriptor (and @context), one clear line when unsupported."""

from __future__ import annotations

import pytest

from repropack.crate import versions
from repropack.crate.versions import crate_version_of
from repropack.errors import BadInput

SPEC = "https://w3id.org/ro/crate/"


def _crate(conforms_to, context=None, descriptor_id: str = "ro-crate-metadata.json") -> dict:
    descriptor = {"@id": descriptor_id, "@type": "CreativeWork", "about": {"@id": "./"}}
    if conforms_to is not None:
        descriptor["conformsTo"] = conforms_to
    return {
        "@context": context if context is not None else ["https://w3id.org/ro/terms/workflow-run/context"],
        "@graph": [{"@id": "./", "@type": "Dataset"}, descriptor],
    }


def _ref(version: str) -> dict:
    return {"@id": f"{SPEC}{version}"}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (_crate(_ref("1.1"), [f"{SPEC}1.1/context"]), "1.1"),
        (_crate(_ref("1.2"), f"{SPEC}1.2/context"), "1.2"),
        (_crate([_ref("1.2"), _ref("1.1")], [f"{SPEC}1.2/context", {"x": "y"}]), "1.2"),  # what repropack writes
        (_crate([_ref("1.1"), _ref("1.2")], [f"{SPEC}1.2/context"]), "1.2"),  # order does not matter
        (_crate(_ref("1.3"), [f"{SPEC}1.3/context"]), "1.3"),
        (_crate(_ref("1.2")), "1.2"),  # no RO-Crate context listed: the descriptor decides
        (_crate(None, [f"{SPEC}1.1/context"]), "1.1"),  # no conformsTo: the context decides
        (_crate(_ref("1.1"), [f"{SPEC}1.1/context"], "ro-crate-metadata.jsonld"), "1.1"),
        (_crate(f"{SPEC}1.2", [f"{SPEC}1.2/context"]), "1.2"),  # a bare string instead of a reference
    ],
)
def test_crate_version_is_read_from_the_descriptor(metadata, expected):
    assert crate_version_of(metadata) == expected


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        (_crate(_ref("1.4"), [f"{SPEC}1.4/context"]), "https://w3id.org/ro/crate/1.4"),
        (_crate(_ref("1.0"), [f"{SPEC}1.0/context"]), "https://w3id.org/ro/crate/1.0"),
        (_crate(_ref("1.2-DRAFT"), [f"{SPEC}1.2-DRAFT/context"]), "1.2-DRAFT"),
        (_crate(None), "conforms to nothing"),
        (_crate(_ref("1.1"), [f"{SPEC}1.2/context"]), "version unclear"),
        ({"@graph": [{"@id": "./"}]}, "no ro-crate-metadata.json descriptor"),
        ({"@context": []}, "no @graph"),
    ],
)
def test_anything_else_is_bad_input_in_one_line(metadata, words):
    with pytest.raises(BadInput) as raised:
        crate_version_of(metadata)
    message = str(raised.value)
    assert words in message
    assert "\n" not in message
    assert raised.value.exit_code == 2


def test_written_versions_default_to_1_2_and_reading_adds_1_3():
    assert versions.DEFAULT == "1.2"
    assert set(versions.WRITABLE) == {"1.1", "1.2"}
    assert versions.READABLE == ("1.1", "1.2", "1.3")
    with pytest.raises(BadInput, match="cannot be written"):
        versions.writable("1.3")


def test_each_version_is_validated_with_its_own_profile_and_process_run_crate():
    assert versions.validator_profiles("1.1") == ("ro-crate-1.1", "process-run-crate-0.5")
    assert versions.validator_profiles("1.2") == ("ro-crate-1.2", "process-run-crate-0.5")
    assert versions.validator_profiles("1.3") == ("ro-crate-1.3", "process-run-crate-0.5")


def test_a_1_2_descriptor_also_names_1_1_for_process_run_crate():
    assert versions.descriptor_conforms_to("1.1") == [f"{SPEC}1.1"]
    assert versions.descriptor_conforms_to("1.2") == [f"{SPEC}1.2", f"{SPEC}1.1"]


def test_the_settings_layer_offers_the_versions_repropack_writes():
    from repropack.config import CRATE_VERSIONS, DEFAULT_CRATE_VERSION  # config sits below crate: it cannot import it

    assert set(CRATE_VERSIONS) == set(versions.WRITABLE)
    assert DEFAULT_CRATE_VERSION == versions.DEFAULT
