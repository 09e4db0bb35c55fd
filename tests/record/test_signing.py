from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from repropack.errors import BadInput
from repropack.record.keys import KeyPair, generate_key_pair, load_public_key
from repropack.record.signing import (
    SIGNATURE_FILE,
    canonical_json,
    sign_record,
    signed_payload,
    verify_record,
)

METADATA = {
    "@context": "https://w3id.org/ro/crate/1.1/context",
    "@graph": [
        {"@id": "./", "@type": "Dataset", "name": "Replay of Study — café"},
        {"@id": "report.html", "@type": "File", "contentSize": 24},
    ],
}


@pytest.fixture
def key(tmp_path: Path) -> KeyPair:
    return generate_key_pair(tmp_path / "keys", name="signer")


@pytest.fixture
def record(tmp_path: Path) -> Path:
    """An unsigned run record: metadata, a report and a nested output diff."""
    folder = tmp_path / "record"
    (folder / "outputs").mkdir(parents=True)
    (folder / "ro-crate-metadata.json").write_text(json.dumps(METADATA, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "report.html").write_text("<html>reproduced</html>\n")
    (folder / "outputs" / "counts.csv.diff").write_text("--- recorded\n+++ replayed\n")
    return folder


@pytest.fixture
def signed(record: Path, key: KeyPair) -> Path:
    sign_record(record, key.private_path)
    return record


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- canonical_json ---------------------------------------------------------------------------


def test_canonical_json_is_the_same_whatever_the_key_order() -> None:
    one = {"b": 1, "a": {"y": [1, 2], "x": None}}
    other = {"a": {"x": None, "y": [1, 2]}, "b": 1}

    assert canonical_json(one) == canonical_json(other) == b'{"a":{"x":null,"y":[1,2]},"b":1}'


def test_canonical_json_writes_non_ascii_as_utf8() -> None:
    assert canonical_json({"name": "café"}) == '{"name":"café"}'.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_rejects_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": [value]})


# --- signed_payload ---------------------------------------------------------------------------


def test_signed_payload_covers_parsed_metadata_and_every_other_file(record: Path) -> None:
    (record / SIGNATURE_FILE).write_text("{}")  # excluded: it holds the signature itself

    payload = json.loads(signed_payload(record))

    assert payload == {
        "metadata": METADATA,
        "files": {
            "outputs/counts.csv.diff": sha256_of(record / "outputs" / "counts.csv.diff"),
            "report.html": sha256_of(record / "report.html"),
        },
    }
    assert signed_payload(record) == canonical_json(payload)


def test_signed_payload_refuses_a_folder_without_metadata(record: Path) -> None:
    (record / "ro-crate-metadata.json").unlink()

    with pytest.raises(BadInput, match="ro-crate-metadata.json: missing"):
        signed_payload(record)


def test_signed_payload_refuses_a_symbolic_link(record: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("not in the record\n")
    (record / "outputs" / "link.txt").symlink_to(tmp_path / "outside.txt")

    with pytest.raises(BadInput, match="outputs/link.txt: symbolic links are not allowed"):
        signed_payload(record)


def test_signed_payload_refuses_a_linked_folder_that_escapes_the_record(record: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (record / "escape").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    with pytest.raises(BadInput, match="escape: symbolic links are not allowed"):
        signed_payload(record)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"name": "a", "name": "b"}', "duplicate key 'name'"),
        ('{"size": 1e400}', "out of range"),
        ('{"size": NaN}', "NaN"),
        ('{"name": ', "not valid JSON"),
    ],
)
def test_signed_payload_refuses_metadata_readers_could_disagree_on(record: Path, text: str, reason: str) -> None:
    (record / "ro-crate-metadata.json").write_text(text)

    with pytest.raises(BadInput, match=re.escape(reason)):
        signed_payload(record)


# --- sign_record ------------------------------------------------------------------------------


def test_sign_record_writes_a_signature_over_the_payload(record: Path, key: KeyPair) -> None:
    document = sign_record(record, key.private_path)

    assert json.loads((record / SIGNATURE_FILE).read_text()) == document
    assert document["algorithm"] == "Ed25519"
    assert document["key_id"] == key.key_id
    assert document["signed"] == "canonical-json(metadata+file sha256)"
    assert document["files"] == json.loads(signed_payload(record))["files"]
    public_key = load_public_key(key.public_path)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode(document["public_key"]) == raw
    public_key.verify(base64.b64decode(document["signature"]), signed_payload(record))  # raises if wrong


def test_sign_record_refuses_a_folder_with_a_symbolic_link(record: Path, key: KeyPair) -> None:
    (record / "link").symlink_to(record / "report.html")

    with pytest.raises(BadInput, match="symbolic links"):
        sign_record(record, key.private_path)
    assert not (record / SIGNATURE_FILE).exists()


# --- verify_record: intact records ------------------------------------------------------------


def test_a_freshly_signed_record_verifies(signed: Path, key: KeyPair) -> None:
    assert verify_record(signed).problems == verify_record(signed, key.public_path).problems == ()
    result = verify_record(signed, key.public_path)
    assert result.valid
    assert result.key_id == key.key_id
    assert result.problems == ()


def test_reformatting_the_metadata_keeps_the_record_valid(signed: Path, key: KeyPair) -> None:
    metadata_file = signed / "ro-crate-metadata.json"
    reformatted = json.dumps(json.loads(metadata_file.read_text()), separators=(", ", " : "), sort_keys=True)
    assert reformatted.encode() != metadata_file.read_bytes()
    metadata_file.write_text(reformatted + "\n\n")

    assert verify_record(signed, key.public_path).problems == ()


def test_re_signing_replaces_the_signature(signed: Path, tmp_path: Path) -> None:
    other = generate_key_pair(tmp_path / "other-keys")
    (signed / "report.html").write_text("<html>amended</html>\n")

    sign_record(signed, other.private_path)

    assert verify_record(signed, other.public_path).valid


# --- verify_record: tampering -----------------------------------------------------------------


def test_a_changed_metadata_value_is_caught_and_named(signed: Path, key: KeyPair) -> None:
    metadata_file = signed / "ro-crate-metadata.json"
    text = metadata_file.read_text(encoding="utf-8")
    metadata_file.write_text(text.replace('"contentSize": 24', '"contentSize": 25'), encoding="utf-8")

    result = verify_record(signed, key.public_path)

    assert not result.valid
    assert result.problems == (
        "signature does not match the record",
        "ro-crate-metadata.json: metadata differs from the signed value",
    )


def test_a_flipped_byte_in_a_file_is_caught_and_named(signed: Path, key: KeyPair) -> None:
    report = signed / "report.html"
    data = bytearray(report.read_bytes())
    data[3] ^= 0x01
    report.write_bytes(bytes(data))

    result = verify_record(signed, key.public_path)

    assert not result.valid
    assert result.problems == (
        "signature does not match the record",
        "report.html: sha256 differs from the signed value",
    )


def test_an_added_file_is_caught_and_named(signed: Path, key: KeyPair) -> None:
    (signed / "extra.txt").write_text("slipped in\n")

    result = verify_record(signed, key.public_path)

    assert result.problems == (
        "signature does not match the record",
        "extra.txt: file not covered by the signature",
    )


def test_a_removed_file_is_caught_and_named(signed: Path, key: KeyPair) -> None:
    (signed / "outputs" / "counts.csv.diff").unlink()

    result = verify_record(signed, key.public_path)

    assert result.problems == (
        "signature does not match the record",
        "outputs/counts.csv.diff: signed file is missing",
    )


def test_a_replaced_signature_is_caught(signed: Path, key: KeyPair) -> None:
    signature_file = signed / SIGNATURE_FILE
    document = json.loads(signature_file.read_text())
    document["signature"] = base64.b64encode(bytes(64)).decode("ascii")
    signature_file.write_text(json.dumps(document))

    result = verify_record(signed, key.public_path)

    assert not result.valid
    assert result.problems == ("signature does not match the record",)


def test_a_record_signed_by_another_key_names_both_keys(record: Path, key: KeyPair, tmp_path: Path) -> None:
    intruder = generate_key_pair(tmp_path / "intruder", name="intruder")
    sign_record(record, intruder.private_path)

    result = verify_record(record, key.public_path)

    assert not result.valid
    assert result.key_id == intruder.key_id
    assert result.problems == (f"signed by {intruder.key_id}, not by the expected key {key.key_id}",)
    assert result.other_signer and result.expected_key_id == key.key_id
    assert verify_record(record).valid  # intact as far as its own embedded key goes


def test_every_problem_is_listed_not_just_the_first(signed: Path, key: KeyPair) -> None:
    (signed / "report.html").write_text("<html>changed</html>\n")
    (signed / "outputs" / "counts.csv.diff").unlink()
    (signed / "outputs" / "new.diff").write_text("+ new\n")
    metadata_file = signed / "ro-crate-metadata.json"
    metadata_file.write_text(metadata_file.read_text(encoding="utf-8").replace("Study", "Other"), encoding="utf-8")

    result = verify_record(signed, key.public_path)

    assert result.problems == (
        "signature does not match the record",
        "ro-crate-metadata.json: metadata differs from the signed value",
        "outputs/counts.csv.diff: signed file is missing",
        "outputs/new.diff: file not covered by the signature",
        "report.html: sha256 differs from the signed value",
    )


def test_an_edited_file_list_in_the_signature_file_is_caught(signed: Path, key: KeyPair) -> None:
    signature_file = signed / SIGNATURE_FILE
    document = json.loads(signature_file.read_text())
    document["files"]["report.html"] = "0" * 64
    signature_file.write_text(json.dumps(document))

    result = verify_record(signed, key.public_path)

    assert result.problems == ("signature.json: its file list or metadata digest differs from the signed record",)


def test_a_symbolic_link_added_after_signing_is_reported_not_raised(signed: Path, key: KeyPair) -> None:
    (signed / "link.html").symlink_to(signed / "report.html")

    result = verify_record(signed, key.public_path)

    assert result.problems == ("link.html: symbolic links are not allowed in a record",)


def test_a_malformed_signature_file_is_reported_not_raised(signed: Path, key: KeyPair) -> None:
    (signed / SIGNATURE_FILE).write_text('{"algorithm": "RSA", "public_key": "!!", "files": []}')

    result = verify_record(signed)

    assert not result.valid
    assert result.key_id is None
    assert result.problems == (
        "signature.json: algorithm 'RSA' is not 'Ed25519'",
        "signature.json: signed content None is not 'canonical-json(metadata+file sha256)'",
        "signature.json: public_key is not 32 bytes of base64",
        "signature.json: signature is not 64 bytes of base64",
        "signature.json: files is not a map of path to sha256",
        "signature.json: metadata_sha256 is missing",
    )


def test_a_signature_file_that_is_not_json_is_reported(signed: Path) -> None:
    (signed / SIGNATURE_FILE).write_text("{not json")

    result = verify_record(signed)

    assert not result.valid
    assert len(result.problems) == 1
    assert result.problems[0].startswith("signature.json: unreadable: ")


def test_a_missing_signature_file_is_reported(record: Path) -> None:
    result = verify_record(record)

    assert result.problems == ("signature.json: missing",)


def test_missing_metadata_is_reported_with_the_file_changes(signed: Path, key: KeyPair) -> None:
    (signed / "ro-crate-metadata.json").unlink()
    (signed / "report.html").unlink()

    result = verify_record(signed, key.public_path)

    assert result.problems == (
        "ro-crate-metadata.json: missing",
        "report.html: signed file is missing",
    )


def test_a_folder_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    with pytest.raises(BadInput, match="not a run record"):
        verify_record(tmp_path / "empty")
    with pytest.raises(BadInput, match="not a folder"):
        verify_record(tmp_path / "absent")
