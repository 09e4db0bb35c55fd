"""Hypothesis fuzzes admission's opener with zips that lie (``tests.hostile.zipkit``): names that escape or
collide, sizes and compressed sizes that lie, stored or deflated data, around a real package's files.

Whatever the archive, ``admit`` admits it or refuses it with BadInput or CheckFailed (one line), never
another exception, and writes nothing outside its own temp folder, which is gone afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repropack.config import OpeningLimits
from repropack.errors import BadInput, CheckFailed
from repropack.repository.admission import admit
from repropack.repository.policy import Policy
from tests.hostile import zipkit

# Names an attacker would try: escapes, absolute and Windows paths, NUL, case and normalisation twins, the
# metadata file again, folders clashing with files, plus arbitrary text.
_NAMES = st.one_of(
    st.sampled_from(
        [
            "ro-crate-metadata.json",
            "RO-CRATE-METADATA.JSON",
            "../x",
            "a/../../x",
            "/etc/x",
            "C:/x",
            "a\\b",
            "a\x00b",
            "./a",
            "a//b",
            "data",
            "data/",
            "data/input.csv",
            "Data/input.csv",
            "caf\u00e9",
            "cafe\u0301",
            ".repropack/wheelhouse/w.whl",
            "",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
)


@st.composite
def lying_members(draw) -> zipkit.Member:
    name = draw(_NAMES)
    content = draw(st.one_of(st.binary(max_size=64), st.just(b"PK\x03\x04" + bytes(30)), st.just(b"\x1f\x8b\x08")))
    method = draw(st.sampled_from([zipkit.STORED, zipkit.DEFLATED]))
    honest = zipkit.member(name, content, method=method)
    size = draw(st.one_of(st.just(honest.size), st.integers(0, 2**32 - 1)))
    compressed = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    crc = draw(st.one_of(st.just(honest.crc), st.integers(0, 2**32 - 1)))
    return zipkit.Member(name, honest.stored, size, crc, method, compressed)


def _honest_package_members(valid: Path) -> list[zipkit.Member]:
    return [
        zipkit.member(path.relative_to(valid).as_posix(), path.read_bytes())
        for path in sorted(valid.rglob("*"))
        if path.is_file()
    ]


def _everything_under(folder: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(top, name), folder)
        for top, dirs, files in os.walk(folder)
        for name in dirs + files
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(lying_members(), max_size=6), keep=st.integers(0, 40), shuffle=st.randoms())
def test_admit_never_crashes_and_never_writes_outside_its_temp_folder(valid_package, tmp_path, extra, keep, shuffle):
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        members = _honest_package_members(valid_package)[:keep] + extra
        shuffle.shuffle(members)
        archive = zipkit.write_zip(work / "fuzzed.zip", members)
        before = _everything_under(tmp_path)
        try:
            with admit(archive, Policy(profiles="off"), OpeningLimits()) as admitted:
                assert admitted.root.is_dir()
        except (BadInput, CheckFailed) as refused:
            assert "\n" not in str(refused)
        assert _everything_under(tmp_path) == before
    finally:
        shutil.rmtree(work)


def test_an_honest_zip_of_the_package_is_admitted(valid_package, tmp_path):
    archive = zipkit.write_zip(tmp_path / "honest.zip", _honest_package_members(valid_package))
    with admit(archive, Policy(profiles="off"), OpeningLimits()) as admitted:
        assert admitted.format == "repropack"


def test_a_corrupt_member_is_refused(valid_package, tmp_path):
    members = _honest_package_members(valid_package)
    broken = members[0]
    members[0] = zipkit.Member(broken.name, broken.stored, broken.size, zlib.crc32(b"other"), broken.method)
    archive = zipkit.write_zip(tmp_path / "corrupt.zip", members)
    try:
        with admit(archive, Policy(profiles="off"), OpeningLimits()):
            raise AssertionError("admitted")
    except BadInput as refused:
        assert f"member {broken.name!r}: corrupt data" in str(refused)
