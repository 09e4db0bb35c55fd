"""Zip archives of a package: written byte-for-byte reproducibly, extracted defensively.

``write_deterministic_zip`` makes the same archive from the same folder
contents whatever the files' timestamps, owners or permission bits (beyond
the executable bit) and whenever it runs, with the same zlib build.
``safe_extract`` treats its archive as hostile.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
import stat
import time
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from repropack.errors import BadInput, CannotRun
from repropack.fs.atomic import scratch_folder, staged_file, write_bytes_atomically
from repropack.fs.bounded import UnsafeData, read_json_file
from repropack.fs.names import collisions
from repropack.fs.walk import EntryKind, walk_tree

ZipDateTime = tuple[int, int, int, int, int, int]

#: The earliest and latest timestamps a zip entry can hold (2-second steps).
ZIP_MIN_DATE_TIME: ZipDateTime = (1980, 1, 1, 0, 0, 0)
ZIP_MAX_DATE_TIME: ZipDateTime = (2107, 12, 31, 23, 59, 58)

# Formats whose content is compressed already: deflating them again costs time and saves nothing. Only
# formats that are always compressed (parquet, npz, h5 and pdf may or may not be): the rest get a trial.
_ALREADY_COMPRESSED = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".zip",
        ".whl",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".mp4",
        ".mp3",
        ".webm",
    }
)
# Any other file this large is stored when deflating its first block at level 1 saves under 5 %.
_TRIAL_MIN_BYTES = 16 * 1024
_TRIAL_BLOCK = 64 * 1024
_TRIAL_MIN_SAVING = 0.05
# A worker deflates an entry into memory up to this size, into a temp file beyond: memory stays bounded.
_IN_MEMORY_BYTES = 1 << 20

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


def write_deterministic_zip(
    source_dir: Path,
    zip_path: Path,
    *,
    date_time: ZipDateTime,
    workers: int | None = None,
    manifest_dir: Path | None = None,
    replaces: Path | None = None,
) -> None:
    """Write every regular file under ``source_dir`` into a new ``zip_path``.

    Entries are sorted by POSIX path, folders get no entry of their own, and
    every entry has ``date_time``, unix mode 0644 (0755 if any executable bit
    is set), "made by" unix and no extra field (bar the Zip64 fields that
    sizes near or offsets over 4 GiB require). Files are deflated at level 6,
    except those stored as they are: known compressed formats (by extension),
    and files of 16 KiB or more whose first 64 KiB deflate (level 1) by under
    5 %. Entries are deflated by ``workers`` threads (default: one per CPU),
    each into memory or a temp file beside ``zip_path``, and written in order:
    the bytes depend on the files' contents and names, never on the thread
    count or timing. Memory use is bounded per worker whatever the file sizes.
    ``zip_path`` appears (replacing what was there) only once complete. Raises
    ``ValueError`` if ``source_dir`` holds a symlink or a special file.

    With ``manifest_dir`` (a folder of the user cache), a manifest of the new
    archive is kept there: where each entry's data lies and the size, mtime and
    inode of the file it came from. When ``zip_path`` is replaced and is still
    the archive that manifest describes (same size, mtime, inode, zlib), an
    entry whose file still has the recorded state is copied from it as it is,
    not read and deflated again: an unchanged re-export reads almost nothing.
    The bytes are the same either way. ``replaces`` is where the archive
    will finally be (renamed by the caller), if not at ``zip_path``: the archive
    there is the one reused, and the manifest is kept for that path.
    """
    members = _regular_files(source_dir)
    count = workers or os.cpu_count() or 1
    final = replaces or zip_path
    reusable = _reusable_entries(manifest_dir, final) if manifest_dir is not None else {}
    written: list[tuple[str, int, _Prepared, tuple[int, int, int]]] = []
    with (
        staged_file(zip_path, replace=True) as partial,
        scratch_folder(zip_path) as scratch,
        zipfile.ZipFile(partial, "w") as archive,
        ThreadPoolExecutor(max_workers=count) as pool,
    ):
        pending: deque[tuple[str, Path, Future[_Prepared]]] = deque()
        queue = iter(enumerate(members))
        try:
            for index, (name, path) in queue:
                future = _reused(name, reusable.get(name), path, final)
                if future is None:
                    future = pool.submit(_prepare, path, scratch / f"{index}.deflated")
                pending.append((name, path, future))
                if len(pending) >= 2 * count:  # a bounded window: at most this many entries prepared ahead
                    written.append(_add_prepared(archive, *pending.popleft(), date_time))
            while pending:
                written.append(_add_prepared(archive, *pending.popleft(), date_time))
        except BaseException:
            for _, _, future in pending:
                future.cancel()
            raise
    if manifest_dir is not None:
        _write_manifest(manifest_dir, final, zip_path, written)


@dataclass(frozen=True)
class _Slice:
    """An entry's data as it lies in the archive being replaced."""

    archive: Path
    offset: int
    stored: bool


@dataclass(frozen=True)
class _Prepared:
    """One entry ready to write: its CRC and sizes, and its deflated bytes (in memory or a file), or None: stored."""

    crc: int
    size: int
    executable: bool
    deflated: bytes | Path | _Slice | None
    compress_size: int
    state: tuple[int, int, int] = (0, 0, 0)  # size, mtime_ns, inode of the file as read: a stored one is read again


def _stored_by_name(path: Path) -> bool:
    return path.suffix.lower() in _ALREADY_COMPRESSED


def _incompressible(head: bytes) -> bool:
    """Whether deflating ``head`` (a file's first block) at level 1 saves under 5 %: then deflating all is waste."""
    trial = zlib.compressobj(1, zlib.DEFLATED, -15)
    size = len(trial.compress(head)) + len(trial.flush())
    return size > len(head) * (1 - _TRIAL_MIN_SAVING)


def _prepare(path: Path, spill: Path) -> _Prepared:
    """Read ``path`` once: CRC, size, and (unless it is to be stored) its level-6 raw deflate stream.

    Runs in a worker thread: zlib and the reads release the GIL.
    """
    with open(path, "rb", buffering=0) as source:
        st = os.fstat(source.fileno())
        executable = bool(st.st_mode & 0o111)
        head = source.read(_TRIAL_BLOCK)
        store = _stored_by_name(path) or (st.st_size >= _TRIAL_MIN_BYTES and _incompressible(head))
        crc = zlib.crc32(head)
        size = len(head)
        if store:
            while chunk := source.read(_COPY_CHUNK):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
            return _Prepared(crc, size, executable, None, size, _state(os.fstat(source.fileno())))
        # The same stream zipfile writes: level 6 (Z_DEFAULT_COMPRESSION), raw deflate, no header.
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        parts: list[bytes] = [deflater.compress(head)]
        held = len(parts[0])
        out = None
        try:
            while chunk := source.read(_COPY_CHUNK):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                piece = deflater.compress(chunk)
                if out is None and held + len(piece) > _IN_MEMORY_BYTES:
                    out = open(spill, "wb")  # noqa: SIM115 (closed below, or on error)
                    out.writelines(parts)
                    parts = []
                if out is None:
                    parts.append(piece)
                    held += len(piece)
                else:
                    out.write(piece)
            tail = deflater.flush()
            if out is None:
                data = b"".join([*parts, tail])
                return _Prepared(crc, size, executable, data, len(data), _state(os.fstat(source.fileno())))
            out.write(tail)
            compress_size = out.tell()
            state = _state(os.fstat(source.fileno()))
        finally:
            if out is not None:
                out.close()
        return _Prepared(crc, size, executable, spill, compress_size, state)


def _entry_header(name: str, date_time: ZipDateTime, prepared: _Prepared) -> tuple[zipfile.ZipInfo, bytes]:
    """The entry's ZipInfo and the local file header zipfile writes for it."""
    info = zipfile.ZipInfo(name, date_time)
    info.create_system = _UNIX_SYSTEM
    info.external_attr = _EXECUTABLE_FILE_ATTR if prepared.executable else _REGULAR_FILE_ATTR
    stored = prepared.deflated is None or (isinstance(prepared.deflated, _Slice) and prepared.deflated.stored)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.file_size = prepared.size
    info.compress_size = prepared.compress_size
    info.CRC = prepared.crc
    # As ZipFile.open(info, "w") decides it, from the size known up front.
    zip64 = prepared.size * 1.05 > zipfile.ZIP64_LIMIT or prepared.compress_size > zipfile.ZIP64_LIMIT
    return info, info.FileHeader(zip64)


# Bytes 10 to 13 of a local file header are the entry's time and date: all else must match to reuse an entry.
_HEADER_TIME = slice(10, 14)


def _header_is_at(archive: Path, data_offset: int, header: bytes) -> bool:
    """Whether ``header`` (time and date aside) lies in ``archive`` just before ``data_offset``."""
    start = data_offset - len(header)
    if start < 0:
        return False
    try:
        with open(archive, "rb", buffering=0) as stream:
            found = os.pread(stream.fileno(), len(header), start)
    except OSError:
        return False
    blank = b"\0" * 4
    return len(found) == len(header) and (
        found[: _HEADER_TIME.start] + blank + found[_HEADER_TIME.stop :]
        == header[: _HEADER_TIME.start] + blank + header[_HEADER_TIME.stop :]
    )


def _add_prepared(
    archive: zipfile.ZipFile, name: str, path: Path, future: Future[_Prepared], date_time: ZipDateTime
) -> tuple[str, int, _Prepared, tuple[int, int, int]]:
    """Write one prepared entry at the archive's end: the header zipfile would write, then the data as is.

    Returns what the manifest keeps of it: name, where its data starts, the entry, its file's state."""
    prepared = future.result()
    info, header = _entry_header(name, date_time, prepared)
    stream = archive.fp
    assert stream is not None
    info.header_offset = stream.tell()
    stream.write(header)
    data_offset = stream.tell()
    if isinstance(prepared.deflated, bytes):
        stream.write(prepared.deflated)
    elif isinstance(prepared.deflated, _Slice):
        with open(prepared.deflated.archive, "rb", buffering=0) as old:
            if _kernel_append(old, stream, prepared.compress_size, prepared.deflated.offset) != prepared.compress_size:
                raise ValueError(f"{prepared.deflated.archive}: shorter than its manifest says")
    else:
        copied_from = path if prepared.deflated is None else prepared.deflated
        with open(copied_from, "rb", buffering=0) as data:
            before = _state(os.fstat(data.fileno()))
            written = _kernel_append(data, stream, prepared.compress_size)
            after = _state(os.stat(copied_from))
        if prepared.deflated is not None:
            prepared.deflated.unlink()
        elif not (before == after == prepared.state and written == prepared.compress_size):
            # Stored: read a second time (by the kernel), so it must still be the file whose CRC was taken.
            raise BadInput(f"{name}: the file changed while it was being packaged; export again")
    # What ZipFile does when an entry it wrote closes: the central directory is written from these on close.
    archive.filelist.append(info)
    archive.NameToInfo[info.filename] = info
    archive.start_dir = stream.tell()
    archive._didModify = True
    # The manifest may vouch for this entry only if its file is still the one read (a deflated one is not re-read).
    unchanged = _state(os.stat(path)) == prepared.state
    return name, data_offset, prepared, prepared.state if unchanged else (-1, -1, -1)


def _state(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _kernel_append(source, target, size: int, start: int = 0) -> int:
    """Append ``size`` bytes of ``source`` from ``start`` at ``target``'s position, copied inside the kernel;
    the bytes copied."""
    target.flush()
    position = target.tell()
    total = 0
    try:
        while total < size:
            sent = os.copy_file_range(source.fileno(), target.fileno(), size - total, start + total, position + total)
            if sent == 0:
                break
            total += sent
    except (AttributeError, OSError):  # no copy_file_range here, or not between these file systems
        source.seek(start + total)
        while total < size and (chunk := source.read(min(_COPY_CHUNK, size - total))):
            os.pwrite(target.fileno(), chunk, position + total)
            total += len(chunk)
    target.seek(position + total)
    return total


_MANIFEST_FORMAT = 1
_MAX_MANIFEST_BYTES = 64 * 2**20


def _manifest_path(manifest_dir: Path, zip_path: Path) -> Path:
    return manifest_dir / f"{hashlib.sha256(os.fsencode(os.path.abspath(zip_path))).hexdigest()}.json"


def _reusable_entries(manifest_dir: Path, zip_path: Path) -> dict[str, list[int]]:
    """The entries of the archive at ``zip_path`` that its manifest describes, if it still describes it; else none.

    The manifest is someone else's file as far as this code knows: bounded strict JSON of a checked shape.
    """
    try:
        st = os.stat(zip_path)
        manifest = read_json_file(_manifest_path(manifest_dir, zip_path), limit=_MAX_MANIFEST_BYTES)
    except (OSError, UnsafeData):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != _MANIFEST_FORMAT:
        return {}
    if manifest.get("archive") != [os.path.abspath(zip_path), *_state(st)]:
        return {}  # replaced or rewritten since: its entries are not where the manifest says
    if manifest.get("zlib") != zlib.ZLIB_RUNTIME_VERSION:
        return {}  # another zlib may deflate differently: the bytes must not depend on what was reused
    entries = manifest.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {
        name: entry
        for name, entry in entries.items()
        if isinstance(entry, list) and len(entry) == 8 and all(type(n) is int and n >= 0 for n in entry)
    }


def _reused(name: str, entry: list[int] | None, path: Path, zip_path: Path) -> Future[_Prepared] | None:
    """The entry as it lies in the archive being replaced, when ``path`` is still the file it was made from."""
    if entry is None:
        return None
    size, mtime_ns, inode, executable, offset, crc, compress_size, stored = entry
    try:
        st = os.stat(path)
    except OSError:
        return None
    if _state(st) != (size, mtime_ns, inode) or bool(st.st_mode & 0o111) != bool(executable):
        return None
    deflated = _Slice(zip_path, offset, bool(stored))
    prepared = _Prepared(crc, size, bool(executable), deflated, compress_size, (size, mtime_ns, inode))
    # The manifest is not trusted to say where an entry is: the archive must hold this entry's header there.
    if not _header_is_at(zip_path, offset, _entry_header(name, ZIP_MIN_DATE_TIME, prepared)[1]):
        return None
    done: Future[_Prepared] = Future()
    done.set_result(prepared)
    return done


def _write_manifest(
    manifest_dir: Path, final: Path, zip_path: Path, written: list[tuple[str, int, _Prepared, tuple[int, int, int]]]
) -> None:
    entries = {}
    for name, data_offset, prepared, state in written:
        stored = prepared.deflated is None or (isinstance(prepared.deflated, _Slice) and prepared.deflated.stored)
        fields = [*state, int(prepared.executable), data_offset, prepared.crc, prepared.compress_size, int(stored)]
        entries[name] = fields
    try:
        manifest = {
            "format": _MANIFEST_FORMAT,
            "archive": [os.path.abspath(final), *_state(os.stat(zip_path))],  # a rename keeps size, mtime, inode
            "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "entries": entries,
        }
        manifest_dir.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(_manifest_path(manifest_dir, final), json.dumps(manifest).encode("utf-8"))
    except OSError:
        pass  # only an optimisation: the next export reads and deflates everything


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


def safe_extract(
    zip_path: Path, dest: Path, limits: ExtractionLimits = ExtractionLimits(), *, distinct_when_folded: bool = False
) -> list[str]:
    """Extract an untrusted archive under ``dest``; return the extracted files' relative paths.

    Before writing anything, refuses with a one-line ``BadInput`` naming the
    member and the reason: unsafe names (absolute, drive letter, ``..``, empty
    or ``.`` components, backslash, NUL, resolving outside ``dest``), links and
    special files, duplicate names (with ``distinct_when_folded``, also names
    that are one file where letter case and Unicode normalisation are ignored,
    casefold + NFC, as on macOS and Windows), a name used as both file and folder, existing files in the way, encryption,
    unsupported compression, a stored member whose two declared sizes differ, and
    archives over ``limits`` by their declared sizes. While extracting, a member
    that yields more bytes than it declares (so the bytes written never pass the
    total limit) or fewer, or corrupt data, is ``BadInput`` too; a failure to write is
    ``CannotRun``. On any error, everything this call created is removed.
    """
    archive = _open_archive(zip_path)
    with archive:
        members = _checked_members(archive, zip_path, dest, limits)
        if distinct_when_folded:
            _refuse_folded_clashes(members, zip_path)
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
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        # zipfile reads a stored member by its size alone: the other size is a lie it would never notice.
        declared = f"{info.compress_size} bytes compressed and {info.file_size} bytes"
        return f"lying size header: stored, yet declares {declared}"
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


def _refuse_folded_clashes(members: list[_Member], zip_path: Path) -> None:
    clashes = collisions(member.name.removesuffix("/") for member in members)
    if clashes:
        first, second = clashes[0]
        reason = f"the same name as {first!r} where letter case and Unicode normalisation are ignored (casefold + NFC)"
        raise _refusal(zip_path, second, reason)


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
    if written < declared:
        # zipfile stops at the end of the compressed data and checks the CRC of what it got, not the size.
        raise _refusal(zip_path, member.name, f"lying size header: yields {written} of its declared {declared} bytes")


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
