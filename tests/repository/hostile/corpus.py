"""The hostile corpus for admission: every package a repository must refuse, built by code (no committed binaries).

Each case is a function ``case(valid, work) -> Hostile``: ``valid`` is a folder holding a valid package
exported by repropack (never changed: cases copy it), ``work`` an empty folder the case builds in. The
``Hostile`` names the package to give ``admit`` (or ``repropack import``) and a fragment its one-line
refusal must hold (the entry and the rule). ``CASES`` lists them all by name, so a test of another
command (``repropack import``, comparing the repository before and after) can run the whole corpus.
Zips that lie are written with ``tests.hostile.zipkit``; honest ones with ``zipfile``.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from repropack.export import export_project
from tests.conftest import make_project
from tests.hostile import zipkit

METADATA = "ro-crate-metadata.json"
MiB = 2**20


@dataclass(frozen=True)
class Hostile:
    path: Path  # the hostile package (a folder or a file)
    fragment: str  # what its refusal's one line must say


def export_valid_package(base: Path) -> Path:
    """A valid package folder at ``base/valid`` (``--no-execute``: no kernel, about a second)."""
    project = make_project(base / "study")
    export_project(project, base / "valid", {"execute": False})
    return base / "valid"


# --- helpers -------------------------------------------------------------------------------------


def copy_package(valid: Path, work: Path, name: str = "pkg") -> Path:
    target = work / name
    shutil.copytree(valid, target)
    return target


def read_metadata(package: Path) -> dict:
    return json.loads((package / METADATA).read_text(encoding="utf-8"))


def write_metadata(package: Path, metadata: dict) -> None:
    (package / METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def describe(package: Path, path: str, data: bytes) -> None:
    """Add ``path`` holding ``data`` to the package, described as an input file with its true size and sha256."""
    (package / path).parent.mkdir(parents=True, exist_ok=True)
    (package / path).write_bytes(data)
    metadata = read_metadata(package)
    graph = metadata["@graph"]
    template = next(e for e in graph if e.get("@id") == "data/input.csv")
    entity = {**copy.deepcopy(template), "@id": path, "name": path.rpartition("/")[2]}
    entity.update(sha256=hashlib.sha256(data).hexdigest(), contentSize=str(len(data)))
    entity["encodingFormat"] = "application/octet-stream"
    graph.append(entity)
    root = next(e for e in graph if e.get("@id") == "./")
    root.setdefault("hasPart", []).append({"@id": path})
    write_metadata(package, metadata)


def zip_folder(folder: Path, target: Path, extra: Iterable[tuple[zipfile.ZipInfo, bytes]] = ()) -> Path:
    """An honest zip of every regular file under ``folder`` (names relative to it), then ``extra`` members."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for info, data in extra:
            archive.writestr(info, data)
    return target


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def _with_entity(valid: Path, work: Path, identifier: str, types: str = "File") -> Path:
    package = copy_package(valid, work)
    metadata = read_metadata(package)
    metadata["@graph"].append({"@id": identifier, "@type": types, "name": "x"})
    write_metadata(package, metadata)
    return package


# --- entry names --------------------------------------------------------------------------------


def dotdot_entry(valid: Path, work: Path) -> Hostile:
    target = zip_folder(valid, work / "dotdot.zip", [(_entry("../escaped.txt", 0o100644), b"out")])
    return Hostile(target, "member '../escaped.txt': '..' in path")


def absolute_entry(valid: Path, work: Path) -> Hostile:
    target = zip_folder(valid, work / "absolute.zip", [(_entry("/tmp/absolute.txt", 0o100644), b"out")])
    return Hostile(target, "member '/tmp/absolute.txt': absolute path")


def duplicate_names(valid: Path, work: Path) -> Hostile:
    members = [zipkit.member(METADATA, (valid / METADATA).read_bytes()), zipkit.member("a.txt", b"1")]
    target = zipkit.write_zip(work / "duplicate.zip", [*members, zipkit.member("a.txt", b"2")])
    return Hostile(target, "member 'a.txt': duplicate name")


def case_colliding_zip(valid: Path, work: Path) -> Hostile:
    extra = [(_entry("data/INPUT.csv", 0o100644), b"id,group\n")]
    target = zip_folder(valid, work / "case.zip", extra)
    return Hostile(target, "member 'data/input.csv': the same name as 'data/INPUT.csv'")


def normalisation_colliding_folder(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / "caf\u00e9.txt").write_text("composed")
    (package / "cafe\u0301.txt").write_text("decomposed")
    return Hostile(package, "letter case and Unicode normalisation are ignored")


# --- links and special files --------------------------------------------------------------------------


def symlink_in_zip(valid: Path, work: Path) -> Hostile:
    target = zip_folder(valid, work / "symlink.zip", [(_entry("data/link", 0o120777), b"/etc/passwd")])
    return Hostile(target, "member 'data/link': symlink")


def symlink_in_folder(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / "data" / "link").symlink_to("/etc/passwd")
    return Hostile(package, "data/link: a symlink")


def hardlink_in_folder(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    os.link(package / "notes.md", work / "notes-elsewhere.md")  # the second name is outside the package
    return Hostile(package, "notes.md: a hardlink (2 names for one file")


def fifo_in_folder(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    os.mkfifo(package / "data" / "pipe")
    return Hostile(package, "data/pipe: a FIFO")


def device_in_folder(valid: Path, work: Path) -> Hostile:
    """Needs the right to make device nodes (root, CAP_MKNOD): ``PermissionError`` otherwise, for a test to skip."""
    package = copy_package(valid, work)
    os.mknod(package / "data" / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return Hostile(package, "data/null: a character device")


def device_in_zip(valid: Path, work: Path) -> Hostile:
    target = zip_folder(valid, work / "device.zip", [(_entry("data/null", stat.S_IFCHR | 0o666), b"")])
    return Hostile(target, "member 'data/null': special file")


# --- sizes and counts ---------------------------------------------------------------------------------


def too_many_entries(valid: Path, work: Path) -> Hostile:
    # The default policy's max_entries is 100,000: one more, each member empty (a 10 MB zip).
    members = (zipkit.member(f"m/{i:06}", b"", method=zipkit.STORED) for i in range(100_001))
    target = zipkit.write_zip(work / "many.zip", members)
    return Hostile(target, "100001 members, over the limit of 100000")


def bomb_by_total(valid: Path, work: Path) -> Hostile:
    # 2,000 members of 1 MiB of zeros each, each just under the per-member ratio check: the total refuses.
    target = zipkit.write_zip(work / "bomb.zip", (zipkit.zeros(f"m{i:04}.bin", MiB) for i in range(2000)))
    return Hostile(target, "in total (100 times the archive's own")


def bomb_by_ratio(valid: Path, work: Path) -> Hostile:
    target = zipkit.write_zip(work / "ratio.zip", [zipkit.zeros("zeros.bin", 64 * MiB)])
    return Hostile(target, "member 'zeros.bin': compression ratio over 200")


def lying_size_header(valid: Path, work: Path) -> Hostile:
    data = b"id,group\n1,a\n"
    honest = zipkit.member("data/input.csv", data)
    lying = zipkit.Member(honest.name, honest.stored, 5000, honest.crc)
    target = zipkit.write_zip(work / "lying.zip", [zipkit.member(METADATA, b"{}"), lying])
    return Hostile(target, "member 'data/input.csv': lying size header: yields 13 of its declared 5000 bytes")


def lying_stored_size(valid: Path, work: Path) -> Hostile:
    data = b"id,group\n1,a\n"
    lying = zipkit.Member("data/input.csv", data, len(data), zipkit.member("x", data).crc, zipkit.STORED, 10**6)
    target = zipkit.write_zip(work / "stored.zip", [zipkit.member(METADATA, b"{}"), lying])
    return Hostile(target, "member 'data/input.csv': lying size header: stored")


# --- nested archives ----------------------------------------------------------------------------------


def nested_zip(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("inner.txt", "inside")
    describe(package, "data/inner.zip", inner.getvalue())
    return Hostile(package, "data/inner.zip: a nested zip archive (never expanded)")


def nested_tar_gz(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as archive:
        info = tarfile.TarInfo("inner.txt")
        archive.addfile(info, io.BytesIO(b""))
    describe(package, "data/renamed.csv", inner.getvalue())  # the bytes decide, not the name
    return Hostile(package, "data/renamed.csv: a nested gzip archive")


def nested_tar(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("inner.txt"), io.BytesIO(b""))
    describe(package, "data/plain.tar", inner.getvalue())
    return Hostile(package, "data/plain.tar: a nested tar archive")


def wheel_outside_wheelhouse(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
    describe(package, "data/tool-1.0-py3-none-any.whl", inner.getvalue())
    return Hostile(package, "data/tool-1.0-py3-none-any.whl: a nested zip archive")


# --- metadata -------------------------------------------------------------------------------------------


def metadata_too_large(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    metadata = read_metadata(package)
    next(e for e in metadata["@graph"] if e.get("@id") == "./")["description"] = "x" * (33 * MiB)
    write_metadata(package, metadata)
    return Hostile(package, f"{METADATA}: ")


def metadata_too_deep(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / METADATA).write_text('{"@graph": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return Hostile(package, f"{METADATA}: nested deeper than the 64 levels allowed")


def metadata_not_json(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / METADATA).write_text('{"@graph": [}')
    return Hostile(package, f"{METADATA}: not JSON")


def id_file_url(valid: Path, work: Path) -> Hostile:
    return Hostile(_with_entity(valid, work, "file:///etc/passwd"), "@id 'file:///etc/passwd': a file: URL escapes")


def id_dotdot(valid: Path, work: Path) -> Hostile:
    return Hostile(_with_entity(valid, work, "../outside.csv"), "@id '../outside.csv': '..' escapes the package root")


def id_absolute(valid: Path, work: Path) -> Hostile:
    return Hostile(_with_entity(valid, work, "/etc/passwd"), "@id '/etc/passwd': an absolute path escapes")


# --- files against their description ------------------------------------------------------------------


def described_but_absent(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / "data" / "input.csv").unlink()
    return Hostile(package, "data/input.csv: described but missing from the package")


def present_but_undescribed(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    (package / "data" / "smuggled.txt").write_text("not in the metadata")
    return Hostile(package, "data/smuggled.txt: file in the package is not described by its metadata")


def tampered_file(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    original = (package / "data" / "input.csv").read_bytes()
    (package / "data" / "input.csv").write_bytes(original.replace(b"a", b"b"))  # same size, other bytes
    return Hostile(package, "data/input.csv: sha256 ")


def tampered_size(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work)
    with (package / "notes.md").open("ab") as out:
        out.write(b"appended\n")
    return Hostile(package, "notes.md: size ")


def tampered_zip(valid: Path, work: Path) -> Hostile:
    package = copy_package(valid, work, "unzipped")
    (package / "notes.md").write_text("# NOTES\n")  # same size, other bytes
    return Hostile(zip_folder(package, work / "tampered.zip"), "notes.md: sha256 ")


# --- not a package ------------------------------------------------------------------------------------


def governed_run_record(valid: Path, work: Path) -> Hostile:
    record = work / "record"
    record.mkdir()
    (record / "result.json").write_text("{}")
    (record / "signature.json").write_text("{}")
    return Hostile(record, "is a governed-run record, not a package")


def not_an_archive(valid: Path, work: Path) -> Hostile:
    target = work / "package.zip"
    target.write_bytes(b"this is no zip at all")
    return Hostile(target, "neither a package folder nor a zip archive")


CASES: dict[str, Callable[[Path, Path], Hostile]] = {
    case.__name__: case
    for case in (
        dotdot_entry,
        absolute_entry,
        duplicate_names,
        case_colliding_zip,
        normalisation_colliding_folder,
        symlink_in_zip,
        symlink_in_folder,
        hardlink_in_folder,
        fifo_in_folder,
        device_in_folder,
        device_in_zip,
        too_many_entries,
        bomb_by_total,
        bomb_by_ratio,
        lying_size_header,
        lying_stored_size,
        nested_zip,
        nested_tar_gz,
        nested_tar,
        wheel_outside_wheelhouse,
        metadata_too_large,
        metadata_too_deep,
        metadata_not_json,
        id_file_url,
        id_dotdot,
        id_absolute,
        described_but_absent,
        present_but_undescribed,
        tampered_file,
        tampered_size,
        tampered_zip,
        governed_run_record,
        not_an_archive,
    )
}
