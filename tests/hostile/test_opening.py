"""Opening a hostile package or record: zip bombs, lying headers, member counts, deep and huge metadata.

Every input is built here by code. Each refusal is checked through the real console script: exit 2
(verify-record: 1, it lists what is wrong), one line on stderr naming what and where, no traceback,
and nothing written outside the output path (the ``outside`` watch, which also sees /tmp/repropack-*).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repropack.errors import BadInput
from repropack.fs.archive import ExtractionLimits, safe_extract
from repropack.record.keys import generate_key_pair
from repropack.record.signing import sign_record
from tests.hostile import zipkit
from tests.hostile.clikit import assert_refused, repropack, user_config

MiB = 2**20
OPENERS = ("check", "inspect", "replay")
DEEP = 200_000


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def metadata_folder(folder: Path, text: str | bytes) -> Path:
    """A package folder holding only its metadata file."""
    folder.mkdir()
    data = text.encode() if isinstance(text, str) else text
    (folder / "ro-crate-metadata.json").write_bytes(data)
    return folder


# --- zip bombs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", OPENERS)
def test_a_bomb_of_2000_members_of_1_mib_each_is_refused_before_a_byte_is_written(tmp_path, outside, command):
    # The case: a 2.3 MB zip that extracted 2 GB, each member just under the per-member ratio check.
    bomb = zipkit.write_zip(tmp_path / "bomb.zip", (zipkit.zeros(f"m{i:04}.bin", MiB) for i in range(2000)))
    assert bomb.stat().st_size < 3 * MiB
    outside.__post_init__()

    started = time.monotonic()
    done = repropack(command, bomb)

    assert_refused(done, f"unsafe zip {bomb}", "member 'm0256.bin'", "in total", "100 times the archive's own")
    assert time.monotonic() - started < 30
    outside.assert_nothing_new()


def test_members_over_the_configured_package_limit_are_refused(tmp_path, outside):
    # Incompressible members, so only the absolute limit (the max_package_bytes setting) can refuse them.
    archive = zipkit.write_zip(
        tmp_path / "big.zip", [zipkit.member(f"part{i}.bin", os.urandom(MiB), method=zipkit.STORED) for i in range(3)]
    )
    env = user_config(tmp_path, "[open]\nmax_package_bytes = 2000000\n")
    outside.__post_init__()

    done = repropack("check", archive, env=env)

    assert_refused(done, "member 'part1.bin'", "over 2000000 bytes in total (the max_package_bytes limit)")
    outside.assert_nothing_new()


def test_a_configured_package_limit_that_is_no_number_is_refused(tmp_path, outside):
    archive = zipkit.write_zip(tmp_path / "small.zip", [zipkit.member("a.txt", b"a")])
    env = user_config(tmp_path, '[open]\nmax_package_bytes = "a lot"\n')
    outside.__post_init__()

    done = repropack("inspect", archive, env=env)

    assert_refused(done, "[open]", "'max_package_bytes' must be a positive whole number of bytes")
    outside.assert_nothing_new()


@pytest.mark.parametrize("command", OPENERS)
def test_one_member_compressed_over_200_times_is_refused(tmp_path, outside, command):
    bomb = zipkit.write_zip(tmp_path / "one.zip", [zipkit.zeros("zeros.bin", 64 * MiB)])
    outside.__post_init__()

    done = repropack(command, bomb)

    assert_refused(done, "member 'zeros.bin': compression ratio over 200")
    outside.assert_nothing_new()


def test_members_declaring_more_than_they_hold_are_refused_by_the_declared_total(tmp_path, outside):
    # Each member says 3.9 GB behind a 400 MB compressed size: no single ratio is suspicious, the sum is.
    lying = [zipkit.Member(f"claims{i}.bin", b"\x03\x00", 3_900_000_000, 0, compressed=400_000_000) for i in range(3)]
    archive = zipkit.write_zip(tmp_path / "claims.zip", lying)
    outside.__post_init__()

    done = repropack("check", archive)

    assert_refused(done, "member 'claims0.bin'", "members declare over 268435456 bytes in total")
    outside.assert_nothing_new()


def test_members_declaring_less_than_they_hold_yield_only_what_they_declare(tmp_path, outside):
    # The directory says 1 KiB; the data inflates to 1 MiB. Extraction must stop at 1 KiB a member, and the
    # CRC of the whole member then fails: a corrupt archive, refused with what was written removed.
    data, crc = zipkit.zeros_member_data(MiB)
    archive = zipkit.write_zip(
        tmp_path / "short.zip", [zipkit.Member(f"short{i}.bin", data, 1024, crc) for i in range(500)]
    )
    outside.__post_init__()

    done = repropack("check", archive)

    assert_refused(done, "member 'short0.bin': corrupt data")
    outside.assert_nothing_new()


def test_a_lying_member_with_a_matching_crc_is_cut_at_its_declared_size(tmp_path):
    # The CRC of the first 1 KiB only: the member extracts, as the 1 KiB its headers declare, never more.
    data, _ = zipkit.zeros_member_data(MiB)
    archive = zipkit.write_zip(tmp_path / "cut.zip", [zipkit.Member("cut.bin", data, 1024, zlib.crc32(bytes(1024)))])

    assert safe_extract(archive, tmp_path / "dest") == ["cut.bin"]
    assert (tmp_path / "dest" / "cut.bin").stat().st_size == 1024


def test_more_members_than_the_limit_are_refused(tmp_path, outside):
    archive = zipkit.write_zip(tmp_path / "many.zip", (zipkit.member(f"{i}", b"") for i in range(100_001)))
    outside.__post_init__()

    done = repropack("check", archive)

    assert_refused(done, f"unsafe zip {archive}: 100001 members, over the limit of 100000")
    outside.assert_nothing_new()


def test_a_package_path_that_is_a_fifo_is_refused_without_waiting(tmp_path, outside):
    fifo = tmp_path / "package.zip"
    os.mkfifo(fifo)
    outside.__post_init__()

    done = repropack("inspect", fifo, timeout=60)

    assert_refused(done, f"{fifo}: neither a package folder nor a zip file")
    outside.assert_nothing_new()


_NAMES = st.text(alphabet="ab./\\\x00:é\n", min_size=0, max_size=12)
_MEMBERS = st.lists(
    st.tuples(_NAMES, st.binary(max_size=64), st.sampled_from([zipkit.STORED, zipkit.DEFLATED]), st.integers(-8, 8)),
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=_MEMBERS)
def test_any_archive_extracts_inside_its_destination_or_is_refused_as_bad_input(tmp_path_factory, members):
    # Names from the characters that make paths escape, sizes declared honestly or off by a few bytes.
    root = tmp_path_factory.mktemp("any")
    built = []
    for name, content, method, lie in members:
        honest = zipkit.member(name, content, method=method)
        built.append(zipkit.Member(honest.name, honest.stored, max(honest.size + lie, 0), honest.crc, method))
    archive = zipkit.write_zip(root / "any.zip", built)
    dest = root / "dest"
    limits = ExtractionLimits(max_members=4, max_total_bytes=200)

    try:
        extracted = safe_extract(archive, dest, limits)
    except BadInput as refusal:
        assert "\n" not in str(refusal)
        assert not dest.exists()  # everything it made is gone
    else:
        real = dest.resolve()
        assert all((dest / path).resolve().is_relative_to(real) for path in extracted)
        assert sum((dest / path).stat().st_size for path in extracted) <= 200
    assert sorted(p.name for p in root.iterdir()) == sorted(["any.zip", *(["dest"] if dest.exists() else [])])


# --- metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", OPENERS)
def test_metadata_nested_200000_deep_is_refused(tmp_path, outside, command):
    package = metadata_folder(tmp_path / "deep", deep_json())
    outside.__post_init__()

    done = repropack(command, package)

    assert_refused(done, f"{package}: ro-crate-metadata.json: nested deeper than the 64 levels allowed")
    outside.assert_nothing_new()


def test_metadata_nested_just_past_the_depth_limit_is_refused(tmp_path, outside):
    # 65 levels: far from Python's own recursion limit, so only repropack's depth limit can refuse it.
    package = metadata_folder(tmp_path / "deep", '{"@graph": [' + deep_json(63) + "]}")
    outside.__post_init__()

    done = repropack("inspect", package)

    assert_refused(done, f"{package}: ro-crate-metadata.json: nested deeper than the 64 levels allowed")
    outside.assert_nothing_new()


def test_metadata_nested_200000_deep_in_a_zip_is_refused_and_nothing_is_left(tmp_path, outside):
    archive = zipkit.write_zip(tmp_path / "deep.zip", [zipkit.member("ro-crate-metadata.json", deep_json().encode())])
    outside.__post_init__()

    done = repropack("replay", archive)

    assert_refused(done, f"{archive}: ro-crate-metadata.json: nested deeper than the 64 levels allowed")
    outside.assert_nothing_new()


@pytest.mark.parametrize("command", OPENERS)
def test_metadata_over_the_size_limit_is_refused_unread(tmp_path, outside, command):
    package = tmp_path / "huge"
    package.mkdir()
    with (package / "ro-crate-metadata.json").open("wb") as sparse:
        sparse.truncate(80 * 10**6)  # 80 MB that take no disk: refused by its size, never read
    outside.__post_init__()

    done = repropack(command, package)

    assert_refused(done, "ro-crate-metadata.json: 80000000 bytes, more than the 33554432 allowed")
    outside.assert_nothing_new()


def many_values(count: int = 2_100_000) -> str:
    """Metadata whose every 3 bytes become a 64-byte dict when parsed: 6 MB of text, over 150 MB of objects."""
    return '{"@graph": [' + ",".join(["{}"] * count) + "]}"


@pytest.mark.parametrize("command", ["inspect", "replay"])
def test_metadata_within_the_size_limit_but_with_millions_of_values_is_refused_unparsed(tmp_path, outside, command):
    package = metadata_folder(tmp_path / "values", many_values())
    outside.__post_init__()

    done = repropack(command, package)

    assert_refused(done, f"{package}: ro-crate-metadata.json: more than the 4000000 JSON values allowed")
    outside.assert_nothing_new()


def test_metadata_over_a_configured_limit_in_a_zip_is_refused_and_nothing_is_left(tmp_path, outside):
    graph = {"@graph": [{"@id": f"#{i}", "name": os.urandom(16).hex()} for i in range(5000)]}
    archive = zipkit.write_zip(
        tmp_path / "meta.zip", [zipkit.member("ro-crate-metadata.json", json.dumps(graph).encode())]
    )
    env = user_config(tmp_path, "[open]\nmax_metadata_bytes = 100000\n")
    outside.__post_init__()

    done = repropack("inspect", archive, env=env)

    assert_refused(done, "ro-crate-metadata.json:", "more than the 100000 allowed")
    outside.assert_nothing_new()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"@graph": [], "@graph": []}', "the key '@graph' appears twice in one object"),
        ('{"@graph": [NaN]}', "NaN is not JSON"),
        (b'{"@graph": ["\xff"]}', "not UTF-8"),
    ],
    ids=["duplicate-key", "nan", "not-utf8"],
)
def test_metadata_readers_could_disagree_on_is_refused(tmp_path, outside, text, reason):
    package = metadata_folder(tmp_path / "odd", text)
    outside.__post_init__()

    done = repropack("inspect", package)

    assert_refused(done, "ro-crate-metadata.json", reason)
    outside.assert_nothing_new()


def test_metadata_that_is_a_symlink_is_refused_unfollowed(tmp_path, outside):
    package = tmp_path / "linked"
    package.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('{"@graph": []}')
    (package / "ro-crate-metadata.json").symlink_to(elsewhere)
    outside.__post_init__()

    done = repropack("inspect", package)

    assert_refused(done, "ro-crate-metadata.json: a symlink, not a regular file")
    outside.assert_nothing_new()


# --- records --------------------------------------------------------------------------------------


@pytest.fixture
def hostile_record(tmp_path: Path) -> Path:
    """A record signed by an attacker's own key: intact and signed, so every later check must hold on its own."""
    record = tmp_path / "record"
    record.mkdir()
    (record / "ro-crate-metadata.json").write_text('{"@graph": []}')
    (record / "result.json").write_text("{}")
    sign_record(record, generate_key_pair(tmp_path / "attacker-keys").private_path)
    return record


def test_verify_record_lists_metadata_nested_200000_deep_as_a_problem(hostile_record, outside):
    (hostile_record / "ro-crate-metadata.json").write_text(deep_json())
    outside.__post_init__()

    done = repropack("verify-record", hostile_record)

    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "ro-crate-metadata.json: nested deeper than the 64 levels allowed" in done.stdout.splitlines()
    outside.assert_nothing_new()


def test_verify_record_lists_metadata_over_the_size_limit_as_a_problem(hostile_record, outside):
    with (hostile_record / "ro-crate-metadata.json").open("wb") as sparse:
        sparse.truncate(80 * 10**6)
    outside.__post_init__()

    done = repropack("verify-record", hostile_record)

    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "ro-crate-metadata.json: 80000000 bytes, more than the 33554432 allowed" in done.stdout.splitlines()
    outside.assert_nothing_new()


def test_verify_record_lists_metadata_with_millions_of_values_as_a_problem(hostile_record, outside):
    (hostile_record / "ro-crate-metadata.json").write_text(many_values())
    outside.__post_init__()

    done = repropack("verify-record", hostile_record)

    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "ro-crate-metadata.json: more than the 4000000 JSON values allowed" in done.stdout.splitlines()
    outside.assert_nothing_new()


def test_verify_record_lists_a_signature_file_nested_200000_deep_as_a_problem(hostile_record, outside):
    (hostile_record / "signature.json").write_text(deep_json())
    outside.__post_init__()

    done = repropack("verify-record", hostile_record)

    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "signature.json: unreadable: nested deeper than the 64 levels allowed" in done.stdout.splitlines()
    outside.assert_nothing_new()


@pytest.mark.parametrize("command", ["diff", "rejudge"])
def test_a_record_with_metadata_nested_200000_deep_is_refused(hostile_record, outside, command):
    (hostile_record / "ro-crate-metadata.json").write_text(deep_json())
    outside.__post_init__()

    done = repropack(command, hostile_record, *(["--compare", "*=bytes"] if command == "rejudge" else []))

    assert_refused(done, "the record failed verification", "nested deeper than the 64 levels allowed")
    outside.assert_nothing_new()


def test_a_signed_result_nested_200000_deep_is_refused(tmp_path, outside):
    record = tmp_path / "record"
    record.mkdir()
    (record / "ro-crate-metadata.json").write_text('{"@graph": []}')
    (record / "result.json").write_text(deep_json())
    sign_record(record, generate_key_pair(tmp_path / "attacker-keys").private_path)
    outside.__post_init__()

    done = repropack("diff", record)

    assert_refused(done, f"{record}: cannot read its result.json: nested deeper than the 64 levels allowed")
    outside.assert_nothing_new()


def signed_result(tmp_path: Path, result: dict) -> Path:
    """A record holding ``result`` as its result.json, signed by an attacker's own key."""
    record = tmp_path / "record"
    record.mkdir()
    (record / "ro-crate-metadata.json").write_text('{"@graph": []}')
    (record / "result.json").write_text(json.dumps(result))
    sign_record(record, generate_key_pair(tmp_path / "attacker-keys").private_path)
    return record


def sample_result() -> dict:
    """What ``replay --json`` prints for a not-reproduced replay, as a dict to break."""
    from repropack.config import ReplaySettings
    from tests.samples import sample_replay_result

    return json.loads(json.dumps(sample_replay_result(settings=ReplaySettings().recorded({})).as_dict()))


@pytest.mark.parametrize(
    ("command", "field", "value", "reason"),
    [
        ("diff", "replayed", ["outputs/counts.csv"], "replayed: ['outputs/counts.csv'] is not of type 'object'"),
        ("rejudge", "replayed", ["outputs/counts.csv"], "replayed: ['outputs/counts.csv'] is not of type 'object'"),
        ("rejudge", "settings", {"compare": {"value": 5, "source": "flag"}}, "settings/compare/value: 5 is not"),
        (
            "diff",
            "outputs",
            [{"path": 5, "status": "different", "rule": "csv", "detail": ""}],
            "outputs/0/path: 5 is not",
        ),
        ("rejudge", "verdict", "reproduced!", "verdict: 'reproduced!' is not one of"),
        ("diff", "recorded_errors", {"analysis.ipynb": "cell 1: boom"}, "recorded_errors/analysis.ipynb: 'cell 1"),
    ],
    ids=["diff-replayed-a-list", "rejudge-replayed-a-list", "compare-a-number", "path-a-number", "verdict", "errors"],
)
def test_a_signed_result_of_the_wrong_shape_is_refused(tmp_path, outside, command, field, value, reason):
    # Signed is not trusted: anyone can sign a record with a key of their own.
    record = signed_result(tmp_path, {**sample_result(), field: value})
    outside.__post_init__()

    done = repropack(command, record, *(["--compare", "*=bytes"] if command == "rejudge" else []))

    assert_refused(done, f"{record}: its result.json: {reason}")
    outside.assert_nothing_new()
