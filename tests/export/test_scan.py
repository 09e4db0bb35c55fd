"""One read of each packed file feeds both guards: the same findings as each guard reading the file itself."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from repropack.export import scan as scan_module
from repropack.export.restricted_guard import restricted_index
from repropack.export.scan import scan_packed_files
from repropack.export.secrets import find_secrets_in_file
from repropack.fs.restricted import Leak

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
ROWS = ["P-10000017,Patricia Example,1941-02-11,positive,61.001", "P-10000018,Paulo Example,1942-03-12,negative,62.002"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    (root / "data").mkdir(parents=True)
    (root / "data" / "register.csv").write_text("patient_id,name,birth,diagnosis,weight\n" + "\n".join(ROWS) + "\n")
    (root / "notes.md").write_text(f"token = {TOKEN}\nclean line\n")  # a secret
    (root / "leak.txt").write_text(f"summary\n{ROWS[1]}\n")  # a restricted row
    (root / "both.log").write_text(f"{ROWS[0]}\n{TOKEN}\n")  # both at once
    (root / "id.txt").write_text("the patient is P-10000017.\n")  # a restricted value
    (root / "image.bin").write_bytes(b"\x89PNG\0\0" + ROWS[0].encode() + TOKEN.encode())  # binary: rows still sought
    (root / ".env").write_text("clean\n")  # a name rule
    (root / "big.txt").write_bytes(b"x" * (scan_module.MAX_TEXT_BYTES + 1) + ROWS[1].encode())  # over the text limit
    (root / "clean.py").write_text("print('hello')\n")
    return root


PAYLOAD = ["both.log", "big.txt", "clean.py", ".env", "id.txt", "image.bin", "leak.txt", "notes.md"]


def test_one_pass_finds_what_each_guard_finds_reading_alone(project):
    index = restricted_index(project, ["data/register.csv"])
    scanned = scan_packed_files(project, PAYLOAD, index)
    assert scanned.secrets == [f for path in PAYLOAD for f in find_secrets_in_file(project, path)]
    assert {f.path for f in scanned.secrets} == {"both.log", ".env", "notes.md"}
    alone = {path: index.find_in_file(project / path) for path in PAYLOAD}
    assert {path: leak for path, leak in scanned.restricted.items()} == {p: alone[p] for p in scanned.restricted}
    assert scanned.restricted["leak.txt"] == Leak("data/register.csv", "a line of")
    assert scanned.restricted["id.txt"] == Leak("data/register.csv", "a value of")
    assert scanned.restricted["image.bin"] is not None and scanned.restricted["clean.py"] is None
    assert "big.txt" not in scanned.restricted  # left to the restricted guard's chunked read
    assert alone["big.txt"] == Leak("data/register.csv", "a line of")


def test_each_file_under_the_limit_is_opened_once(project, monkeypatch):
    index = restricted_index(project, ["data/register.csv"])
    opened: list[str] = []
    real_open = Path.open

    def counting_open(self: Path, *args, **kwargs) -> io.IOBase:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    scan_packed_files(project, [p for p in PAYLOAD if p != "big.txt"], index)
    assert sorted(opened) == sorted(p for p in PAYLOAD if p != "big.txt")


def test_without_restricted_inputs_it_is_the_secrets_guard(project):
    scanned = scan_packed_files(project, PAYLOAD, None)
    assert scanned.secrets == [f for path in PAYLOAD for f in find_secrets_in_file(project, path)]
    assert scanned.restricted == {}


def test_a_file_gone_before_the_scan_is_an_oserror_as_for_the_secrets_guard(project):
    index = restricted_index(project, ["data/register.csv"])
    with pytest.raises(OSError):
        scan_packed_files(project, ["gone.txt"], index)
