"""GakuNin RDM project packages (``.rdm-project-*.zip``, written by RDM's metadata add-on), both directions.

The format, as RDM writes it: ``ro-crate-metadata.json`` at the zip root, whose ``@context`` is exactly
``RDM_CONTEXT`` (the gakunin context is not published: its types are matched as strings, never
fetched); the payload at ``root/<addon>/<path>`` for the project and ``nodeN/<addon>/<path>`` for its
components; no directory entries. The graph holds the RO-Crate descriptor and ``./`` dataset, the project
``#root`` (``RDMProject``: name, description, category, keywords, creator, contributor, license, and its
components in ``hasPart``), one ``RDMAddon`` per storage (``#root-osfstorage``: ``name``, ``about`` the
project, ``hasPart``), ``RDMFolder`` entities (``./root/osfstorage/dir/``, ``name``, ``hasPart``) and
``File`` entities (``root/osfstorage/dir/x.csv``: ``name``, ``encodingFormat``, ``contentSize`` as a
string, dates, and whichever of md5/sha1/sha256/sha512 RDM stored).

RDM's importer uploads each zip entry by looking it up in the crate by its name and walking ``hasPart``
up through ``RDMFolder`` entities to an ``RDMAddon``, building the upload path from the ``name`` of each
step; it checks no checksum and fails on an entry it cannot place. ``read_rdm_project`` is the strict
side: every entry described and placed exactly once, the names along the way spelling the entry's own
path, every recorded checksum and size true (``check_rdm_zip`` refuses the directory entries an
extracted tree no longer shows). ``write_rdm_project`` writes what that importer accepts.

Restricted files of a package have no bytes, and RDM would try to upload every File it is given, so
``write_rdm_project`` leaves them out of the RDM zip altogether: the package's own metadata, copied into
the zip as ``root/<addon>/ro-crate-metadata.json``, still describes them for a replay.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from repropack.crate.formats import encoding_format
from repropack.crate.reader import OpenedPackage
from repropack.errors import BadInput, CannotRun
from repropack.fs.archive import write_deterministic_zip, zip_date_time
from repropack.fs.atomic import scratch_folder
from repropack.fs.walk import EntryKind, walk_tree
from repropack.model import Organization, Package, Person, layout

#: ``@context`` of an RDM project crate, exactly as RDM writes it (workflow-run without ``/context``).
RDM_CONTEXT = (
    "https://w3id.org/ro/crate/1.1/context",
    "https://w3id.org/ro/terms/workflow-run",
    "https://purl.org/gakunin-rdm/project/0.1",
)
GAKUNIN_CONTEXT = RDM_CONTEXT[2]
#: The checksums RDM may store for a file, each verified when present.
CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
ROOT_PROJECT = "#root"
METADATA = layout.METADATA

_DESCRIPTOR_TYPE = "CreativeWork"
_PROJECT, _ADDON, _FOLDER, _FILE = "RDMProject", "RDMAddon", "RDMFolder", "File"
# The wiki add-on records a page's length in characters, not bytes.
_WIKI_ADDON = "wiki"
_SPDX_PREFIX = "https://spdx.org/licenses/"
_ORCID_PREFIX = "https://orcid.org/"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Contextual entities (people, licences, organisations) may be named by these URLs; data entities by none.
_CONTEXT_SCHEMES = frozenset({"http", "https", "mailto", "urn"})
_CHUNK = 1 << 20
_SHOWN = 200  # characters of a hostile value a message shows


@dataclass(frozen=True)
class RdmFile:
    """One payload entry: its zip path (``root/osfstorage/...``), true size and sha256, and what RDM recorded."""

    path: str
    size: int
    sha256: str  # computed from the bytes, whether or not RDM recorded one
    encoding_format: str | None
    checksums: Mapping[str, str] = field(default_factory=dict, hash=False)  # as recorded (all verified), lower case


@dataclass(frozen=True)
class RdmProject:
    """What an RDM project crate says about the project; ``files`` sorted by path (the crate's own metadata
    file is not among them). ``creators``: the project's creator, then its other contributors."""

    title: str
    description: str
    keywords: tuple[str, ...]
    creators: tuple[Person, ...]
    license: str | None
    files: tuple[RdmFile, ...]


def is_rdm_project(metadata: dict) -> bool:
    """Whether ``metadata`` (a parsed ro-crate-metadata.json) claims to be an RDM project crate: its
    ``@context`` names the gakunin-rdm project context. ``read_rdm_project`` then decides if it is one."""
    context = metadata.get("@context") if isinstance(metadata, dict) else None
    return context == GAKUNIN_CONTEXT or (isinstance(context, list) and GAKUNIN_CONTEXT in context)


def check_rdm_zip(zip_path: Path) -> None:
    """Refuse an RDM project zip holding a directory entry (BadInput naming it).

    RDM writes none and its importer cannot look one up; an extracted folder no longer shows which
    folders had an entry, so call this on the zip itself (after ``fs.archive.safe_extract`` accepted it).
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [info.orig_filename for info in archive.infolist() if info.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        raise BadInput(f"not a valid zip archive: {zip_path}: {error}") from error
    if names:
        raise _refused("entry", names[0], "a directory entry: RDM project zips have none (folders are RDMFolder)")


def read_rdm_project(root: Path, metadata: dict) -> RdmProject:
    """Read and verify the RDM project crate extracted at ``root``, whose parsed metadata is ``metadata``.

    BadInput (one line naming the entry or @id and the rule) unless: the ``@context`` is ``RDM_CONTEXT``;
    no @id escapes the zip (``..``, absolute, a URL for a data entity, a scheme for any other); the
    descriptor and ``#root`` are there; every component is reached once from ``#root`` through
    ``hasPart``; every ``RDMAddon`` is ``about`` a reached project; every ``File`` and ``RDMFolder`` is
    in the ``hasPart`` of exactly one RDM entity, under an add-on, with names spelling its @id; every
    entry (bar the metadata) is such a File and every File an entry; no folder without an entry in it,
    no link or special file; every ``contentSize`` a decimal string equal to the size (for the wiki
    add-on, RDM's count of characters is accepted too) and every recorded checksum the bytes' own.
    """
    _check_context(metadata.get("@context") if isinstance(metadata, dict) else None)
    entities = _entities(metadata)
    _check_descriptor(entities)
    root_project = entities.get(ROOT_PROJECT)
    if root_project is None or _PROJECT not in _types(root_project):
        raise _refused("@id", ROOT_PROJECT, "missing: an RDM project crate describes its project as #root")
    title = _text_value(root_project.get("name"))
    if not title:
        raise _refused("@id", ROOT_PROJECT, "has no name")
    placed = _placed_files(entities, _projects(entities))
    on_disk = _payload_on_disk(root)
    _check_entries(entities, placed, on_disk)
    files = tuple(_verified(root, path, *placed[path]) for path in sorted(placed))
    return RdmProject(
        title=title,
        description=_text_value(root_project.get("description")) or "",
        keywords=_keywords(root_project.get("keywords")),
        creators=_creators(entities, root_project),
        license=_license(entities, root_project.get("license")),
        files=files,
    )


def write_rdm_project(package: OpenedPackage, out: Path, *, addon: str = "osfstorage", replace: bool = False) -> Path:
    """Write ``package`` as an RDM project zip at ``out`` (inside it, named ``.rdm-project-<date>.zip``
    after the publication date, when ``out`` is a folder); returns the zip's path.

    Every file the package holds (its ``.repropack/`` support files and its own metadata included) is
    at ``root/<addon>/<path>``, described as a File with name, encodingFormat, contentSize (a string),
    dateModified, sha256 and md5, in RDMFolders under ``#root-<addon>``; restricted files are left out
    (module docstring). Each file is checked against its recorded sha256 and size as it is copied
    (BadInput naming it). The bytes depend only on the package: dates, and the entries' timestamp, are
    its publication date. The zip appears whole or not at all; an existing one is BadInput unless
    ``replace``.
    """
    if _segment_problem(addon):
        raise BadInput(f"RDM add-on name {addon!r}: {_segment_problem(addon)}")
    model = package.package
    published = model.metadata.date_published
    if out.is_dir():
        out = out / f".rdm-project-{published.astimezone(timezone.utc):%Y%m%d-%H%M%S}.zip"
    if not replace and os.path.lexists(out):
        raise BadInput(f"{out}: already exists")
    try:
        _write_zip(package, out, addon)
    except OSError as error:
        raise CannotRun(f"{out}: cannot write the RDM project zip ({error.strerror or error})") from error
    return out


# --- reading: the graph ----------------------------------------------------------------------------------


def _refused(kind: str, name: object, rule: str) -> BadInput:
    # repr() keeps a hostile name (a newline, an escape) on the one line of the message; the cap keeps it short.
    shown = repr(name)
    return BadInput(f"RDM project {kind} {shown if len(shown) <= _SHOWN else shown[:_SHOWN] + '...'}: {rule}")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _types(entity: dict) -> set[str]:
    return {t for t in _as_list(entity.get("@type")) if isinstance(t, str)}


def _is_rdm(entity: dict) -> bool:
    return any(t.startswith("RDM") for t in _types(entity))


def _check_context(context: Any) -> None:
    if context != list(RDM_CONTEXT):
        raise _refused("@context", context, f"must be {list(RDM_CONTEXT)} (as RDM writes it)")


def _entities(metadata: dict) -> dict[str, dict]:
    """The graph's entities by @id: each a JSON object with a string @id, none twice, none escaping."""
    graph = metadata.get("@graph")
    if not isinstance(graph, list):
        raise _refused("@graph", type(graph).__name__, "must be a list of entities")
    part_ids = {
        ref["@id"]
        for entity in graph
        if isinstance(entity, dict)
        for ref in _as_list(entity.get("hasPart"))
        if isinstance(ref, dict) and isinstance(ref.get("@id"), str)
    }
    found: dict[str, dict] = {}
    for index, entity in enumerate(graph):
        identifier = entity.get("@id") if isinstance(entity, dict) else None
        if not isinstance(identifier, str):
            raise _refused("@graph item", index, "is not an object with a string @id")
        if identifier in found:
            raise _refused("@id", identifier, "appears twice in the graph")
        data = identifier in part_ids or bool(_types(entity) & {_FILE, _FOLDER, "Dataset"})
        problem = _id_problem(identifier, data=data)
        if problem:
            raise _refused("@id", identifier, problem)
        found[identifier] = entity
    for identifier in part_ids - found.keys():
        if problem := _id_problem(identifier, data=True):
            raise _refused("@id", identifier, problem)
    return found


def _id_problem(identifier: str, *, data: bool) -> str | None:
    """Why an @id escapes the zip, or None. A data entity's must be a relative path; any other's may be a
    fragment or an http(s)/mailto/urn URL as well."""
    if identifier.startswith("#"):
        return None
    if "\x00" in identifier or "\\" in identifier:
        return "escapes the zip (NUL or backslash)"
    scheme = _SCHEME.match(identifier)
    if scheme and (data or scheme.group(0)[:-1].lower() not in _CONTEXT_SCHEMES):
        return "escapes the zip (a URL, not a path inside it)"
    if scheme:
        return None
    decoded = unquote(identifier)
    if identifier.startswith("/") or decoded.startswith("/"):
        return "escapes the zip (an absolute path)"
    if ".." in decoded.split("/"):
        return "escapes the zip (a '..' segment)"
    return None


def _check_descriptor(entities: dict[str, dict]) -> None:
    # RDM's importer skips the metadata entry by its entity's type, and loads the crate through its descriptor.
    descriptor = entities.get(METADATA)
    if descriptor is None or _DESCRIPTOR_TYPE not in _types(descriptor):
        raise _refused("@id", METADATA, f"the RO-Crate descriptor (a {_DESCRIPTOR_TYPE}) is missing")
    if _ref(descriptor.get("about")) != "./" or "Dataset" not in _types(entities.get("./", {})):
        raise _refused("@id", METADATA, "must be about the root Dataset './'")


def _ref(value: Any) -> str | None:
    return value.get("@id") if isinstance(value, dict) and isinstance(value.get("@id"), str) else None


def _parts(entity: dict) -> list[str]:
    """The @ids in ``hasPart``; BadInput for an item that is not a reference."""
    parts = []
    for item in _as_list(entity.get("hasPart")):
        identifier = _ref(item)
        if identifier is None:
            raise _refused("@id", entity["@id"], "has a hasPart item that is not a reference ({'@id': ...})")
        parts.append(identifier)
    return parts


def _segment_problem(name: Any) -> str | None:
    """Why ``name`` cannot be one component of an upload path (RDM builds paths from names), or None."""
    if not isinstance(name, str) or not name:
        return "has no name"
    if "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        return f"name {name!r} is not a single path component"
    return None


def _projects(entities: dict[str, dict]) -> dict[str, str]:
    """Every project reached from #root through hasPart (each once), by @id -> its folder in the zip."""
    found = {ROOT_PROJECT: ROOT_PROJECT[1:]}
    queue = [ROOT_PROJECT]
    while queue:
        parent = queue.pop(0)
        for child in _parts(entities[parent]):
            entity = entities.get(child)
            if entity is None or _PROJECT not in _types(entity):
                raise _refused("@id", child, f"is in the hasPart of {parent} but is not an RDMProject in the crate")
            if child in found:
                raise _refused("@id", child, "is reached twice from #root (a project is a component once)")
            if not child.startswith("#") or _segment_problem(child[1:]):
                raise _refused("@id", child, "a component's @id must be '#' and one path component (#node1)")
            found[child] = child[1:]
            queue.append(child)
    return found


def _placed_files(entities: dict[str, dict], projects: dict[str, str]) -> dict[str, tuple[dict, str]]:
    """Every File under an RDMAddon of a reached project: zip path -> (entity, add-on name).

    Walks each add-on's hasPart down through RDMFolders, building each path from the names as RDM's
    importer does, and holds every step to the rules ``read_rdm_project`` lists.
    """
    claims: dict[str, list[str]] = {}  # what RDM's importer searches: an entity's RDM parents
    for entity in entities.values():
        if _is_rdm(entity):
            for part in dict.fromkeys(_parts(entity)):
                claims.setdefault(part, []).append(entity["@id"])
    placed: dict[str, tuple[dict, str]] = {}
    addons: set[tuple[str, str]] = set()
    for addon in (e for e in entities.values() if _ADDON in _types(e)):
        project = _ref(addon.get("about"))
        if project not in projects:
            raise _refused("@id", addon["@id"], "an RDMAddon must be about a project reached from #root")
        name = addon.get("name")
        if problem := _segment_problem(name):
            raise _refused("@id", addon["@id"], problem)
        if (project, name) in addons:
            raise _refused("@id", addon["@id"], f"a second RDMAddon {name!r} of {project}")
        addons.add((project, name))
        _place_parts(entities, claims, addon, f"{projects[project]}/{name}", name, placed)
    return placed


def _place_parts(
    entities: dict[str, dict],
    claims: dict[str, list[str]],
    container: dict,
    base: str,
    addon: str,
    placed: dict[str, tuple[dict, str]],
) -> None:
    stack = [(container, base)]
    seen: set[str] = set()
    while stack:
        parent, parent_path = stack.pop()
        for part in _parts(parent):
            if part in seen:  # its one parent lists it twice: RDM would upload it twice
                raise _refused("@id", part, f"is listed twice in the hasPart of {parent['@id']}")
            seen.add(part)
            entity = entities.get(part)
            if entity is None:
                raise _refused("@id", part, f"is in the hasPart of {parent['@id']} but not in the crate")
            kinds = _types(entity) & {_FILE, _FOLDER}
            if len(kinds) != 1:
                raise _refused("@id", part, f"is in the hasPart of {parent['@id']} but is not a File or an RDMFolder")
            parents = claims.get(part, [])
            if len(parents) != 1:
                raise _refused("@id", part, f"is in the hasPart of {len(parents)} RDM entities ({', '.join(parents)})")
            if problem := _segment_problem(entity.get("name")):
                raise _refused("@id", part, problem)
            path = f"{parent_path}/{entity['name']}"
            if _FOLDER in kinds:
                if not part.endswith("/") or path not in _paths_of(part.removesuffix("/")):
                    raise _refused("@id", part, f"its names place it at ./{path}/")
                stack.append((entity, path))
                continue
            if path not in _paths_of(part):
                raise _refused("@id", part, f"its names place it at {path}")
            if path in placed:
                raise _refused("entry", path, "described by two File entities")
            placed[path] = (entity, addon)


def _paths_of(identifier: str) -> set[str]:
    """The zip paths a data entity's @id may name: as written (RDM) or percent-decoded, './' or not."""
    plain = identifier.removeprefix("./")
    return {plain, unquote(plain)}


# --- reading: the entries ---------------------------------------------------------------------------------


def _payload_on_disk(root: Path) -> set[str]:
    """The extracted files bar the crate's metadata; BadInput for a link, a special file or an empty folder
    (which only a directory entry makes)."""
    files: set[str] = set()
    folders: set[str] = set()
    for entry in walk_tree(root):
        if entry.kind is EntryKind.FILE:
            files.add(entry.relpath)
        elif entry.kind is EntryKind.DIR:
            folders.add(entry.relpath)
        else:
            raise _refused("entry", entry.relpath, f"a {entry.kind.value}, not a regular file")
    filled = {path.rsplit("/", depth)[0] for path in files for depth in range(1, path.count("/") + 1)}
    empty = sorted(folders - filled)
    if empty:
        raise _refused("entry", f"{empty[0]}/", "a directory entry: RDM project zips have none (folders are RDMFolder)")
    if METADATA not in files:
        raise _refused("entry", METADATA, "missing at the zip root")
    return files - {METADATA}


def _check_entries(entities: dict[str, dict], placed: dict[str, tuple[dict, str]], on_disk: set[str]) -> None:
    missing = sorted(placed.keys() - on_disk)
    if missing:
        raise _refused("entry", missing[0], "described in ro-crate-metadata.json but not in the zip")
    described: set[str] = set()
    for entity in entities.values():
        if _FILE not in _types(entity):
            continue
        paths = _paths_of(entity["@id"])
        if not paths & on_disk:
            raise _refused("entry", entity["@id"], "described in ro-crate-metadata.json but not in the zip")
        described |= paths
    stray = sorted(on_disk - placed.keys())
    if stray and stray[0] in described:
        raise _refused("entry", stray[0], "described, but not reachable from #root through an RDMAddon's hasPart")
    if stray:
        raise _refused("entry", stray[0], "not described in ro-crate-metadata.json")


def _verified(root: Path, path: str, entity: dict, addon: str) -> RdmFile:
    recorded: dict[str, str] = {}
    for algorithm in CHECKSUM_ALGORITHMS:
        if algorithm in entity:
            value = entity[algorithm]
            if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]+", value):
                raise _refused("entry", path, f"{algorithm} {value!r} is not a string of hex digits")
            recorded[algorithm] = value.lower()
    size, digests, characters = _measure(root / path, recorded.keys(), count_characters=addon == _WIKI_ADDON)
    declared = entity.get("contentSize")
    if not isinstance(declared, str) or not declared.isdecimal() or not declared.isascii():
        raise _refused(
            "entry", path, f"contentSize {declared!r} is not a string of decimal digits (RDM writes str(size))"
        )
    if int(declared) != size and int(declared) != characters:
        raise _refused("entry", path, f"contentSize {declared} but the entry holds {size} bytes")
    for algorithm, value in recorded.items():
        if digests[algorithm] != value:
            raise _refused("entry", path, f"{algorithm} differs from the metadata's (tampered or damaged)")
    encoding = entity.get("encodingFormat")
    return RdmFile(path, size, digests["sha256"], encoding if isinstance(encoding, str) else None, recorded)


def _measure(
    path: Path, algorithms: Iterable[str], *, count_characters: bool
) -> tuple[int, dict[str, str], int | None]:
    """Size, digests (sha256 always) and, if asked and the bytes are UTF-8, the number of characters."""
    hashers = {name: hashlib.new(name) for name in {"sha256", *algorithms}}
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")() if count_characters else None
    characters: int | None = 0 if count_characters else None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
            characters = _count_characters(decoder, chunk, characters)
    characters = _count_characters(decoder, b"", characters, final=True)
    return size, {name: hasher.hexdigest() for name, hasher in hashers.items()}, characters


def _count_characters(decoder: Any, chunk: bytes, count: int | None, *, final: bool = False) -> int | None:
    """``count`` plus the characters ``chunk`` decodes to; None from the first byte that is not UTF-8 on."""
    if decoder is None or count is None:
        return None
    try:
        return count + len(decoder.decode(chunk, final))
    except UnicodeDecodeError:
        return None


# --- reading: the project's facts ----------------------------------------------------------------------------


def _text_value(value: Any) -> str | None:
    """A name or description: a string, a {"@value"} object, or a list of them (English preferred)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value["@value"] if isinstance(value.get("@value"), str) else None
    if isinstance(value, list):
        values = [v for v in value if _text_value(v) is not None]
        english = [v for v in values if isinstance(v, dict) and v.get("@language") == "en"]
        return _text_value((english or values or [None])[0])
    return None


def _keywords(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    return tuple(k for k in _as_list(value) if isinstance(k, str) and k)


def _creators(entities: dict[str, dict], project: dict) -> tuple[Person, ...]:
    references = [*_as_list(project.get("creator")), *_as_list(project.get("contributor"))]
    seen: list[str] = []
    for reference in references:
        identifier = _ref(reference)
        if identifier is None or "Person" not in _types(entities.get(identifier, {})):
            raise _refused("@id", ROOT_PROJECT, f"creator or contributor {reference!r} is not a Person in the crate")
        if identifier not in seen:
            seen.append(identifier)
    return tuple(_person(entities, entities[identifier]) for identifier in seen)


def _person(entities: dict[str, dict], entity: dict) -> Person:
    name = _text_value(entity.get("name"))
    if not name:
        raise _refused("@id", entity["@id"], "a Person without a name")
    identifier = entity["@id"] if entity["@id"].startswith(("https://", "http://")) else None
    for value in _as_list(entity.get("identifier")):
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            kind = str(value.get("propertyID", "")).lower()
            if kind == "orcid":
                identifier = _ORCID_PREFIX + value["value"].rstrip("/").rsplit("/", 1)[-1]
                break
            if kind == "url" and identifier is None:
                identifier = value["value"]
    email = entity.get("email") if isinstance(entity.get("email"), str) else None
    return Person(name, _organization(entities.get(_ref(entity.get("affiliation")) or "")), identifier, email)


def _organization(entity: dict | None) -> Organization | None:
    name = _text_value(entity.get("name")) if entity else None
    if entity is None or not name:
        return None
    url = entity.get("url") if isinstance(entity.get("url"), str) else None
    ror = entity["@id"] if entity["@id"].startswith("https://ror.org/") else None
    return Organization(name, url, ror)


def _license(entities: dict[str, dict], value: Any) -> str | None:
    if isinstance(value, str):
        return value.removeprefix(_SPDX_PREFIX) or None
    identifier = _ref(value)
    if identifier is None:
        return None
    entity = entities.get(identifier, {})
    if "RDMLicense" in _types(entity) or not identifier.startswith("#"):
        return identifier.removeprefix(_SPDX_PREFIX)
    return _text_value(entity.get("name"))


# --- writing ------------------------------------------------------------------------------------------------


def _write_zip(package: OpenedPackage, out: Path, addon: str) -> None:
    model = package.package
    with scratch_folder(out) as scratch:
        tree = scratch / "rdm"
        tree.mkdir()
        base = f"root/{addon}"
        files = [
            _copy_checked(
                package.root, record.path, tree / base / record.path, record.sha256, record.size, record.encoding_format
            )
            for record in model.files
            if not record.restricted
        ]
        files.append(_copy_checked(package.root, METADATA, tree / base / METADATA, None, None, "application/ld+json"))
        graph = _rdm_graph(model, sorted(files, key=lambda f: f.path), addon)
        (tree / METADATA).write_bytes(_json_bytes({"@context": list(RDM_CONTEXT), "@graph": graph}))
        published = int(model.metadata.date_published.timestamp())
        write_deterministic_zip(tree, out, date_time=zip_date_time(published))


@dataclass(frozen=True)
class _Staged:
    path: str  # the package path
    size: int
    sha256: str
    md5: str
    encoding_format: str


def _copy_checked(
    root: Path, path: str, target: Path, sha256: str | None, size: int | None, encoding: str | None
) -> _Staged:
    """Copy package file ``path`` to ``target`` while hashing it; BadInput if it is not what was recorded."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sha, md5, copied = hashlib.sha256(), hashlib.md5(), 0
    try:
        fd = os.open(root / path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise BadInput(f"package file {path!r}: cannot be read ({error.strerror})") from None
    with os.fdopen(fd, "rb") as source, open(target, "xb") as copy:
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            sha.update(chunk)
            md5.update(chunk)
            copy.write(chunk)
    if (sha256 is not None and sha.hexdigest() != sha256) or (size is not None and copied != size):
        raise BadInput(f"package file {path!r}: differs from its recorded sha256 or size")
    return _Staged(path, copied, sha.hexdigest(), md5.hexdigest(), encoding or encoding_format(path))


def _folders(paths: Iterable[str], empty: Iterable[str]) -> list[str]:
    """Every folder holding one of ``paths``, and each of ``empty`` with its parents, sorted."""
    found: set[str] = set()
    for path in [*(p.rsplit("/", 1)[0] for p in paths if "/" in p), *empty]:
        if not layout.is_safe_package_path(path):
            raise BadInput(f"package folder {path!r}: not a path inside the package")
        parts = path.strip("/").split("/")
        found.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return sorted(found)


def _rdm_graph(model: Package, files: list[_Staged], addon: str) -> list[dict]:
    meta = model.metadata
    date = meta.date_published.isoformat()
    base = f"root/{addon}"
    folders = _folders((f.path for f in files), model.empty_folders)

    def folder_id(folder: str) -> str:
        return f"./{base}/{folder}/"

    def children(parent: str) -> list[dict]:
        inside = [f for f in folders if f.rpartition("/")[0] == parent]
        loose = [f.path for f in files if f.path.rpartition("/")[0] == parent]
        return [{"@id": folder_id(f)} for f in inside] + [{"@id": f"{base}/{p}"} for p in loose]

    people, organizations = _people(meta.authors)
    license_ref = {"license": {"@id": meta.license}} if meta.license else {}
    graph: list[dict] = [
        {
            "@id": METADATA,
            "@type": _DESCRIPTOR_TYPE,
            "about": {"@id": "./"},
            "conformsTo": {"@id": "https://w3id.org/ro/crate/1.1"},
        },
        {
            "@id": "./",
            "@type": "Dataset",
            "name": meta.title,
            "description": meta.description,
            "datePublished": date,
            **license_ref,
            "hasPart": [{"@id": f"{base}/{f.path}"} for f in files] + [{"@id": folder_id(f)} for f in folders],
        },
        {
            "@id": ROOT_PROJECT,
            "@type": _PROJECT,
            "about": {"@id": "./"},
            "name": meta.title,
            "description": meta.description,
            "category": "project",
            "dateCreated": date,
            "dateModified": date,
            **({"creator": {"@id": people[0]["@id"]}} if people else {}),
            "contributor": [{"@id": p["@id"]} for p in people],
            "keywords": list(meta.keywords),
            **license_ref,
            "hasPart": [],
        },
        {
            "@id": f"{ROOT_PROJECT}-{addon}",
            "@type": _ADDON,
            "name": addon,
            "about": {"@id": ROOT_PROJECT},
            "hasPart": children(""),
        },
    ]
    if meta.license:
        url = {"url": f"{_SPDX_PREFIX}{meta.license}"} if re.fullmatch(r"[A-Za-z0-9.+-]+", meta.license) else {}
        graph.append({"@id": meta.license, "@type": "RDMLicense", "name": meta.license, **url})
    for folder in folders:
        graph.append(
            {
                "@id": folder_id(folder),
                "@type": _FOLDER,
                "name": folder.rpartition("/")[2],
                "hasPart": children(folder),
            }
        )
    for staged in files:
        graph.append(
            {
                "@id": f"{base}/{staged.path}",
                "@type": _FILE,
                "name": staged.path.rpartition("/")[2],
                "encodingFormat": staged.encoding_format,
                "contentSize": str(staged.size),
                "dateCreated": date,
                "dateModified": date,
                "sha256": staged.sha256,
                "md5": staged.md5,
            }
        )
    return graph + people + organizations


def _people(authors: Iterable[Person]) -> tuple[list[dict], list[dict]]:
    """Person entities (#creator0...) as RDM writes them, and the Organizations they belong to."""
    people: list[dict] = []
    organizations: dict[str, dict] = {}
    for number, author in enumerate(authors):
        person: dict[str, Any] = {"@id": f"#creator{number}", "@type": "Person", "name": author.name}
        if author.identifier:
            kind = "orcid" if author.identifier.startswith(_ORCID_PREFIX) else "url"
            person["identifier"] = [{"@type": "PropertyValue", "propertyID": kind, "value": author.identifier}]
        if author.email:
            person["email"] = author.email
        if author.affiliation:
            org = author.affiliation
            org_id = org.ror or f"#{org.name}"
            person["affiliation"] = {"@id": org_id}
            organizations.setdefault(
                org_id,
                {
                    "@id": org_id,
                    "@type": "Organization",
                    "name": [{"@language": "en", "@value": org.name}],
                    **({"url": org.url} if org.url else {}),
                },
            )
        people.append(person)
    return people, list(organizations.values())


def _json_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
