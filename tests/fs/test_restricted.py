"""What gives a restricted file away, and finding it in other bytes and text (fs/restricted.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from repropack.compare.excerpts import first_differing_line
from repropack.fs import restricted
from repropack.fs.restricted import Leak, RestrictedIndex, lines_and_values

HEADER = "patient_id,full_name,birth_date,diagnosis,weight,visits"
ROWS = [
    f"P-{10000100 + i},Pat{i} Example,19{40 + i}-01-1{i % 10},{'positive' if i % 2 else 'negative'},{60 + i}.5,{i}"
    for i in range(12)
]


@pytest.fixture
def register(tmp_path: Path) -> Path:
    path = tmp_path / "register.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


@pytest.fixture
def index(register: Path) -> RestrictedIndex:
    return RestrictedIndex.of({"data/register.csv": register})


def test_rows_are_lines_and_identifiers_are_values_but_the_header_is_not_either(register):
    lines, values = lines_and_values("data/register.csv", register.read_bytes())
    assert lines == set(ROWS)
    assert {"P-10000100", "Pat3 Example", "1943-01-13"} <= values
    assert not {"patient_id", "full_name", "birth_date", "diagnosis"} & values  # column names


def test_categories_decimals_and_short_or_repetitive_values_are_not_values(tmp_path):
    rows = [
        f"R{i}-0000000,{'positive' if i % 2 else 'negative'},72.512345,12345678{i % 10},--------,x" for i in range(12)
    ]
    lines, values = lines_and_values("a.csv", ("id,result,weight,number,blank,flag\n" + "\n".join(rows)).encode())
    assert "positive" not in values and "negative" not in values  # six rows each: categories
    assert "72.512345" not in values  # a measurement
    assert "123456781" in values  # a run of digits: a record number
    assert "--------" not in values and "x" not in values


def test_a_value_in_at_most_five_rows_is_a_value_in_six_a_category():
    rare = "id,city\n" + "\n".join(f"{i},Edinburgh" for i in range(5))
    common = "id,city\n" + "\n".join(f"{i},Edinburgh" for i in range(6))
    assert "Edinburgh" in lines_and_values("a.csv", rare.encode())[1]
    assert "Edinburgh" not in lines_and_values("a.csv", common.encode())[1]


def test_json_strings_are_values_and_keys_are_not():
    data = json.dumps([{"patient": f"P-{90000000 + i}", "diagnosis_code": "common-code"} for i in range(8)])
    lines, values = lines_and_values("a.json", data.encode())
    assert "P-90000003" in values
    assert "patient" not in values and "common-code" not in values
    assert lines == set()  # a document's lines are its layout


def test_a_plain_text_file_gives_its_lines_and_a_binary_one_nothing():
    assert lines_and_values("notes.txt", b"short\nParticipant 7 said no.\n") == ({"Participant 7 said no."}, set())
    assert lines_and_values("scan.bin", b"\0\1\2 Participant 7 said no.") == (set(), set())


def test_a_row_and_an_identifier_are_found_and_a_line_says_more(index):
    assert index.find(f"printed: {ROWS[3]}!") == Leak("data/register.csv", "a line of")
    assert index.find("patient P-10000104 was seen") == Leak("data/register.csv", "a value of")
    assert index.find("counts: positive 6, negative 6; mean weight 65.5") is None


def test_a_value_must_stand_alone(index):
    assert index.find("id P-100001049") is None  # another, longer identifier
    assert index.find("idP-10000104") is None
    assert index.find("(P-10000104)") is not None


def test_escaped_forms_are_found(tmp_path):
    path = tmp_path / "interviews.tsv"
    path.write_text('speaker\tquote\nP7\tshe said "no" & left\t\n')
    found = RestrictedIndex.of({"interviews.tsv": path})
    line = 'P7\tshe said "no" & left'
    assert found.find(json.dumps({"q": line})) is not None
    assert found.find(repr(line)) is not None
    assert found.find('P7\tshe said "no" &amp; left') is not None


def test_a_file_is_scanned_in_chunks_with_nothing_lost_at_a_boundary(index, tmp_path, monkeypatch):
    monkeypatch.setattr(restricted, "_CHUNK", 64)  # the row straddles two chunks
    scanned = tmp_path / "out.bin"
    scanned.write_bytes(b"\0\xff" * 50 + ROWS[7].encode() + b"\0" * 20)
    assert index.find_in_file(scanned) == Leak("data/register.csv", "a line of")
    scanned.write_bytes(b"\0\xff" * 50 + b"A" + b"P-10000104" + b"\0" * 20)  # touching a letter
    assert index.find_in_file(scanned) is None


def test_a_copy_and_a_hard_link_are_known(index, register, tmp_path):
    os.link(register, tmp_path / "alias")
    assert index.same_file(tmp_path / "alias") == Leak("data/register.csv", "a hard link to")
    assert index.same_bytes(hashlib.sha256(register.read_bytes()).hexdigest()) == Leak("data/register.csv", "a copy of")
    assert index.same_bytes("0" * 64) is None


def test_redaction_replaces_rows_and_identifiers(index):
    redacted = index.redact(f"seen: P-10000102; {ROWS[1]}; {ROWS[2]!r}")
    assert redacted == (
        "seen: [restricted: data/register.csv]; [restricted: data/register.csv]; '[restricted: data/register.csv]'"
    )


def test_redaction_replaces_an_excerpt_cut_short(tmp_path):
    note = "Participant 12 described the first admission in detail, with the ward and the nurse by name."
    (tmp_path / "notes.txt").write_text(note + "\n")
    found = RestrictedIndex.of({"notes.txt": tmp_path / "notes.txt"})
    cut = first_differing_line("patients: 12\n", f"patients: 12\n{note}\n")
    assert note not in cut and note[:40] in cut  # a comparison detail shows the first 60 characters
    assert found.redact(cut) == "line 2: <none> != '[restricted: notes.txt]'…"
    assert found.redact("Participant 12 said") == "Participant 12 said"  # under PREFIX_RUN characters


def test_redaction_leaves_other_text_as_it_was(index):
    text = "cell 3: ValueError: weight 65.5 out of range (positive) — ünïcode ok"
    assert index.redact(text) == text


def test_notes_say_what_could_not_be_sought(tmp_path, register, monkeypatch):
    (tmp_path / "scan.bin").write_bytes(b"\0" * 10)
    monkeypatch.setattr(restricted, "INDEX_LIMIT", 100)
    notes = RestrictedIndex.of({"data/register.csv": register, "data/scan.bin": tmp_path / "scan.bin"}).notes
    assert notes[0].startswith("restricted input data/register.csv: only its first ")
    assert notes[1:] == (
        "restricted input data/scan.bin has no text lines or values to look for: copies and hard links of it "
        "are refused, its contents are not sought elsewhere",
    )


def test_an_empty_or_tiny_restricted_file_makes_no_other_file_a_copy(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "tiny.csv").write_bytes(b"1\n")
    found = RestrictedIndex.of({"empty.csv": tmp_path / "empty.csv", "tiny.csv": tmp_path / "tiny.csv"})
    assert found.same_bytes(hashlib.sha256(b"").hexdigest()) is None
    assert found.same_bytes(hashlib.sha256(b"1\n").hexdigest()) is None
    os.link(tmp_path / "empty.csv", tmp_path / "alias")
    assert found.same_file(tmp_path / "alias") == Leak("empty.csv", "a hard link to")  # the file itself still is
