from __future__ import annotations

import io
import json
import os
import stat
import struct
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.fs.archive import (
    ExtractionLimits,
    safe_extract,
    write_deterministic_zip,
    zip_date_time,
)

DATE = (2024, 5, 17, 12, 30, 42)

# Byte offsets of fields in a local file header and a central directory entry.
LOCAL_FLAGS, CENTRAL_FLAGS = 6, 8
LOCAL_METHOD, CENTRAL_METHOD = 8, 10
LOCAL_FILE_SIZE, CENTRAL_FILE_SIZE = 22, 24


# --- helpers -------------------------------------------------------------------------


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_zip(zip_path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """Write entries as given, hostile names and modes included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about duplicate names
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return zip_path


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def patch_header(zip_path: Path, name: str, local_at: int, central_at: int, value: int) -> None:
    """Overwrite one little-endian field of ``name`` in its local header and central entry."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(name)
    width = 2 if local_at in (LOCAL_FLAGS, LOCAL_METHOD) else 4
    fmt = "<H" if width == 2 else "<I"
    struct.pack_into(fmt, data, info.header_offset + local_at, value)
    encoded = name.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == encoded:
            struct.pack_into(fmt, data, central + central_at, value)
        central = data.find(b"PK\x01\x02", central + 46)
    zip_path.write_bytes(bytes(data))


def snapshot(root: Path) -> dict[Path, bytes | None]:
    return {path: None if path.is_dir() else path.read_bytes() for path in sorted(root.rglob("*"))}


def assert_refused(
    zip_path: Path,
    dest: Path,
    match: str,
    limits: ExtractionLimits = ExtractionLimits(),
    watch: Path | None = None,
) -> None:
    """Extraction raises BadInput with a one-line message and changes nothing on disk."""
    watched = watch or zip_path.parent
    before = snapshot(watched)
    with pytest.raises(BadInput, match=match) as raised:
        safe_extract(zip_path, dest, limits)
    assert "\n" not in str(raised.value)
    assert snapshot(watched) == before


def sample_tree(root: Path) -> Path:
    write(root / "README.md", b"# demo\n" * 50)
    write(root / "data" / "raw.csv", b"a,b\n1,2\n" * 1000)
    write(root / "data" / "empty.txt", b"")
    write(root / "figures" / "plot.png", os.urandom(3000))
    write(root / "figures" / "données.txt", "é".encode() * 10)
    write(root / "a-b" / "x.txt", b"sorted before a/ in byte order")
    write(root / "run.sh", b"#!/bin/sh\necho hi\n").chmod(0o755)
    (root / "empty-folder").mkdir()
    return root


# --- zip_date_time ---------------------------------------------------------------------


def test_zip_date_time_without_epoch_is_zip_epoch() -> None:
    assert zip_date_time(None) == (1980, 1, 1, 0, 0, 0)


def test_zip_date_time_is_utc_and_rounds_to_even_seconds() -> None:
    assert zip_date_time(1_700_000_001) == (2023, 11, 14, 22, 13, 20)


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (0, (1980, 1, 1, 0, 0, 0)),
        (-5, (1980, 1, 1, 0, 0, 0)),
        (10**12, (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_zip_date_time_clamps_to_zip_range(epoch: int, expected: tuple[int, ...]) -> None:
    assert zip_date_time(epoch) == expected


# --- write_deterministic_zip ------------------------------------------------------------


def test_zip_entries_are_normalised(tmp_path: Path) -> None:
    source = sample_tree(tmp_path / "src")
    (source / "data" / "raw.csv").chmod(0o600)
    zip_path = tmp_path / "out.zip"

    write_deterministic_zip(source, zip_path, date_time=DATE)

    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert names == [
        "README.md",
        "a-b/x.txt",
        "data/empty.txt",
        "data/raw.csv",
        "figures/données.txt",
        "figures/plot.png",
        "run.sh",
    ]
    for info in infos:
        assert info.date_time == DATE
        assert info.create_system == 3
        assert info.extra == b""
        expected_mode = 0o100755 if info.filename == "run.sh" else 0o100644
        assert info.external_attr >> 16 == expected_mode
        png = info.filename.endswith(".png")
        assert info.compress_type == (zipfile.ZIP_STORED if png else zipfile.ZIP_DEFLATED)


def test_deflate_uses_level_6(tmp_path: Path) -> None:
    data = b"".join(b"line %d of a fairly compressible file\n" % i for i in range(20_000))
    source = tmp_path / "src"
    write(source / "f.txt", data)
    zip_path = tmp_path / "out.zip"

    write_deterministic_zip(source, zip_path, date_time=DATE)

    level6 = zlib.compressobj(6, zlib.DEFLATED, -15)
    expected_size = len(level6.compress(data) + level6.flush())
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.getinfo("f.txt").compress_size == expected_size


def test_zip_is_byte_identical_across_times_and_mtimes(tmp_path: Path) -> None:
    source = sample_tree(tmp_path / "src")
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"

    write_deterministic_zip(source, first, date_time=DATE)
    time.sleep(2.1)  # a different wall-clock 2-second slot for anything time-based
    for path in source.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (source / "README.md").chmod(0o666)
    write_deterministic_zip(source, second, date_time=DATE)

    assert first.read_bytes() == second.read_bytes()


def test_zip_changes_with_date_time(tmp_path: Path) -> None:
    source = sample_tree(tmp_path / "src")
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"

    write_deterministic_zip(source, first, date_time=DATE)
    write_deterministic_zip(source, second, date_time=zip_date_time(None))

    assert first.read_bytes() != second.read_bytes()


def test_round_trip_gives_back_the_same_bytes(tmp_path: Path) -> None:
    source = sample_tree(tmp_path / "src")
    zip_path = tmp_path / "out.zip"
    dest = tmp_path / "extracted"
    write_deterministic_zip(source, zip_path, date_time=DATE)

    extracted = safe_extract(zip_path, dest)

    files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert sorted(extracted) == files
    for name in files:
        assert (dest / name).read_bytes() == (source / name).read_bytes()
    assert os.access(dest / "run.sh", os.X_OK)
    assert not (dest / "README.md").stat().st_mode & 0o111


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_zip_refuses_links_and_special_files_in_source(tmp_path: Path, kind: str) -> None:
    source = sample_tree(tmp_path / "src")
    if kind == "symlink":
        (source / "data" / "link.csv").symlink_to(source / "data" / "raw.csv")
    else:
        os.mkfifo(source / "data" / "pipe")
    zip_path = tmp_path / "out.zip"

    with pytest.raises(ValueError, match=kind if kind == "symlink" else "special file"):
        write_deterministic_zip(source, zip_path, date_time=DATE)

    assert sorted(tmp_path.iterdir()) == [source]


# --- safe_extract: hostile archives -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", r"'\.\.' in path"),
        ("ok/../../evil.txt", r"'\.\.' in path"),
        ("C:/evil.txt", "drive letter"),
        ("C:evil.txt", "drive letter"),
        ("..\\evil.txt", "backslash"),
        ("ok//evil.txt", "empty or '.' path component"),
        ("./evil.txt", "empty or '.' path component"),
    ],
)
def test_refuses_unsafe_names(tmp_path: Path, name: str, reason: str) -> None:
    dest = tmp_path / "deep" / "dest"
    zip_path = make_zip(tmp_path / "evil.zip", [("fine.txt", b"ok"), (name, b"pwned")])

    assert_refused(zip_path, dest, f"member .*evil.txt.*: {reason}")


def test_refuses_absolute_name(tmp_path: Path) -> None:
    target = tmp_path / "abs.txt"
    zip_path = make_zip(tmp_path / "evil.zip", [(str(target), b"pwned")])

    assert_refused(zip_path, tmp_path / "dest", "absolute path")
    assert not target.exists()


def test_refuses_nul_in_name(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "evil.zip", [("evilXname.txt", b"pwned")])
    zip_path.write_bytes(zip_path.read_bytes().replace(b"evilXname", b"evil\x00name"))

    assert_refused(zip_path, tmp_path / "dest", "NUL in name")


def test_refuses_symlink_entry(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "evil.zip",
        [(entry("link", 0o120777), str(tmp_path).encode()), ("link/evil.txt", b"pwned")],
    )

    assert_refused(zip_path, tmp_path / "dest", "member 'link': symlink")


def test_refuses_special_file_entry(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "evil.zip", [(entry("pipe", stat.S_IFIFO | 0o644), b"")])

    assert_refused(zip_path, tmp_path / "dest", "special file")


def test_refuses_exact_duplicate_names(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "dup.zip", [("a.txt", b"first"), ("a.txt", b"second")])

    assert_refused(zip_path, tmp_path / "dest", "member 'a.txt': duplicate name")


def test_allows_names_differing_only_in_case(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "case.zip", [("A.txt", b"upper"), ("a.txt", b"lower")])

    assert safe_extract(zip_path, tmp_path / "dest") == ["A.txt", "a.txt"]
    assert (tmp_path / "dest" / "a.txt").read_bytes() == b"lower"


def test_refuses_name_used_as_file_and_folder(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "clash.zip", [("a", b"file"), ("a/b.txt", b"inside")])

    assert_refused(zip_path, tmp_path / "dest", "member 'a': used as both a file and a folder")


def test_refuses_to_overwrite_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    write(dest / "keep.txt", b"precious")
    zip_path = make_zip(tmp_path / "over.zip", [("new.txt", b"new"), ("keep.txt", b"overwritten")])

    assert_refused(zip_path, dest, "would overwrite an existing file")
    assert (dest / "keep.txt").read_bytes() == b"precious"


def test_refuses_path_through_symlink_already_in_dest(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "escape").symlink_to(outside)
    zip_path = make_zip(tmp_path / "evil.zip", [("escape/evil.txt", b"pwned")])

    assert_refused(zip_path, dest, "resolves outside the destination")
    assert list(outside.iterdir()) == []


def test_refuses_too_many_members(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "many.zip", [(f"{i}.txt", b"x") for i in range(4)])

    limits = ExtractionLimits(max_members=3)

    assert_refused(zip_path, tmp_path / "dest", "4 members, over the limit of 3", limits)


def test_refuses_member_declared_over_limit(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "big.zip", [("big.bin", os.urandom(2000))])

    limits = ExtractionLimits(max_member_bytes=1000)
    reason = "declares 2000 bytes, over the limit of 1000"

    assert_refused(zip_path, tmp_path / "dest", reason, limits)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 MiB of zeros deflated to about 50 KiB."""
    zip_path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as member:
        zeros = bytes(1 << 20)
        for _ in range(50):
            member.write(zeros)
    return zip_path


def test_refuses_zip_bomb_by_ratio(zip_bomb: Path, tmp_path: Path) -> None:
    reason = "member 'zeros.bin': compression ratio over 200"

    assert_refused(zip_bomb, tmp_path / "dest", reason, watch=tmp_path)


def test_refuses_zip_bomb_by_total_size(zip_bomb: Path, tmp_path: Path) -> None:
    limits = ExtractionLimits(max_total_bytes=10 * 2**20, max_ratio=1e9)

    assert_refused(zip_bomb, tmp_path / "dest", "over 10485760 bytes in total", limits, watch=tmp_path)


def test_refuses_lying_size_header_and_removes_what_it_wrote(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "liar.zip", [("first.txt", b"honest"), ("liar.txt", b"A" * 100_000)])
    patch_header(zip_path, "liar.txt", LOCAL_FILE_SIZE, CENTRAL_FILE_SIZE, 10)
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.getinfo("liar.txt").file_size == 10

    assert_refused(zip_path, tmp_path / "dest", "member 'liar.txt'")


def test_stops_member_yielding_more_than_declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zip_path = make_zip(tmp_path / "liar.zip", [("first.txt", b"honest"), ("liar.txt", b"short")])
    real_open = zipfile.ZipFile.open

    def open_with_lying_stream(self, name, *args, **kwargs):  # fault injection
        if getattr(name, "filename", name) == "liar.txt":
            return io.BytesIO(b"B" * 1_000_000)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_with_lying_stream)

    assert_refused(zip_path, tmp_path / "dest", "'liar.txt': yields more than its declared 5 bytes")


def test_refuses_encrypted_member(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "secret.zip", [("secret.txt", b"data")])
    patch_header(zip_path, "secret.txt", LOCAL_FLAGS, CENTRAL_FLAGS, 0x1)

    assert_refused(zip_path, tmp_path / "dest", "member 'secret.txt': encrypted")


def test_refuses_unsupported_compression(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "odd.zip", [("odd.txt", b"data")])
    patch_header(zip_path, "odd.txt", LOCAL_METHOD, CENTRAL_METHOD, 99)

    assert_refused(zip_path, tmp_path / "dest", "unsupported compression method 99")


def test_corrupt_member_data_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "bad.zip", [("first.txt", b"fine"), ("second.txt", os.urandom(5000))])
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo("second.txt")
    data = bytearray(zip_path.read_bytes())
    data[info.header_offset + 30 + len("second.txt") + 100] ^= 0xFF  # inside the member's data
    zip_path.write_bytes(bytes(data))

    assert_refused(zip_path, tmp_path / "dest", "member 'second.txt': corrupt data")


@pytest.mark.parametrize(
    "content",
    [b"", b"definitely not a zip file" * 10, b"PK\x05\x06" + b"\x00" * 10],
    ids=["empty", "text", "truncated-end-record"],
)
def test_refuses_what_is_not_a_zip(tmp_path: Path, content: bytes) -> None:
    zip_path = write(tmp_path / "fake.zip", content)

    assert_refused(zip_path, tmp_path / "dest", "not a valid zip archive")


def test_refuses_truncated_zip(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "cut.zip", [("a.txt", os.urandom(5000))])
    zip_path.write_bytes(zip_path.read_bytes()[:3000])

    assert_refused(zip_path, tmp_path / "dest", "not a valid zip archive")


def test_missing_zip_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.zip"

    assert_refused(missing, tmp_path / "dest", "cannot read .*nowhere.zip", watch=tmp_path)


def test_extracts_folder_entries_and_returns_only_files(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "ok.zip", [("docs/", b""), ("docs/a.txt", b"a"), ("empty/", b"")])

    assert safe_extract(zip_path, tmp_path / "dest") == ["docs/a.txt"]
    assert (tmp_path / "dest" / "empty").is_dir()


def test_the_whole_archive_may_expand_100_times_its_size_above_a_floor_and_below_the_cap() -> None:
    limits = ExtractionLimits(max_total_bytes=10_000_000, max_expansion=100, expansion_floor=50_000)
    assert limits.total_allowed(100) == 50_000  # any archive may reach the floor
    assert limits.total_allowed(2_000) == 200_000
    assert limits.total_allowed(1_000_000) == 10_000_000  # never past the cap


def test_refuses_small_members_that_together_expand_past_the_archives_ratio(tmp_path: Path) -> None:
    # Each member is under the 1 MiB the per-member ratio check starts at: only the whole archive's ratio holds.
    zip_path = make_zip(tmp_path / "many.zip", [(f"{i}.bin", bytes(256 * 2**10)) for i in range(40)])
    limits = ExtractionLimits(expansion_floor=2**20)
    size = zip_path.stat().st_size
    assert 40 * 256 * 2**10 > 100 * size > 2**20

    assert_refused(zip_path, tmp_path / "dest", f"in total \\(100 times the archive's own {size} bytes\\)", limits)


# --- stored or deflated, and deflated in parallel -----------------------------------------------------------


def _mixed_tree(root: Path) -> Path:
    """Every kind of entry: tiny, compressible (in memory and spilled to a temp file), incompressible, by name."""
    write(root / "tiny.txt", b"z\n")
    write(root / "table.csv", b"".join(b"%d,group-%d,%f\n" % (i, i % 7, i / 3) for i in range(40_000)))
    write(root / "big/log.txt", b"".join(b"event %d happened at step %d\n" % (i, i * 7) for i in range(300_000)))
    write(root / "random.bin", os.urandom(300_000))
    write(root / "figure.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)  # by name, compressible or not
    write(root / "run.sh", b"#!/bin/sh\necho hi\n").chmod(0o755)
    return root


def _zipfile_reference(source: Path, zip_path: Path) -> None:
    """The archive zipfile itself writes for the same stored/deflated choices (the single-threaded writer of before)."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            name = path.relative_to(source).as_posix()
            info = zipfile.ZipInfo(name, DATE)
            info.create_system = 3
            info.external_attr = ((0o100755 if path.stat().st_mode & 0o111 else 0o100644) & 0xFFFF) << 16
            stored = name in ("figure.png", "random.bin")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.file_size = path.stat().st_size
            with archive.open(info, "w") as target:
                target.write(path.read_bytes())


def test_compressed_and_incompressible_files_are_stored_and_the_rest_deflated(tmp_path: Path) -> None:
    source = _mixed_tree(tmp_path / "src")
    write_deterministic_zip(source, tmp_path / "out.zip", date_time=DATE)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        assert {name: archive.read(name) for name in methods} == {
            p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()
        }
        assert archive.testzip() is None  # every CRC right
    assert methods["figure.png"] == methods["random.bin"] == zipfile.ZIP_STORED
    for name in ("tiny.txt", "table.csv", "big/log.txt", "run.sh"):
        assert methods[name] == zipfile.ZIP_DEFLATED, name


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_parallel_zip_is_byte_identical_to_zipfiles_own_whatever_the_thread_count(tmp_path: Path, workers: int):
    source = _mixed_tree(tmp_path / "src")
    reference = tmp_path / "reference.zip"
    _zipfile_reference(source, reference)
    out = tmp_path / f"out-{workers}.zip"
    write_deterministic_zip(source, out, date_time=DATE, workers=workers)
    assert out.read_bytes() == reference.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if ".repropack-tmp-" in p.name] == []  # no temp file left


def test_a_stored_file_changed_after_it_was_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from repropack.fs import archive as archive_module

    source = _mixed_tree(tmp_path / "src")
    real_prepare = archive_module._prepare

    def prepare_then_change(path, spill):  # fault injection: the file is rewritten (same size) once read
        prepared = real_prepare(path, spill)
        if path.name == "random.bin":
            path.write_bytes(os.urandom(300_000))
        return prepared

    monkeypatch.setattr(archive_module, "_prepare", prepare_then_change)
    with pytest.raises(BadInput, match=r"^random.bin: the file changed while it was being packaged; export again$"):
        write_deterministic_zip(source, tmp_path / "out.zip", date_time=DATE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


# --- an unchanged re-export copies the entries of the archive it replaces -----------------------------------


def _prepared_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record which files are read and deflated (not reused) from now on."""
    from repropack.fs import archive as archive_module

    real_prepare, seen = archive_module._prepare, []

    def recording(path, spill):
        seen.append(path.name)
        return real_prepare(path, spill)

    monkeypatch.setattr(archive_module, "_prepare", recording)
    return seen


def test_a_re_export_reuses_unchanged_entries_and_gives_the_same_bytes(tmp_path, monkeypatch):
    source, manifests, out = _mixed_tree(tmp_path / "src"), tmp_path / "manifests", tmp_path / "out.zip"
    write_deterministic_zip(source, out, date_time=DATE, manifest_dir=manifests)
    first = out.read_bytes()
    prepared = _prepared_names(monkeypatch)
    write_deterministic_zip(source, out, date_time=DATE, manifest_dir=manifests)
    assert prepared == [] and out.read_bytes() == first  # nothing read again, not one byte different

    write(source / "table.csv", b"changed,content\n" * 3000)
    write_deterministic_zip(source, out, date_time=(2030, 1, 1, 0, 0, 0), manifest_dir=manifests)
    assert prepared == ["table.csv"]
    fresh = tmp_path / "fresh.zip"
    write_deterministic_zip(source, fresh, date_time=(2030, 1, 1, 0, 0, 0))
    assert out.read_bytes() == fresh.read_bytes()  # reused entries under a new date: as if all were written anew


@pytest.mark.parametrize(
    "damage",
    ["garbage", "shifted-offsets", "archive-rewritten", "wrong-crc"],
)
def test_a_manifest_that_does_not_hold_is_not_trusted(tmp_path, monkeypatch, damage):
    from repropack.fs import archive as archive_module

    source, manifests, out = _mixed_tree(tmp_path / "src"), tmp_path / "manifests", tmp_path / "out.zip"
    write_deterministic_zip(source, out, date_time=DATE, manifest_dir=manifests)
    expected = out.read_bytes()
    (manifest_path,) = manifests.iterdir()
    manifest = json.loads(manifest_path.read_text())
    if damage == "garbage":
        manifest_path.write_bytes(b"[" * 10_000)
    elif damage == "archive-rewritten":  # another archive now at the path: same name, another inode
        replacement = tmp_path / "other.zip"
        replacement.write_bytes(expected)
        os.replace(replacement, out)
    else:
        for entry in manifest["entries"].values():
            if damage == "shifted-offsets":
                entry[4] += 1
            else:
                entry[5] ^= 1
        manifest_path.write_text(json.dumps(manifest))
    prepared = _prepared_names(monkeypatch)
    write_deterministic_zip(source, out, date_time=DATE, manifest_dir=manifests)
    assert sorted(prepared) == sorted(p.name for p in source.rglob("*") if p.is_file())  # all read again
    assert out.read_bytes() == expected
    assert archive_module._reusable_entries(manifests, out)  # and the manifest is good again
