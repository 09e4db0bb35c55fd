"""Sign-offs on a governed-run record: added by a person after review, signed on their own, checked by verify_record.

Records are written by the real record writer from a hand-made result (no engine); one carries the
replay's disclosure check (a figure pending review), the other none.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from repropack.crate.profiles import validate_profiles
from repropack.errors import BadInput
from repropack.model import Person
from repropack.model.disclosure import DisclosureReport, DisclosureRules, DisclosureStatus, FileDisclosure
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import KeyPair, generate_key_pair
from repropack.record.sign_off import DISCLOSURE_CHECK_TYPE, SIGN_OFF_TYPE, sign_off_record
from repropack.record.signing import SIGNATURE_FILE, verify_record, without_sign_offs
from tests.samples import MOMENT, sample_replay_result

METADATA = "ro-crate-metadata.json"
LATER = datetime(2025, 1, 3, 9, 30, tzinfo=timezone.utc)


def _disclosure() -> DisclosureReport:
    return DisclosureReport(
        rules=DisclosureRules(min_count=10, counts=("n",), source="repropack.toml [disclosure]"),
        files=(
            FileDisclosure("outputs/counts.csv", DisclosureStatus.PASS, tables=1),
            FileDisclosure("outputs/fig.png", DisclosureStatus.REVIEW, note="needs review by a person: a figure"),
        ),
        started=MOMENT,
        ended=MOMENT,
        where="replay",
    )


def write_record(folder: Path, key: Path, *, disclosure: bool = True) -> Path:
    """A signed record as `repropack replay` writes it, with (or without) the replay's disclosure check."""
    kept = folder.parent / f"{folder.name}-kept"
    replayed = ("outputs/counts.csv", "outputs/fig.png")
    for path in replayed:
        (kept / path).parent.mkdir(parents=True, exist_ok=True)
        (kept / path).write_bytes(f"replayed {path}\n".encode())
    result = sample_replay_result(
        record=folder, replayed=replayed, disclosure=_disclosure() if disclosure else None, agent="ada"
    )
    return write_governed_run(result, folder, operator=Person("Ada"), key=key, replayed=kept)


@pytest.fixture
def key(tmp_path: Path) -> KeyPair:
    return generate_key_pair(tmp_path / "keys", name="reviewer")


@pytest.fixture
def record(tmp_path: Path, key: KeyPair) -> Path:
    return write_record(tmp_path / "record", key.private_path)


def _metadata(folder: Path) -> dict:
    return json.loads((folder / METADATA).read_text(encoding="utf-8"))


def _write_metadata(folder: Path, metadata: dict) -> None:
    (folder / METADATA).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _entities(folder: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in _metadata(folder)["@graph"]}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _sign_off(record: Path, key: KeyPair, **options) -> object:
    return sign_off_record(record, **{"by": "Rita Reviewer", "key": key.private_path, "now": LATER, **options})


# --- what a sign-off adds ------------------------------------------------------------------------


def test_a_sign_off_is_a_signed_five_safes_assess_action_on_the_disclosure_check(record, key):
    check = next(e["@id"] for e in _metadata(record)["@graph"] if _is_disclosure_check(e))
    sign_off = _sign_off(record, key, role="output checker")
    ents = _entities(record)
    action = ents["#sign-off-1"]
    assert action["@type"] == "AssessAction" and action["additionalType"] == {"@id": SIGN_OFF_TYPE}
    assert action["name"] == "Sign-off of the disclosure check: approved"
    assert action["object"] == [{"@id": "./"}, {"@id": check}]
    assert action["endTime"] == "2025-01-03T09:30:00+00:00"
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert action["agent"] == {"@id": "#sign-off-1-agent"}
    assert ents["#sign-off-1-agent"] == {
        "@id": "#sign-off-1-agent",
        "@type": "Role",
        "name": "Rita Reviewer",
        "roleName": "output checker",
    }
    assert {"@id": "#sign-off-1"} in ents["./"]["mentions"]
    assert action["signOffKeyId"] == key.key_id == sign_off.key_id
    assert "signOffSignature" in _metadata(record)["@context"][-1]  # a term of repropack's inline context

    result = verify_record(record)
    assert result.valid, result.problems
    assert [(s.id, s.by, s.role, s.decision, s.key_id, s.valid) for s in result.sign_offs] == [
        ("#sign-off-1", "Rita Reviewer", "output checker", "approved", key.key_id, True)
    ]


def _is_disclosure_check(entity: dict) -> bool:
    extra = entity.get("additionalType")
    return entity.get("@type") == "AssessAction" and extra == {"@id": DISCLOSURE_CHECK_TYPE}


def test_a_rejection_is_a_failed_action_and_keeps_the_note(record, key):
    _sign_off(record, key, decision="rejected", note="fig.png shows a cell of 3")
    action = _entities(record)["#sign-off-1"]
    assert action["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert action["name"].endswith(": rejected") and action["description"] == "fig.png shows a cell of 3"
    assert verify_record(record).sign_offs[0].decision == "rejected"


def test_a_record_without_a_disclosure_check_is_signed_off_as_a_whole_and_says_so(tmp_path, key):
    record = write_record(tmp_path / "plain", key.private_path, disclosure=False)
    assert _entities(record)["./"]["mentions"] == {"@id": "#replay"}  # the writer's collapsed singleton
    _sign_off(record, key)
    action = _entities(record)["#sign-off-1"]
    assert action["object"] == {"@id": "./"}
    assert "holds no disclosure check" in action["name"]
    assert verify_record(record).valid  # the collapsed mentions of the signed form is found again


@pytest.mark.parametrize("disclosure", [True, False])
def test_the_records_own_signature_stays_valid_after_one_and_two_sign_offs(tmp_path, key, disclosure):
    record = write_record(tmp_path / "record", key.private_path, disclosure=disclosure)
    signed = _metadata(record)
    signature = (record / SIGNATURE_FILE).read_bytes()
    first = verify_record(record)
    _sign_off(record, key)
    _sign_off(record, generate_key_pair(tmp_path / "other", name="second"), by="Bob", decision="rejected")
    assert (record / SIGNATURE_FILE).read_bytes() == signature
    after = verify_record(record)
    assert after.valid, after.problems
    assert after.key_id == first.key_id and after.payload_sha256 == first.payload_sha256
    assert [(s.id, s.by, s.valid) for s in after.sign_offs] == [
        ("#sign-off-1", "Rita Reviewer", True),
        ("#sign-off-2", "Bob", True),
    ]
    stripped = without_sign_offs(_metadata(record))
    if disclosure:
        assert stripped == signed  # removing the sign-offs gives back exactly what was signed
    else:  # the writer collapsed mentions to its one entry; stripping leaves a list of it (both forms are tried)
        assert stripped["@graph"][1:] == signed["@graph"][1:]
        assert stripped["@graph"][0] == {**signed["@graph"][0], "mentions": [signed["@graph"][0]["mentions"]]}


def test_the_record_still_validates_with_roc_validator_after_sign_offs(record, key, tmp_path):
    before = validate_profiles(record)
    _sign_off(record, key)
    _sign_off(record, key, by="Bob", role="output checker", decision="rejected", note="row 3")
    after = validate_profiles(record)
    assert Counter(i.severity for i in after)["REQUIRED"] == 0, after
    assert Counter((i.check, i.message) for i in after) == Counter((i.check, i.message) for i in before)


# --- what verify_record refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "field", "value"),
    [
        ("#sign-off-1", "name", "Sign-off of the disclosure check: rejected"),
        ("#sign-off-1", "actionStatus", "http://schema.org/FailedActionStatus"),
        ("#sign-off-1", "endTime", "2024-12-31T23:59:59+00:00"),
        ("#sign-off-1-agent", "name", "Mallory"),
        ("#sign-off-1-agent", "roleName", "approver"),
    ],
)
def test_a_sign_off_altered_after_signing_makes_the_record_invalid_naming_it(record, key, entity, field, value):
    _sign_off(record, key)
    metadata = _metadata(record)
    next(e for e in metadata["@graph"] if e["@id"] == entity)[field] = value
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert not result.valid
    assert result.problems == (result.sign_offs[0].problems[0],)  # the record's own signature still holds
    assert result.problems[0].startswith("sign-off #sign-off-1")
    assert "altered after it was signed" in result.problems[0]


def test_a_sign_off_added_by_hand_without_a_valid_signature_is_refused(record, key):
    _sign_off(record, key)
    metadata = _metadata(record)
    forged = {**next(e for e in metadata["@graph"] if e["@id"] == "#sign-off-1"), "@id": "#sign-off-2"}
    forged["agent"] = {"@id": "#sign-off-2-agent"}
    del forged["signOffSignature"]
    agent = {"@id": "#sign-off-2-agent", "@type": "Role", "name": "Mallory", "roleName": "checker"}
    metadata["@graph"] += [forged, agent]
    next(e for e in metadata["@graph"] if e["@id"] == "./")["mentions"].append({"@id": "#sign-off-2"})
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert not result.valid
    assert [s.valid for s in result.sign_offs] == [True, False]
    assert any(
        p.startswith("sign-off #sign-off-2 by 'Mallory'") and "no readable signature" in p for p in result.problems
    )


def test_a_sign_off_with_a_signature_from_another_sign_off_is_refused(record, key):
    _sign_off(record, key)
    _sign_off(record, key, by="Bob")
    metadata = _metadata(record)
    ents = {e["@id"]: e for e in metadata["@graph"]}
    ents["#sign-off-2"]["signOffSignature"] = ents["#sign-off-1"]["signOffSignature"]
    _write_metadata(record, metadata)
    assert [s.valid for s in verify_record(record).sign_offs] == [True, False]


def test_a_sign_off_copied_from_another_record_does_not_hold_there(tmp_path, key):
    one = write_record(tmp_path / "one", key.private_path)
    other = write_record(tmp_path / "other", key.private_path, disclosure=False)
    _sign_off(one, key)
    copied = [e for e in _metadata(one)["@graph"] if e["@id"].startswith("#sign-off-")]
    metadata = _metadata(other)
    metadata["@graph"] += copied
    root = next(e for e in metadata["@graph"] if e["@id"] == "./")
    root["mentions"] = [root["mentions"], {"@id": "#sign-off-1"}]
    _write_metadata(other, metadata)
    result = verify_record(other)
    assert not result.valid
    assert result.sign_offs[0].problems == (
        "sign-off #sign-off-1 by 'Rita Reviewer': it was signed for another record (it binds to a different signed payload)",
    )


def test_stray_sign_off_entities_and_dangling_references_are_problems(record, key):
    _sign_off(record, key)
    metadata = _metadata(record)
    metadata["@graph"] = [e for e in metadata["@graph"] if e["@id"] != "#sign-off-1"]  # the agent stays
    metadata["@graph"].append({"@id": "#sign-off-note", "@type": "CreativeWork", "name": "approved anyway"})
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert not result.valid and result.sign_offs == ()
    assert "#sign-off-1-agent: belongs to no sign-off (not a signed sign-off action or its agent)" in result.problems
    assert "#sign-off-note: belongs to no sign-off (not a signed sign-off action or its agent)" in result.problems
    assert "the root's mentions names #sign-off-1, which is no sign-off in the record" in result.problems


def test_a_sign_off_not_named_in_the_roots_mentions_is_a_problem(record, key):
    _sign_off(record, key)
    metadata = _metadata(record)
    root = next(e for e in metadata["@graph"] if e["@id"] == "./")
    root["mentions"] = [m for m in root["mentions"] if m["@id"] != "#sign-off-1"]
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert result.problems == ("sign-off #sign-off-1 by 'Rita Reviewer': not named in the root's mentions",)


@pytest.mark.parametrize("status", [{"@id": "http://schema.org/CompletedActionStatus"}, ["x"], 7, None])
def test_hostile_sign_off_values_are_problems_not_crashes(record, key, status):
    _sign_off(record, key)
    metadata = _metadata(record)
    next(e for e in metadata["@graph"] if e["@id"] == "#sign-off-1")["actionStatus"] = status
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert not result.valid and result.sign_offs[0].decision is None


def test_an_edit_of_the_record_outside_the_sign_offs_still_breaks_the_records_signature(record, key):
    _sign_off(record, key)
    metadata = _metadata(record)
    next(e for e in metadata["@graph"] if e["@id"] == "#replay")["replayVerdict"] = "reproduced"
    _write_metadata(record, metadata)
    result = verify_record(record)
    assert "signature does not match the record" in result.problems
    assert f"{METADATA}: metadata differs from the signed value" in result.problems


# --- what sign_off_record refuses, writing nothing -------------------------------------------------


def test_a_tampered_record_is_refused_and_left_byte_identical(record, key):
    data = bytearray((record / "result.json").read_bytes())
    data[10] ^= 1
    (record / "result.json").write_bytes(bytes(data))
    before = _snapshot(record)
    with pytest.raises(
        BadInput, match=r"the record does not verify \(signature does not match the record; result.json: sha256 differs"
    ):
        _sign_off(record, key)
    assert _snapshot(record) == before


def test_a_record_holding_an_invalid_sign_off_is_refused(record, key):
    _sign_off(record, key)
    metadata = _metadata(record)
    next(e for e in metadata["@graph"] if e["@id"] == "#sign-off-1-agent")["name"] = "Mallory"
    _write_metadata(record, metadata)
    before = _snapshot(record)
    with pytest.raises(BadInput, match="sign-off #sign-off-1 by 'Mallory'"):
        _sign_off(record, key, by="Bob")
    assert _snapshot(record) == before


def test_a_zipped_record_is_refused_saying_to_unzip_it(record, key, tmp_path):
    archive = tmp_path / "record.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(record.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(record).as_posix())
    before = archive.read_bytes()
    with pytest.raises(BadInput, match="a zipped record; unzip it and sign off the folder"):
        _sign_off(archive, key)
    assert archive.read_bytes() == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"by": ""}, "--by: give the name of the person signing off; it is empty"),
        ({"by": "   "}, "--by: give the name of the person signing off; it is empty"),
        (
            {"by": "Rita\nApproved: yes"},
            "--by: the name of the person signing off must be one line without control characters",
        ),
        ({"role": ""}, "--role: give the role of the person signing off; it is empty"),
        ({"decision": "maybe"}, "--decision: 'maybe' is not one of approved, rejected"),
        ({"note": "ok\x1b[2J"}, "--note: control characters are not allowed"),
    ],
)
def test_bad_sign_off_values_are_refused_writing_nothing(record, key, options, message):
    before = _snapshot(record)
    with pytest.raises(BadInput) as raised:
        _sign_off(record, key, **options)
    assert str(raised.value) == message
    assert _snapshot(record) == before


def test_no_such_record_and_a_package_are_refused(tmp_path, key):
    with pytest.raises(BadInput, match="no such record"):
        _sign_off(tmp_path / "missing", key)
    package = tmp_path / "package"
    package.mkdir()
    (package / METADATA).write_text('{"@context": [], "@graph": []}')
    with pytest.raises(BadInput, match="does not verify"):
        _sign_off(package, key)


def test_an_unreadable_key_is_refused_writing_nothing(record, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    before = _snapshot(record)
    with pytest.raises(BadInput, match="not an Ed25519 private key"):
        sign_off_record(record, by="Rita", key=bad)
    assert _snapshot(record) == before


def test_the_metadata_is_replaced_atomically(record, key, monkeypatch):
    """Fault injection: the rename fails; the old metadata is intact and no temporary file is left."""
    before = _snapshot(record)

    def refuse(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        _sign_off(record, key)
    monkeypatch.undo()
    assert _snapshot(record) == before
    assert verify_record(record).valid


def test_a_sign_off_made_on_a_copy_holds_on_the_copy(record, key, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(record, copy)
    _sign_off(copy, key)
    assert verify_record(copy).valid and verify_record(record).sign_offs == ()
