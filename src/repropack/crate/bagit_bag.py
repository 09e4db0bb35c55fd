"""BagIt bags (RFC 8493) of repropack packages, both directions, in two layouts.

``rocrate`` follows the RO-Crate 1.2 BagIt convention ("Adding RO-Crate to BagIt", implementation
notes): the whole package is the payload ``data/`` (so ``data/ro-crate-metadata.json`` is the RO-Crate
Metadata File), ``manifest-sha512.txt`` lists every payload file, ``tagmanifest-sha512.txt`` every tag
file, ``bag-info.txt`` carries ``External-Identifier``, ``Bagging-Date``, ``Bag-Software-Agent`` and
``Payload-Oxum``, and ``bagit.txt`` declares BagIt 1.0 in UTF-8.

``weko`` is WEKO3's "RO-Crate+BagIt" import layout (RCOSDP/weko-document, spec ADMIN_2_5): the same
bag with sha256 manifests, plus an ``ro-crate-metadata.json`` at the bag ROOT beside ``data/`` whose data
entities are ``data/<path>``. That root file is ``weko_metadata(package metadata)``: every File or Dataset
whose @id is a path in the package, and every ``{"@id": ...}`` naming one, gains the ``data/`` prefix;
nothing else changes. The package's own ``ro-crate-metadata.json`` is KEPT inside ``data/`` too, byte for
byte, so ``data/`` of either layout is exactly the original package: the bag adds files around it and
never re-serialises what the package's hashes and the repository's content digest are computed over
(rebuilding the original metadata from the rewritten copy would have to reproduce its bytes exactly).
WEKO sees that inner copy as one more file of the item; it is described nowhere in the root metadata.

``open_bag`` (a folder: a zip is extracted first with ``fs.archive.safe_extract``, and the folder
holding ``bagit.txt`` passed) checks, before the ``bagit`` library reads anything and in this order:
no symlink, FIFO, device or unlistable folder anywhere in the bag (none is ever followed or opened);
``bagit.txt`` (BagIt-Version 0.97 or 1.0, UTF-8, nothing else); no ``fetch.txt``; ``bag-info.txt`` well
formed; every line of every ``manifest-<alg>.txt`` / ``tagmanifest-<alg>.txt`` (a known algorithm, a hex
checksum of its length, a normalised relative path that stays in the bag, under ``data/`` for payload
manifests and outside it for tag manifests, listed once, present as a regular file); at least one
sha256 or sha512 payload manifest; every payload file in every payload manifest; every payload manifest
in every tag manifest (other tag files need not be listed); ``Payload-Oxum``. Then
``bagit.Bag(...).validate(fast=False)`` recomputes every checksum. Last, the package: ``data/`` must hold
an ``ro-crate-metadata.json``, and a root ``ro-crate-metadata.json`` (the weko layout) must be exactly
``weko_metadata`` of it, compared as JSON, so what WEKO shows is what the repository imports. Whether the
package's files match its own metadata is left to ``crate.check.check_files`` on ``crate_root``. Names the manifests cannot carry the same way in every BagIt tool (a ``%``, a control or
line-separator character, a leading ``*`` or ``~``) are refused rather than guessed. Every refusal is a
BadInput of one line: ``<bag>: <file>: <rule>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import bagit

from repropack import __version__
from repropack.config import OpeningLimits
from repropack.crate.reader import open_package
from repropack.errors import BadInput
from repropack.fs.atomic import staged_folder
from repropack.fs.bounded import DEFAULT_MAX_DEPTH, UnsafeData, read_json_file, read_regular_file
from repropack.fs.walk import EntryKind, walk_tree
from repropack.model import layout as package_layout

# The library logs every mismatch it finds; our BadInput says it once, and nothing reaches stdout.
logging.getLogger("bagit").addHandler(logging.NullHandler())
logging.getLogger("bagit").propagate = False

BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
FETCH_TXT = "fetch.txt"
PAYLOAD = "data"
METADATA = package_layout.METADATA
INNER_METADATA = f"{PAYLOAD}/{METADATA}"

#: Layout -> the one checksum algorithm its manifests use.
LAYOUTS = {"rocrate": "sha512", "weko": "sha256"}

_HEX_LENGTH = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_STRONG = ("sha256", "sha512")  # md5 and sha1 alone cannot vouch for a payload
_VERSIONS = ("0.97", "1.0")  # 0.96 and older have no tag manifests the library checks
_MAX_TAG_BYTES = 2**20  # bagit.txt and bag-info.txt
_MANIFEST_NAME = re.compile(r"(tag)?manifest-([a-z0-9]+)\.txt")
_MANIFEST_LINE = re.compile(r"([0-9A-Fa-f]+)[ \t]+(.+)")
_TAG_LINE = re.compile(r"([^\s:][^:]*?)[ \t]*:[ \t]*(.*)")
# Characters that split a line for some reader (str.splitlines, codecs) or that BagIt tools decode
# differently (RFC 8493 percent-encodes %, CR and LF; bagit.py decodes only %0A and %0D): never in a manifest.
_CONTROL_CHAR = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_UNSAFE_CHAR = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029%\\]")
_CHUNK = 2**20


@dataclass(frozen=True)
class BagContents:
    """What ``open_bag`` found: a valid bag holding a repropack package.

    ``crate_root`` is the bag's ``data/`` folder, which holds the original package exactly (its
    ``ro-crate-metadata.json`` and files, hash-equal), to be opened with ``crate.reader.open_package``.
    """

    layout: str  # "rocrate" | "weko"
    crate_root: Path
    external_identifier: str | None  # bag-info.txt's External-Identifier, when it has one


@dataclass(frozen=True)
class _Manifest:
    name: str  # "manifest-sha512.txt"
    algorithm: str
    is_tag: bool
    entries: frozenset[str]


def is_bag(root: Path) -> bool:
    """True when ``root`` is a real folder (not a symlink) holding a regular ``bagit.txt``."""
    try:
        return stat.S_ISDIR(os.lstat(root).st_mode) and stat.S_ISREG(os.lstat(root / BAGIT_TXT).st_mode)
    except OSError:
        return False


def open_bag(root: Path, *, limits: OpeningLimits | None = None) -> BagContents:
    """Validate the bag at ``root`` (see the module docstring for every rule) and say where its package is.

    Reads only regular files inside ``root`` and writes nothing. BadInput (one line naming the bag, the
    file and the rule) for any bag that is malformed, incomplete, tampered or not a repropack package
    in one of the two layouts. ``limits.max_metadata_bytes`` bounds each manifest and metadata file.
    """
    limits = limits or OpeningLimits()
    files = _regular_files(root)
    _check_declaration(root)
    if FETCH_TXT in files:
        raise _refusal(root, FETCH_TXT, "a bag that fetches files is not accepted (every file must be in the bag)")
    info = _read_bag_info(root) if BAG_INFO in files else {}
    manifests = _read_manifests(root, files, limits)
    _check_coverage(root, files, manifests)
    _check_oxum(root, files, info)
    _validate_with_library(root)
    found_layout = _layout(root, files, limits)
    identifiers = info.get("External-Identifier", [])
    return BagContents(found_layout, root / PAYLOAD, identifiers[0] if identifiers else None)


def write_bag(
    package_root: Path,
    out: Path,
    *,
    layout: str = "rocrate",
    external_identifier: str | None,
    bagging_date: date | None = None,
) -> Path:
    """Write the package at ``package_root`` (folder or zip) as a new bag folder ``out``; return ``out``.

    ``layout`` is "rocrate" or "weko" (module docstring). ``external_identifier`` goes to bag-info.txt's
    External-Identifier; None gives ``urn:uuid:`` + a UUID derived from the metadata's sha256, so the
    same package always gets the same one. ``Bagging-Date`` is ``bagging_date`` or the date part of the
    package's ``datePublished``. Same package, same arguments: same bytes in every file. The bag is built
    beside ``out`` and renamed into place only once ``open_bag`` (and so the ``bagit`` library) accepts
    it (missing parent folders are made). The files are not checked against the package's metadata here
    (``crate.check.check_files`` does that). BadInput when ``out`` exists, for an unknown layout, for a package holding a symlink or special
    file or a name a manifest cannot carry, or for an identifier with a control character.
    """
    if layout not in LAYOUTS:
        raise BadInput(f"{out}: unknown bag layout {layout!r} (known: {', '.join(LAYOUTS)})")
    algorithm = LAYOUTS[layout]
    with open_package(package_root) as opened:
        identifier = external_identifier or _derived_identifier(opened.metadata_sha256)
        if _CONTROL_CHAR.search(identifier) or identifier != identifier.strip():
            raise BadInput(f"{out}: External-Identifier {identifier!r} has a control character or spaces around it")
        when = bagging_date or _published_date(opened.metadata, package_root)
        folders, paths = _package_tree(opened.root, package_root)
        exists = f"{out}: already exists; give a new folder for the bag"
        with staged_folder(out, parents=True, exists_message=exists) as stage:
            payload = stage / PAYLOAD
            payload.mkdir()
            for folder in folders:
                (payload / folder).mkdir()
            copied = [(path, *_copy_hashing(opened.root / path, payload / path, algorithm)) for path in paths]
            lines = [f"{digest}  {PAYLOAD}/{path}\n" for path, digest, _ in sorted(copied)]
            tag_files = {
                BAGIT_TXT: "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
                BAG_INFO: (
                    f"External-Identifier: {identifier}\n"
                    f"Bagging-Date: {when.isoformat()}\n"
                    f"Bag-Software-Agent: repropack {__version__}\n"
                    f"Payload-Oxum: {sum(size for _, _, size in copied)}.{len(copied)}\n"
                ),
                f"manifest-{algorithm}.txt": "".join(lines),
            }
            if layout == "weko":
                tag_files[METADATA] = json.dumps(weko_metadata(opened.metadata), indent=2, ensure_ascii=False) + "\n"
            for name, text in tag_files.items():
                (stage / name).write_bytes(text.encode("utf-8"))
            tag_lines = [
                f"{hashlib.new(algorithm, text.encode('utf-8')).hexdigest()}  {name}\n"
                for name, text in sorted(tag_files.items())
            ]
            (stage / f"tagmanifest-{algorithm}.txt").write_bytes("".join(tag_lines).encode("utf-8"))
            open_bag(stage)  # the bagit library re-reads every file it will be judged by
    return out


def weko_metadata(metadata: dict) -> dict:
    """The package's metadata as WEKO reads it at the bag root: every File or Dataset whose @id is a path
    in the package (not ``./``, a ``#fragment``, a blank node or a URL), and every ``{"@id": ...}`` that
    names one, prefixed with ``data/``. Everything else is kept as it is."""
    moved = {
        entity["@id"]
        for entity in metadata.get("@graph", [])
        if isinstance(entity, dict) and _is_local_data_entity(entity)
    }

    def rewritten(value: Any) -> Any:
        if isinstance(value, list):
            return [rewritten(item) for item in value]
        if isinstance(value, dict):
            return {
                key: f"{PAYLOAD}/{item}" if key == "@id" and item in moved else rewritten(item)
                for key, item in value.items()
            }
        return value

    return rewritten(metadata)


# --- reading --------------------------------------------------------------------------------------


def _refusal(root: Path, what: str, rule: str) -> BadInput:
    return BadInput(f"{root}: {what}: {rule}")


def _regular_files(root: Path) -> dict[str, int]:
    """Every regular file under ``root`` -> its size; BadInput for anything a reader could be led astray by."""
    try:
        mode = os.lstat(root).st_mode
    except OSError as exc:
        raise BadInput(f"{root}: no such bag ({exc.strerror})") from None
    if not stat.S_ISDIR(mode):
        raise BadInput(f"{root}: not a bag folder ({'a symlink' if stat.S_ISLNK(mode) else 'not a folder'})")
    unlistable: list[Path] = []
    files: dict[str, int] = {}
    folders: set[str] = set()
    for entry in walk_tree(root, on_error=lambda path, error: unlistable.append(path)):
        if entry.kind is EntryKind.SYMLINK:
            raise _refusal(root, entry.relpath, "symlink in the bag (links are never followed)")
        if entry.kind is EntryKind.OTHER:
            raise _refusal(root, entry.relpath, "not a regular file or folder (FIFO, socket or device)")
        if entry.kind is EntryKind.DIR:
            folders.add(entry.relpath)
        else:
            files[entry.relpath] = os.lstat(entry.path).st_size
    if unlistable:
        shown = unlistable[0].relative_to(root).as_posix() if unlistable[0] != root else "."
        raise _refusal(root, shown, "folder in the bag cannot be listed")
    if PAYLOAD not in folders:
        raise _refusal(root, PAYLOAD, "the payload folder data/ is missing")
    return files


def _tag_text(root: Path, name: str, limit: int) -> str:
    try:
        data = read_regular_file(root / name, limit=limit, what=name)
    except UnsafeData as exc:
        raise BadInput(f"{root}: {exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        raise _refusal(root, name, "starts with a byte-order mark (BagIt forbids it)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refusal(root, name, f"not UTF-8 (byte {exc.start})") from None


def _lines(text: str) -> list[str]:
    """Lines as RFC 8493 ends them (LF, CR or CRLF); a final line ending adds no empty line."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _tags(root: Path, name: str) -> dict[str, list[str]]:
    """A tag file's labels -> values in order (RFC 8493 2.2.2: ``Label: value``, continuation lines indented)."""
    tags: dict[str, list[str]] = {}
    last: str | None = None
    for number, line in enumerate(_lines(_tag_text(root, name, _MAX_TAG_BYTES)), start=1):
        if line[:1] in (" ", "\t") and last is not None:
            tags[last][-1] += " " + line.strip()
            continue
        match = _TAG_LINE.fullmatch(line)
        if not match:
            raise _refusal(root, f"{name} line {number}", "not 'Label: value'")
        last = match.group(1)
        tags.setdefault(last, []).append(match.group(2).strip())
    return tags


def _check_declaration(root: Path) -> None:
    """bagit.txt: exactly BagIt-Version (a supported MAJOR.MINOR) and Tag-File-Character-Encoding UTF-8."""
    if not os.path.lexists(root / BAGIT_TXT):
        raise _refusal(root, BAGIT_TXT, "missing (not a bag)")
    tags = _tags(root, BAGIT_TXT)
    if sorted(tags) != ["BagIt-Version", "Tag-File-Character-Encoding"] or any(len(v) != 1 for v in tags.values()):
        raise _refusal(
            root, BAGIT_TXT, "must hold BagIt-Version and Tag-File-Character-Encoding once each, nothing else"
        )
    version = tags["BagIt-Version"][0]
    if not re.fullmatch(r"\d+\.\d+", version):
        raise _refusal(root, BAGIT_TXT, f"BagIt-Version {version!r} is not MAJOR.MINOR")
    if version not in _VERSIONS:
        raise _refusal(root, BAGIT_TXT, f"BagIt-Version {version} is not read (only {' or '.join(_VERSIONS)})")
    encoding = tags["Tag-File-Character-Encoding"][0]
    if encoding.upper() not in ("UTF-8", "UTF8"):
        raise _refusal(root, BAGIT_TXT, f"Tag-File-Character-Encoding {encoding!r} is not read (only UTF-8)")


def _read_bag_info(root: Path) -> dict[str, list[str]]:
    info = _tags(root, BAG_INFO)
    for label in ("Payload-Oxum", "External-Identifier", "Bagging-Date"):
        if len(info.get(label, [])) > 1:
            raise _refusal(root, BAG_INFO, f"{label} is given {len(info[label])} times")
    return info


def _entry_problem(path: str, is_tag: bool) -> str | None:
    """Why a manifest may not list ``path``, or None."""
    if _UNSAFE_CHAR.search(path):
        return "has a %, a backslash or a control character (BagIt tools read such names differently)"
    if path.startswith(("/", "~", "*")) or re.match(r"[A-Za-z]:", path):
        return "is absolute or starts with ~ or * (it must be relative to the bag)"
    parts = path.split("/")
    if ".." in parts:
        return "escapes the bag (..)"
    if any(part in ("", ".") or part != part.strip() for part in parts):
        return "is not a normalised relative path (empty or '.' part, or spaces around a name)"
    if is_tag:
        if parts[0] == PAYLOAD:
            return "is a payload file (a tag manifest lists tag files only)"
        if _MANIFEST_NAME.fullmatch(path) and path.startswith("tag"):
            return "is a tag manifest (a tag manifest cannot vouch for one)"
    elif parts[0] != PAYLOAD or len(parts) < 2:
        return "is not under data/ (a payload manifest lists payload files only)"
    return None


def _read_manifests(root: Path, files: dict[str, int], limits: OpeningLimits) -> list[_Manifest]:
    manifests = []
    for name in sorted(n for n in files if "/" not in n and re.match(r"(tag)?manifest-", n)):
        match = _MANIFEST_NAME.fullmatch(name)
        if not match or match.group(2) not in _HEX_LENGTH:
            raise _refusal(root, name, f"not a manifest of a known checksum algorithm ({', '.join(_HEX_LENGTH)})")
        is_tag, algorithm = bool(match.group(1)), match.group(2)
        entries: set[str] = set()
        for number, line in enumerate(_lines(_tag_text(root, name, limits.max_metadata_bytes)), start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            parsed = _MANIFEST_LINE.fullmatch(line)
            if not parsed:
                raise _refusal(root, where, "not '<hex checksum> <path>'")
            checksum, path = parsed.groups()
            if len(checksum) != _HEX_LENGTH[algorithm]:
                raise _refusal(root, where, f"checksum is not {_HEX_LENGTH[algorithm]} hex digits ({algorithm})")
            problem = _entry_problem(path, is_tag)
            if problem:
                raise _refusal(root, where, f"{path!r} {problem}")
            if path in entries:
                raise _refusal(root, where, f"{path} is listed twice")
            if path not in files:
                raise _refusal(root, where, f"{path} is listed but not a file in the bag")
            entries.add(path)
        manifests.append(_Manifest(name, algorithm, is_tag, frozenset(entries)))
    payload = [m for m in manifests if not m.is_tag]
    if not any(m.algorithm in _STRONG for m in payload):
        raise _refusal(root, "manifest-sha512.txt", "missing: a bag needs a sha256 or sha512 payload manifest")
    return manifests


def _check_coverage(root: Path, files: dict[str, int], manifests: list[_Manifest]) -> None:
    """Every payload file in every payload manifest; every payload manifest in every tag manifest."""
    payload_files = sorted(path for path in files if path.startswith(f"{PAYLOAD}/"))
    payload_manifests = [m for m in manifests if not m.is_tag]
    for manifest in payload_manifests:
        for path in payload_files:
            if path not in manifest.entries:
                raise _refusal(root, path, f"payload file not listed in {manifest.name}")
    for tag_manifest in (m for m in manifests if m.is_tag):
        for manifest in payload_manifests:
            if manifest.name not in tag_manifest.entries:
                raise _refusal(root, manifest.name, f"not listed in {tag_manifest.name} (it would vouch for nothing)")


def _check_oxum(root: Path, files: dict[str, int], info: dict[str, list[str]]) -> None:
    if "Payload-Oxum" not in info:
        return
    oxum = info["Payload-Oxum"][0]
    match = re.fullmatch(r"(\d+)\.(\d+)", oxum)
    if not match:
        raise _refusal(root, BAG_INFO, f"Payload-Oxum {oxum!r} is not <bytes>.<files>")
    sizes = [size for path, size in files.items() if path.startswith(f"{PAYLOAD}/")]
    if (int(match.group(1)), int(match.group(2))) != (sum(sizes), len(sizes)):
        raise _refusal(root, BAG_INFO, f"Payload-Oxum {oxum} but data/ holds {sum(sizes)} bytes in {len(sizes)} files")


def _validate_with_library(root: Path) -> None:
    """The bagit library's own full validation: every checksum of every manifest recomputed."""
    try:
        bagit.Bag(str(root)).validate(processes=1, fast=False)
    except bagit.BagValidationError as exc:
        for detail in exc.details or []:
            if isinstance(detail, bagit.ChecksumMismatch):
                kind = "" if detail.path.startswith(f"{PAYLOAD}/") else "tag"
                raise _refusal(
                    root, detail.path, f"{detail.algorithm} differs from {kind}manifest-{detail.algorithm}.txt"
                ) from None
            if isinstance(detail, bagit.ManifestErrorDetail):
                raise _refusal(root, detail.path, f"bagit: {detail}") from None
        raise BadInput(f"{root}: bagit: {exc}") from None
    except (bagit.BagError, OSError, UnicodeError, ValueError) as exc:
        raise BadInput(f"{root}: bagit: {exc}") from None


def _layout(root: Path, files: dict[str, int], limits: OpeningLimits) -> str:
    """ "weko" when ro-crate-metadata.json sits at the bag root (and matches data/'s), else "rocrate"."""
    if INNER_METADATA not in files:
        raise _refusal(root, INNER_METADATA, "missing: data/ is not a repropack package")
    if METADATA not in files:
        return "rocrate"
    outer, inner = (_metadata(root, name, limits) for name in (METADATA, INNER_METADATA))
    if outer != weko_metadata(inner):
        raise _refusal(root, METADATA, f"is not {INNER_METADATA} with data/ paths (the WEKO layout's root metadata)")
    return "weko"


def _metadata(root: Path, name: str, limits: OpeningLimits) -> dict:
    try:
        data = read_json_file(
            root / name,
            limit=limits.max_metadata_bytes,
            max_depth=DEFAULT_MAX_DEPTH,
            max_values=limits.max_metadata_values,
            what=name,
        )
    except UnsafeData as exc:
        raise BadInput(f"{root}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("@graph"), list):
        raise _refusal(root, name, "has no @graph list")
    return data


# --- writing --------------------------------------------------------------------------------------


def _is_local_data_entity(entity: dict) -> bool:
    entity_id, types = entity.get("@id"), entity.get("@type")
    types = types if isinstance(types, list) else [types]
    if not isinstance(entity_id, str) or not {"File", "Dataset"} & {t for t in types if isinstance(t, str)}:
        return False
    if entity_id in ("./", "") or entity_id.startswith(("#", "_:", "/")):
        return False
    return not urlsplit(entity_id).scheme


def _derived_identifier(metadata_sha256: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:repropack:metadata:sha256:{metadata_sha256}')}"


def _published_date(metadata: dict, package_root: Path) -> date:
    root = next((e for e in metadata["@graph"] if isinstance(e, dict) and e.get("@id") == "./"), {})
    published = root.get("datePublished")
    try:
        if isinstance(published, str):
            return datetime.fromisoformat(published).date()
    except ValueError:
        pass
    raise BadInput(f"{package_root}: {METADATA} has no datePublished for the bag's Bagging-Date; give one")


def _package_tree(root: Path, shown: Path) -> tuple[list[str], list[str]]:
    """The folders and regular files of the package, sorted; BadInput for what a bag cannot carry."""
    folders, paths = [], []
    for entry in walk_tree(root):
        if entry.kind is EntryKind.DIR:
            folders.append(entry.relpath)
            continue
        if entry.kind is not EntryKind.FILE:
            raise BadInput(f"{shown}: {entry.relpath}: {entry.kind.value} in the package (a bag holds regular files)")
        problem = _entry_problem(f"{PAYLOAD}/{entry.relpath}", is_tag=False)
        try:
            entry.relpath.encode("utf-8")
        except UnicodeEncodeError:
            problem = "is not UTF-8"
        if problem:
            raise BadInput(f"{shown}: {PurePosixPath(entry.relpath)}: the name {problem}")
        paths.append(entry.relpath)
    return folders, paths


def _copy_hashing(source: Path, destination: Path, algorithm: str) -> tuple[str, int]:
    """Copy one regular file (never through a symlink) and return its checksum and size.

    The copy is 0644, or 0755 when the source is executable by anyone, as in a package zip.
    """
    digest, size = hashlib.new(algorithm), 0
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as reader, open(destination, "xb") as writer:
        executable = os.fstat(reader.fileno()).st_mode & 0o111
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        os.fchmod(writer.fileno(), 0o755 if executable else 0o644)
    return digest.hexdigest(), size
