"""Zip archives of a package: written byte-for-byte reproducibly, extracted defensively.

``write_deterministic_zip`` makes the same archive from the same folder
contents whatever the files' timestamps, owners or permission bits (beyond
the executable bit) and whenever it runs, with the same zlib build.
``safe_extract`` treats its archive as hostile.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from repropack.errors import BadInput, CannotRun
from repropack.fs.atomic import staged_file
from repropack.fs.walk import EntryKind, walk_tree

ZipDateTime = tuple[int, int, int, int, int, int]

#: The earliest and latest timestamps a zip entry can hold (2-second steps).
ZIP_MIN_DATE_TIME: ZipDateTime = (1980, 1, 1, 0, 0, 0)
ZIP_MAX_DATE_TIME: ZipDateTime = (2107, 12, 31, 23, 59, 58)

# Deflating these again costs time and saves nothing.
_ALREADY_COMPRESSED = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".zip",
        ".gz",
        ".bz2",
        ".xz",
        ".zst",
        ".parquet",
        ".npz",
        ".whl",
    }
)

_UNIX_SYSTEM = 3  # "made by" host: the unix mode bits in external_attr are meaningful
_REGULAR_FILE_ATTR = (stat.S_IFREG | 0o644) << 16
_EXECUTABLE_FILE_ATTR = (stat.S_IFREG | 0o755) << 16
_COPY_CHUNK = 1 << 20
_RATIO_CHECK_MIN_BYTES = 1 << 20
_ENCRYPTED_FLAG = 0x1
_EXTRACTABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")


def zip_date_time(epoch: int | None) -> ZipDateTime:
    """The entry timestamp for a ``SOURCE_DATE_EPOCH`` value, in UTC.

    ``None`` gives 1980-01-01 00:00:00. Values outside what a zip can hold are
    clamped to 1980..2107; odd seconds are rounded down to the even second the
    archive would store anyway, so the result is exactly what entries carry.
    """
    if epoch is None:
        return ZIP_MIN_DATE_TIME
    earliest, latest = calendar.timegm(ZIP_MIN_DATE_TIME), calendar.timegm(ZIP_MAX_DATE_TIME)
    clamped = min(max(epoch, earliest), latest)
    year, month, day, hour, minute, second = time.gmtime(clamped)[:6]
    return (year, month, day, hour, minute, second - second % 2)


def write_deterministic_zip(source_dir: Path, zip_path: Path, *, date_time: ZipDateTime) -> None:
    """Write every regular file under ``source_dir`` into a new ``zip_path``.

    Entries are sorted by POSIX path, folders get no entry of their own, and
    every entry has ``date_time``, unix mode 0644 (0755 if any executable bit
    is set), "made by" unix and no extra field (bar the Zip64 fields that
    sizes near or offsets over 4 GiB require). Files are deflated at level 6, except already-compressed types,
    which are stored. Contents are streamed. ``zip_path`` appears (replacing what was there) only once
    complete. Raises ``ValueError`` if ``source_dir`` holds a symlink or a
    special file.
    """
    members = _regular_files(source_dir)
    with staged_file(zip_path, replace=True) as partial, zipfile.ZipFile(partial, "w") as archive:
        for name, path in members:
            _add_file(archive, name, path, date_time)


def _regular_files(source_dir: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for entry in walk_tree(source_dir):
        if entry.kind is EntryKind.SYMLINK:
            raise ValueError(f"symlink in package folder: {entry.path}")
        if entry.kind is EntryKind.OTHER:
            raise ValueError(f"special file in package folder: {entry.path}")
        if entry.kind is EntryKind.FILE:
            found.append((entry.relpath, entry.path))
    return sorted(found)


def _add_file(archive: zipfile.ZipFile, name: str, path: Path, date_time: ZipDateTime) -> None:
    st = path.stat()
    info = zipfile.ZipInfo(name, date_time)
    info.create_system = _UNIX_SYSTEM
    info.external_attr = _EXECUTABLE_FILE_ATTR if st.st_mode & 0o111 else _REGULAR_FILE_ATTR
    # With no explicit level, zipfile asks zlib for Z_DEFAULT_COMPRESSION, which is level 6.
    stored = path.suffix.lower() in _ALREADY_COMPRESSED
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    # The size known up front decides whether the entry needs Zip64 headers.
    info.file_size = st.st_size
    with open(path, "rb") as source, archive.open(info, "w") as target:
        shutil.copyfileobj(source, target, _COPY_CHUNK)


@dataclass(frozen=True)
class ExtractionLimits:
    """What ``safe_extract`` accepts from one archive.

    The whole archive may expand to ``total_allowed(archive size)`` bytes: at most
    ``max_total_bytes``, and at most ``max_expansion`` times the archive's own size (any
    archive may reach ``expansion_floor``). Every member counts, whatever its size.
    (``config.OpeningLimits`` is what a command passes; these defaults are the same.)
    """

    max_members: int = 100_000
    max_total_bytes: int = 8 * 2**30
    max_member_bytes: int = 8 * 2**30
    max_ratio: float = 200.0  # uncompressed/compressed per member, for members over 1 MiB
    max_expansion: float = 100.0  # uncompressed total / archive size, over all members
    expansion_floor: int = 256 * 2**20

    def total_allowed(self, archive_bytes: int) -> int:
        """The most bytes an archive of ``archive_bytes`` may expand to."""
        relative = max(int(self.max_expansion * archive_bytes), self.expansion_floor)
        return min(self.max_total_bytes, relative)


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    name: str  # the name as stored, checked safe
    is_dir: bool
    executable: bool


def safe_extract(zip_path: Path, dest: Path, limits: ExtractionLimits = ExtractionLimits()) -> list[str]:
    """Extract an untrusted archive under ``dest``; return the extracted files' relative paths.

    Before writing anything, refuses with a one-line ``BadInput`` naming the
    member and the reason: unsafe names (absolute, drive letter, ``..``, empty
    or ``.`` components, backslash, NUL, resolving outside ``dest``), links and
    special files, duplicate names, a name used as both file and folder,
    existing files in the way, encryption, unsupported compression, and
    archives over ``limits`` by their declared sizes. While extracting, a member
    that yields more bytes than it declares (so the bytes written never pass the
    total limit), or corrupt data, is ``BadInput`` too; a failure to write is
    ``CannotRun``. On any error, everything this call created is removed.
    """
    archive = _open_archive(zip_path)
    with archive:
        members = _checked_members(archive, zip_path, dest, limits)
        created: list[Path] = []
        try:
            return _extract(archive, zip_path, members, dest, created)
        except OSError as error:
            _remove_created(created)
            raise CannotRun(f"cannot extract {zip_path} to {dest}: {error}") from error
        except BaseException:
            _remove_created(created)
            raise


def _open_archive(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise BadInput(f"not a valid zip archive: {zip_path}: {error}") from error
    except OSError as error:
        raise BadInput(f"cannot read {zip_path}: {error.strerror or error}") from error


def _total_limit(zip_path: Path, limits: ExtractionLimits) -> tuple[int, str]:
    """The bytes this archive may expand to, and which limit that is (for the refusal)."""
    size = zip_path.stat().st_size
    limit = limits.total_allowed(size)
    if limit == limits.max_total_bytes:
        return limit, "the max_package_bytes limit"
    return limit, f"{limits.max_expansion:g} times the archive's own {size} bytes"


def _checked_members(archive: zipfile.ZipFile, zip_path: Path, dest: Path, limits: ExtractionLimits) -> list[_Member]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise BadInput(f"unsafe zip {zip_path}: {len(infos)} members, over the limit of {limits.max_members}")
    dest_real = os.path.realpath(dest)
    members: list[_Member] = []
    seen: set[str] = set()
    # Declared sizes are held to while extracting (``_write_member``), so a total within
    # this limit is also a limit on the bytes actually written, whatever the archive says.
    total, (total_limit, which) = 0, _total_limit(zip_path, limits)
    for info in infos:
        # orig_filename is the name as stored: zipfile cuts ZipInfo.filename at a NUL.
        name = info.orig_filename
        reason = _name_problem(name) or _entry_problem(info, limits) or _destination_problem(name, dest_real)
        if reason is None and name in seen:
            reason = "duplicate name"
        if reason is not None:
            raise _refusal(zip_path, name, reason)
        seen.add(name)
        total += info.file_size
        if total > total_limit:
            raise _refusal(zip_path, name, f"members declare over {total_limit} bytes in total ({which})")
        mode = info.external_attr >> 16
        members.append(_Member(info, name, info.is_dir(), bool(mode & 0o111)))
    _refuse_file_folder_clashes(members, zip_path)
    return members


def _name_problem(name: str) -> str | None:
    if "\x00" in name:
        return "NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE_LETTER.match(name):
        return "drive letter in name"
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        return "'..' in path"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' path component"
    return None


def _entry_problem(info: zipfile.ZipInfo, limits: ExtractionLimits) -> str | None:
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        return "symlink"
    if file_type not in (0, stat.S_IFDIR if info.is_dir() else stat.S_IFREG):
        return f"special file (type {file_type:#o})"
    if info.flag_bits & _ENCRYPTED_FLAG:
        return "encrypted"
    if info.compress_type not in _EXTRACTABLE_METHODS:
        return f"unsupported compression method {info.compress_type}"
    if info.file_size > limits.max_member_bytes:
        return f"declares {info.file_size} bytes, over the limit of {limits.max_member_bytes}"
    too_compressed = info.file_size > limits.max_ratio * info.compress_size
    if info.file_size > _RATIO_CHECK_MIN_BYTES and too_compressed:
        return f"compression ratio over {limits.max_ratio:g}"
    return None


def _destination_problem(name: str, dest_real: str) -> str | None:
    target = os.path.join(dest_real, name)
    # Names are clean by now; only a symlink already inside dest can lead out.
    if os.path.commonpath([dest_real, os.path.realpath(target)]) != dest_real:
        return "resolves outside the destination"
    if not name.endswith("/") and os.path.lexists(target):
        return "would overwrite an existing file"
    return None


def _refuse_file_folder_clashes(members: list[_Member], zip_path: Path) -> None:
    folders = {member.name.removesuffix("/") for member in members if member.is_dir}
    for member in members:
        parts = member.name.removesuffix("/").split("/")
        folders.update("/".join(parts[:end]) for end in range(1, len(parts)))
    for member in members:
        if not member.is_dir and member.name in folders:
            raise _refusal(zip_path, member.name, "used as both a file and a folder")


def _refusal(zip_path: Path, name: str, reason: str) -> BadInput:
    # repr() keeps hostile names (newlines, escapes) on the one line of the message.
    return BadInput(f"unsafe zip {zip_path}: member {name!r}: {reason}")


def _extract(
    archive: zipfile.ZipFile,
    zip_path: Path,
    members: list[_Member],
    dest: Path,
    created: list[Path],
) -> list[str]:
    extracted: list[str] = []
    _make_folders(dest, created)
    for member in members:
        target = dest / member.name
        try:
            if member.is_dir:
                _make_folders(target, created)
                continue
            _make_folders(target.parent, created)
            _write_member(archive, zip_path, member, target, created)
        except (zipfile.BadZipFile, EOFError, zlib.error) as error:
            raise _refusal(zip_path, member.name, f"corrupt data: {error}") from error
        extracted.append(member.name)
    return extracted


def _write_member(archive: zipfile.ZipFile, zip_path: Path, member: _Member, target: Path, created: list[Path]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(target, flags, 0o755 if member.executable else 0o644)
    created.append(target)
    declared = member.info.file_size
    written = 0
    with os.fdopen(descriptor, "wb") as out, archive.open(member.info) as source:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            # zipfile happens to cut output at the declared size; count anyway
            # rather than rely on that undocumented behaviour: the total limit rests on it.
            if written > declared:
                reason = f"yields more than its declared {declared} bytes"
                raise _refusal(zip_path, member.name, reason)
            out.write(chunk)


def _make_folders(folder: Path, created: list[Path]) -> None:
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def _remove_created(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            # Something else appeared in a folder we made: leave it rather than delete it.
            pass
