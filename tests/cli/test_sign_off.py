"""``repropack sign-off`` and what ``verify-record`` then says, run as the console script a reviewer runs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from repropack.record.keys import generate_key_pair
from tests.hostile.clikit import assert_refused, repropack
from tests.record.test_sign_off import write_record

METADATA = "ro-crate-metadata.json"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user of their own: the default signing key is made under this config folder."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return write_record(tmp_path / "record", generate_key_pair(tmp_path / "keys").private_path)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sign_off_then_verify_record_lists_each_sign_off(record, env):
    done = repropack("sign-off", record, "--by", "Rita Reviewer", "--role", "output checker", env=env)
    assert done.returncode == 0, done.stderr
    assert "sign-off #sign-off-1: approved by Rita Reviewer (output checker), signed with ed25519:" in done.stderr
    rejected = repropack(
        "sign-off", record, "--by", "Bob", "--decision", "rejected", "--note", "row 3", "--json", env=env
    )
    assert rejected.returncode == 0, rejected.stderr
    shown = json.loads(rejected.stdout)
    assert (shown["id"], shown["by"], shown["role"], shown["decision"], shown["valid"]) == (
        "#sign-off-2",
        "Bob",
        "checker",
        "rejected",
        True,
    )

    verified = repropack("verify-record", record, env=env)
    assert verified.returncode == 0, verified.stderr
    lines = [line.strip() for line in verified.stderr.splitlines()]
    assert any(
        line.startswith("sign-off #sign-off-1: approved by 'Rita Reviewer' (output checker) at ")
        and line.endswith(": valid")
        for line in lines
    ), lines
    assert any(line.startswith("sign-off #sign-off-2: rejected by 'Bob' (checker)") for line in lines), lines
    report = json.loads(repropack("verify-record", record, "--json", env=env).stdout)
    assert report["valid"] is True
    assert [(s["by"], s["role"], s["decision"], s["valid"]) for s in report["sign_offs"]] == [
        ("Rita Reviewer", "output checker", "approved", True),
        ("Bob", "checker", "rejected", True),
    ]
    assert report["sign_offs"][0]["key_id"] == shown["key_id"]  # the user's default key, made on first use


def test_an_altered_sign_off_makes_verify_record_exit_1_naming_it(record, env):
    assert repropack("sign-off", record, "--by", "Rita", env=env).returncode == 0
    metadata = json.loads((record / METADATA).read_text())
    next(e for e in metadata["@graph"] if e["@id"] == "#sign-off-1")["actionStatus"] = (
        "http://schema.org/FailedActionStatus"
    )
    (record / METADATA).write_text(json.dumps(metadata, indent=2))
    done = repropack("verify-record", record, env=env)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "sign-off #sign-off-1 by 'Rita': its signature does not match (the sign-off was altered after it was signed)"
    ]
    assert "TAMPERED" in done.stderr and "#sign-off-1: rejected by 'Rita' (checker)" in done.stderr
    report = json.loads(repropack("verify-record", record, "--json", env=env).stdout)
    assert report["valid"] is False and report["sign_offs"][0]["valid"] is False


def test_a_tampered_record_is_refused_with_exit_2_and_nothing_written(record, env):
    data = bytearray((record / "result.json").read_bytes())
    data[-3] ^= 1
    (record / "result.json").write_bytes(bytes(data))
    before = _snapshot(record)
    assert_refused(repropack("sign-off", record, "--by", "Rita", env=env), "the record does not verify", "result.json")
    assert _snapshot(record) == before


def test_a_zipped_record_is_refused_saying_to_unzip_it(record, env, tmp_path):
    archive = tmp_path / "record.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(record.rglob("*")):
            if path.is_file():
                out.write(path, f"record/{path.relative_to(record).as_posix()}")
    before = archive.read_bytes()
    assert_refused(repropack("sign-off", archive, "--by", "Rita", env=env), "a zipped record; unzip it")
    assert archive.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--by", ""], "--by: give the name of the person signing off; it is empty"),
        (["--by", "Rita", "--role", " "], "--role: give the role"),
        (["--by", "Rita", "--decision", "maybe"], "'maybe' is not one of 'approved', 'rejected'"),
        ([], "Missing option '--by'"),
    ],
)
def test_bad_options_are_refused_with_exit_2_and_nothing_written(record, env, args, fragment):
    before = _snapshot(record)
    assert_refused(repropack("sign-off", record, *args, env=env), fragment)
    assert _snapshot(record) == before


def test_help_has_an_example():
    done = repropack("sign-off", "--help")
    assert done.returncode == 0 and "Examples" in done.stdout and "repropack sign-off" in done.stdout


def test_a_hostile_name_in_a_forged_sign_off_is_shown_escaped(record, env):
    assert repropack("sign-off", record, "--by", "Rita", env=env).returncode == 0
    metadata = json.loads((record / METADATA).read_text())
    next(e for e in metadata["@graph"] if e["@id"] == "#sign-off-1-agent")["name"] = "\x1b]0;ok\x07[red]Mallory"
    (record / METADATA).write_text(json.dumps(metadata, indent=2))
    done = repropack("verify-record", record, env=env)
    assert done.returncode == 1
    assert "\x1b" not in done.stderr + done.stdout and "\x07" not in done.stderr + done.stdout
    assert "[red]Mallory" in done.stderr  # markup shown literally, not applied
