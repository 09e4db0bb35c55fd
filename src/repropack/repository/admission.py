"""Admission: open an untrusted package, refuse what is hostile, validate the rest, say what the catalog indexes.

``admit`` extracts a zip into a temp folder of its own (``fs.stale.owned_temp_dir``, outside any
repository), reads a folder in place, and writes nowhere else. In this order, each refusal one line naming the package, the entry and the rule:

1. hostile input, ``BadInput`` (exit 2): a zip that ``fs.archive.safe_extract`` refuses (unsafe or
   case-colliding names, links, special files, too many members, bombs, lying size headers); a
   governed-run record given as a package (a folder, or a zip of one); in a folder, a symlink, a hardlink (a regular file with more than
   one link), a FIFO or device, names that collide by case or normalisation, too many entries, a file or
   a total past the policy's sizes; metadata too large, too deep or not JSON (``crate.reader``); an
   ``@id`` escaping the root (``file:``, ``/abs``, ``..``); a nested archive unless the policy allows them;
   a file described but absent, present but undescribed, or tampered (``crate.check.check_files``);
   a bag or RDM project that is not intact (``crate.bagit_bag``, ``crate.rdm_project``);
2. an intact package that fails validation, ``CheckFailed`` (exit 1): our JSON Schema, a REQUIRED
   roc-validator issue (unless the policy's ``profiles`` is "off"), the policy's rules.

Between the two, with every file verified, the content digest is known: when the caller's ``is_known``
says the repository holds that content already, step 2 is skipped (it was passed when the content was
admitted first, and nothing will be stored) and ``Admitted.known`` is True. ``is_known`` is asked only
after every hostile refusal, so a caller may open its catalog in it.

The format is read from the content: a BagIt bag (``bagit.txt``; the crate inside is admitted, format
"bagit" or "weko"), a GakuNin RDM project (its ``@context``; format "rdm": its checksums and entries are
``crate.rdm_project``'s to verify, our schema and the run-crate profiles do not apply), else a repropack
package. A folder is admitted in place (``Admitted.root`` is the caller's folder): whoever stores its files
must hash what it copies (``Store.put`` does), as the folder may change after admission.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from repropack.config import OpeningLimits
from repropack.crate.bagit_bag import is_bag, open_bag
from repropack.crate.check import check_files, check_parameters, check_schema, profile_findings
from repropack.crate.rdm_project import check_rdm_zip, is_rdm_project, read_rdm_project
from repropack.crate.reader import OpenedPackage, open_package
from repropack.errors import BadInput, CheckFailed
from repropack.fs.archive import ExtractionLimits, safe_extract
from repropack.fs.hashing import sha256_file
from repropack.fs.names import collisions, shown
from repropack.fs.shown_paths import shown_path
from repropack.fs.stale import owned_temp_dir
from repropack.fs.walk import EntryKind, special_kind, walk_tree
from repropack.model import Person, layout
from repropack.model.package import RESERVED_DIR
from repropack.record.archived import is_record
from repropack.record.governed_run import RESULT_FILE
from repropack.record.signing import SIGNATURE_FILE
from repropack.repository.policy import Policy, policy_violations

#: Swept if a run is killed (``fs.stale.SWEPT_PREFIXES``): an admitted zip is extracted here.
TEMP_PREFIX = "repropack-open-"
METADATA_ROLE = "metadata"
RDM_FILE_ROLE = "other"
_METADATA_MEDIA_TYPE = "application/ld+json"
_WHEEL_FOLDERS = (f"{layout.WHEELHOUSE}/", f"{layout.LOCAL_WHEELS}/")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
#: Leading bytes of the archive and compressed formats refused inside a package, and at 257 a tar's.
_ARCHIVE_MAGIC = (
    (_ZIP_MAGIC, "zip"),
    ((b"\x1f\x8b\x08",), "gzip"),
    ((b"\xfd7zXZ\x00",), "xz"),
    ((b"7z\xbc\xaf\x27\x1c",), "7z"),
    ((b"\x28\xb5\x2f\xfd",), "zstd"),
    ((b"Rar!\x1a\x07",), "rar"),
    ((b"LZIP",), "lzip"),
    ((b"MSCF",), "cab"),
    ((b"!<arch>\n",), "ar"),
    (tuple(b"BZh" + bytes([digit]) for digit in b"123456789"), "bzip2"),
)
_TAR_MAGIC_AT = 257
_HEAD_BYTES = 264
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DATA_TYPES = frozenset({"File", "Dataset"})
_WEB_SCHEMES = frozenset({"http", "https"})
_HOSTILE_CHECK_KINDS = frozenset({"hash", "layout", "lock", "support", "parameters"})


@dataclass(frozen=True)
class AdmittedFile:
    """One file of an admitted package: verified size and sha256 (a restricted file's are as described)."""

    path: str
    size: int
    sha256: str
    role: str  # a FileRole value, "metadata" for ro-crate-metadata.json, "other" for an RDM project's files
    encoding_format: str | None
    restricted: bool  # described, its bytes not in the package (nothing to store)
    executable: bool  # any execute bit set (a zip entry's unix mode, as extracted; a folder's file mode)


@dataclass(frozen=True)
class CatalogFacts:
    """What the catalog indexes about a package, whatever its format."""

    key: str  # "doi:<doi>" | "id:<root identifier>" | "name:<folded title>|<first author id or name>"
    title: str
    description: str
    license: str | None
    doi: str | None
    work_version: str | None
    date_published: datetime | None
    authors: tuple[Person, ...]
    keywords: tuple[str, ...]
    tool_version: str  # of the repropack that wrote it; "" when something else did


@dataclass(frozen=True)
class Admitted:
    """A package that passed admission. Valid only inside ``admit``'s ``with`` block."""

    source: Path
    format: str  # "repropack" | "bagit" | "weko" | "rdm"
    root: Path  # a verified folder holding exactly the non-restricted ``files`` (a temp folder, or in place)
    files: tuple[AdmittedFile, ...]  # sorted by path, ro-crate-metadata.json included
    facts: CatalogFacts
    content_digest: str  # sha256 of the sorted "path\0sha256\n" lines of every stored (non-restricted) file
    source_sha256: str | None  # of the archive, when the source is one
    zip_date_time: tuple[int, int, int, int, int, int] | None  # the one timestamp of a repropack zip's entries
    metadata_sha256: str
    findings: tuple[str, ...]  # advice that did not refuse (RECOMMENDED profile issues)
    known: bool = False  # ``is_known(content_digest)`` said yes: validation and policy were not checked


@dataclass(frozen=True)
class _Tree:
    """The package's files on disk: the source folder, or the zip extracted; what the source said of itself."""

    top: Path
    source_sha256: str | None
    zip_date_time: tuple[int, int, int, int, int, int] | None


KnownContent = Callable[[str], bool]


@contextmanager
def admit(
    source: Path, policy: Policy, limits: OpeningLimits, *, is_known: KnownContent | None = None
) -> Iterator[Admitted]:
    """Open ``source`` (folder or zip) and admit it, or refuse it (see the module docstring for the rules).

    BadInput (exit 2) for hostile input, CheckFailed (exit 1) for a package that is intact but invalid
    or against ``policy``; either way nothing was written but this call's temp folder, which is removed
    when the ``with`` block ends. ``limits`` bound the metadata (and the package, with the policy's).
    ``is_known(content_digest)``: True skips validation and policy for content the caller holds already
    (``Admitted.known``); it is called at most once, and never for input refused as hostile.
    """
    source = Path(source)
    with ExitStack() as temporary:
        tree = _opened_tree(source, temporary, policy, limits)
        _refuse_record(source, tree.top)
        _scan_tree(source, tree.top, policy)
        with _named_as(source, tree.top):
            bag = open_bag(tree.top, limits=limits) if is_bag(tree.top) else None
        if bag is not None:
            fmt = "weko" if bag.layout == "weko" else "bagit"
            opened = _opened(source, tree, bag.crate_root, limits)
            admitted = _admitted_package(source, tree, opened, fmt, policy, is_known)
        else:
            opened = _opened(source, tree, tree.top, limits)
            if is_rdm_project(opened.metadata):
                admitted = _admitted_rdm(source, tree, opened.metadata, policy, is_known)
            else:
                admitted = _admitted_package(source, tree, opened, "repropack", policy, is_known)
        yield admitted


# --- opening -------------------------------------------------------------------------------------


def _opened_tree(source: Path, temporary: ExitStack, policy: Policy, limits: OpeningLimits) -> _Tree:
    """A folder as it is; a zip extracted into a temp folder that ``temporary`` removes when it closes."""
    try:
        mode = os.stat(source).st_mode
    except OSError as exc:
        raise BadInput(f"{shown_path(source)}: no such package ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        return _Tree(source, None, None)
    if not stat.S_ISREG(mode) or not _starts_with(source, _ZIP_MAGIC):
        raise BadInput(f"{shown_path(source)}: neither a package folder nor a zip archive")
    digest = sha256_file(source).sha256
    extraction = ExtractionLimits(
        max_members=policy.max_entries,
        max_total_bytes=min(policy.max_package_bytes, limits.max_package_bytes),
        max_member_bytes=policy.max_file_bytes,
        max_ratio=policy.max_ratio,
    )
    top = temporary.enter_context(owned_temp_dir(TEMP_PREFIX)) / "package"
    safe_extract(source, top, extraction, distinct_when_folded=True)
    with zipfile.ZipFile(source) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    return _Tree(_single_folder(top), digest, next(iter(stamps)) if len(stamps) == 1 else None)


def _starts_with(path: Path, magic: tuple[bytes, ...]) -> bool:
    with path.open("rb") as stream:
        head = stream.read(8)
    return head.startswith(magic)


def _single_folder(top: Path) -> Path:
    """The one folder a zip holds when it holds nothing else (a bag zipped with its folder), else ``top``."""
    entries = list(top.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return top


@contextmanager
def _named_as(source: Path, top: Path) -> Iterator[None]:
    """Refusals name ``source``: not the temp folder it was extracted to, and not nothing (a format reader's
    refusal may name only the entry)."""
    try:
        yield
    except BadInput as exc:
        shown_source = shown_path(source)
        message = str(exc) if top == source else str(exc).replace(str(top), shown_source)
        if shown_source not in message and str(source) not in message:
            message = f"{shown_source}: {message}"
        if message == str(exc):
            raise
        raise BadInput(message) from None


def _opened(source: Path, tree: _Tree, root: Path, limits: OpeningLimits) -> OpenedPackage:
    """The package folder ``root`` opened in place (so the result outlives the ``with``: nothing to clean up)."""
    with _named_as(source, tree.top), open_package(root, limits) as opened:
        return opened


def _refuse_record(source: Path, top: Path) -> None:
    if is_record(top):
        raise BadInput(
            f"{shown_path(source)}: is a governed-run record, not a package: it holds {SIGNATURE_FILE} and "
            f"{RESULT_FILE} (import it as a record with `repropack import`, which verifies its signature)"
        )


def _scan_tree(source: Path, top: Path, policy: Policy) -> None:
    """Refuse links, special files, too many entries, files past the sizes, names that collide when folded."""
    entries = 0
    total = 0
    names = []

    def refused(relpath: str, rule: str) -> BadInput:
        return BadInput(f"{shown_path(source)}: {shown(relpath)}: {rule}")

    def unlistable(path: Path, error: OSError) -> None:
        raise refused(str(path.relative_to(top)), f"folder cannot be listed ({error.strerror})")

    for entry in walk_tree(top, on_error=unlistable):
        entries += 1
        if entries > policy.max_entries:
            raise refused(entry.relpath, f"more than {policy.max_entries} entries (policy.toml max_entries)")
        if entry.kind is EntryKind.SYMLINK:
            raise refused(entry.relpath, "a symlink (a package holds regular files only)")
        st = os.lstat(entry.path)
        if entry.kind is EntryKind.OTHER:
            raise refused(entry.relpath, f"{special_kind(st.st_mode)} (a package holds regular files only)")
        names.append(entry.relpath)
        if entry.kind is not EntryKind.FILE:
            continue
        if st.st_nlink > 1:
            raise refused(entry.relpath, f"a hardlink ({st.st_nlink} names for one file; a package holds copies)")
        if st.st_size > policy.max_file_bytes:
            raise refused(entry.relpath, f"{st.st_size} bytes, over policy.toml max_file_bytes")
        total += st.st_size
        if total > policy.max_package_bytes:
            raise refused(
                entry.relpath, f"files total over {policy.max_package_bytes} bytes (policy.toml max_package_bytes)"
            )
    clashes = collisions(names)
    if clashes:
        first, second = clashes[0]
        raise refused(
            second, f"the same name as {shown(first)!r} where letter case and Unicode normalisation are ignored"
        )


# --- the package's metadata and files ---------------------------------------------------------------


def _refuse_escaping_ids(source: Path, metadata: dict) -> None:
    """BadInput for an entity @id that names something outside the package: file:, an absolute path, a ``..``."""
    for entity in metadata.get("@graph", []):
        identifier = entity.get("@id") if isinstance(entity, dict) else None
        if not isinstance(identifier, str) or identifier.startswith("#"):
            continue
        types = entity.get("@type")
        types = set(types) if isinstance(types, list) else {types}
        problem = _id_problem(identifier, data=bool(types & _DATA_TYPES))
        if problem is not None:
            raise BadInput(f"{shown_path(source)}: {layout.METADATA}: @id {shown(identifier)!r}: {problem}")


def _id_problem(identifier: str, *, data: bool) -> str | None:
    scheme = _SCHEME.match(identifier)
    if scheme is not None:
        name = scheme.group(0)[:-1].lower()
        if name == "file":
            return "a file: URL escapes the package root"
        if data and name not in _WEB_SCHEMES:
            return f"a data entity must be a path in the package or an http(s) URL, not {name}:"
        return None
    path = unquote(identifier)
    if path.startswith("/") or "\\" in path:
        return "an absolute path escapes the package root"
    if ".." in PurePosixPath(path).parts:
        return "'..' escapes the package root"
    return None


def _archive_kind(path: Path) -> str | None:
    with path.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    if head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar":
        return "tar"
    return next((kind for magic, kind in _ARCHIVE_MAGIC if head.startswith(magic)), None)


def _refuse_archives(source: Path, top: Path, root: Path, policy: Policy, *, own_wheels: bool) -> None:
    """BadInput for a file under ``top`` whose bytes are an archive, unless allowed; ``root``'s wheels may be."""
    if policy.allow_archives:
        return
    for entry in walk_tree(top):
        if entry.kind is not EntryKind.FILE:
            continue
        kind = _archive_kind(entry.path)
        if kind is None:
            continue
        inside = entry.path.relative_to(root).as_posix() if entry.path.is_relative_to(root) else None
        if own_wheels and kind == "zip" and inside and inside.startswith(_WHEEL_FOLDERS) and inside.endswith(".whl"):
            continue
        raise BadInput(
            f"{shown_path(source)}: {shown(entry.relpath)}: a nested {kind} archive (never expanded); "
            "refused by policy.toml allow_archives"
        )


def _refuse_broken_files(source: Path, opened: OpenedPackage) -> None:
    """BadInput for the first file that is absent, undescribed or tampered, a hostile lock or support file, or
    recorded parameters the notebooks do not run; then CheckFailed for an entity the reader cannot type."""
    problems, _ = check_files(opened)
    problems += check_parameters(opened)
    for problem in problems:
        if problem.kind in _HOSTILE_CHECK_KINDS:
            raise BadInput(f"{shown_path(source)}: {problem.message}")
    schema = [p.message for p in problems if p.kind not in _HOSTILE_CHECK_KINDS]
    if schema:
        raise CheckFailed(f"{shown_path(source)}: {schema[0]}")


def _digest(files: tuple[AdmittedFile, ...]) -> str:
    lines = sorted(f"{f.path}\0{f.sha256}\n" for f in files if not f.restricted)
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def _key(doi: str | None, root: dict, title: str, authors: tuple[Person, ...]) -> str:
    if doi:
        return f"doi:{doi}"
    identifier = root.get("identifier")
    if isinstance(identifier, str) and identifier.strip():
        return f"id:{identifier.strip()}"
    first = (authors[0].identifier or authors[0].name) if authors else ""
    return f"name:{' '.join(title.split()).casefold()}|{first}"


def _refuse_by_policy(source: Path, policy: Policy, files: list[tuple[str, str | None]], facts: CatalogFacts) -> None:
    violations = policy_violations(policy, files, license=facts.license, authors=len(facts.authors))
    if violations:
        raise CheckFailed(f"{shown_path(source)}: {violations[0]}")


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_payload(path: str) -> bool:
    """Not repropack's own material: the metadata file and the reserved folder are not the policy's to type."""
    return path != layout.METADATA and not path.startswith(f"{RESERVED_DIR}/")


def _metadata_file(root: Path) -> AdmittedFile:
    digest = sha256_file(root / layout.METADATA)
    executable = _is_executable(root / layout.METADATA)
    return AdmittedFile(
        layout.METADATA, digest.size, digest.sha256, METADATA_ROLE, _METADATA_MEDIA_TYPE, False, executable
    )


def _is_executable(path: Path) -> bool:
    """Whether any execute bit is set: ``safe_extract`` gives a zip entry whose unix mode has one 0755."""
    return bool(os.stat(path).st_mode & 0o111)


# --- the formats ----------------------------------------------------------------------------------------


def _admitted_package(
    source: Path, tree: _Tree, opened: OpenedPackage, fmt: str, policy: Policy, is_known: KnownContent | None
) -> Admitted:
    root = opened.root
    with _named_as(source, tree.top):
        _refuse_escaping_ids(source, opened.metadata)
        _refuse_archives(source, tree.top, root, policy, own_wheels=True)
        _refuse_broken_files(source, opened)
        package = opened.package
        described = (
            AdmittedFile(
                r.path,
                r.size,
                r.sha256,
                r.role.value,
                r.encoding_format or None,
                r.restricted,
                not r.restricted and _is_executable(root / r.path),
            )
            for r in package.files
        )
        files = tuple(sorted((*described, _metadata_file(root)), key=lambda f: f.path))
        content_digest = _digest(files)
        known = is_known is not None and is_known(content_digest)
        findings: tuple[str, ...] = ()
        if not known:
            schema = check_schema(opened.metadata)
            if schema:
                raise CheckFailed(f"{shown_path(source)}: {layout.METADATA}: {schema[0].message}")
            findings = _profile_findings(source, opened, policy)
        meta = package.metadata
        root_entity = opened.entities.get("./", {})
        facts = CatalogFacts(
            key=_key(meta.doi, root_entity, meta.title, meta.authors),
            title=meta.title,
            description=meta.description,
            license=meta.license,
            doi=meta.doi,
            work_version=meta.version,
            date_published=_moment(root_entity.get("datePublished")),
            authors=meta.authors,
            keywords=meta.keywords,
            tool_version=package.tool_version,
        )
        if not known:
            payload = [(f.path, f.encoding_format) for f in files if _is_payload(f.path)]
            _refuse_by_policy(source, policy, payload, facts)
        return Admitted(
            source=source,
            format=fmt,
            root=root,
            files=files,
            facts=facts,
            content_digest=content_digest,
            source_sha256=tree.source_sha256,
            zip_date_time=tree.zip_date_time if fmt == "repropack" else None,
            metadata_sha256=opened.metadata_sha256,
            findings=findings,
            known=known,
        )


def _profile_findings(source: Path, opened: OpenedPackage, policy: Policy) -> tuple[str, ...]:
    if policy.profiles == "off":
        return ()
    problems, advice = profile_findings(opened)
    # The validator's messages may run over several lines: a refusal and a finding are one line each.
    messages = [" ".join(p.message.split()) for p in problems]
    required = [message for message in messages if message.startswith("REQUIRED ")]
    if required:
        raise CheckFailed(f"{shown_path(source)}: {layout.METADATA}: {required[0]}")
    return tuple(messages) + tuple(" ".join(str(a).split()) for a in advice)


def _admitted_rdm(source: Path, tree: _Tree, metadata: dict, policy: Policy, is_known: KnownContent | None) -> Admitted:
    with _named_as(source, tree.top):
        if tree.source_sha256 is not None:
            check_rdm_zip(source)
        _refuse_escaping_ids(source, metadata)
        _refuse_archives(source, tree.top, tree.top, policy, own_wheels=False)
        project = read_rdm_project(tree.top, metadata)
    payload = tuple(
        AdmittedFile(
            f.path, f.size, f.sha256, RDM_FILE_ROLE, f.encoding_format, False, _is_executable(tree.top / f.path)
        )
        for f in project.files
    )
    files = tuple(sorted((*payload, _metadata_file(tree.top)), key=lambda f: f.path))
    content_digest = _digest(files)
    known = is_known is not None and is_known(content_digest)
    root_entity = next((e for e in metadata.get("@graph", []) if isinstance(e, dict) and e.get("@id") == "./"), {})
    facts = CatalogFacts(
        key=_key(None, root_entity, project.title, project.creators),
        title=project.title,
        description=project.description,
        license=project.license,
        doi=None,
        work_version=None,
        date_published=None,
        authors=project.creators,
        keywords=project.keywords,
        tool_version="",
    )
    if not known:
        _refuse_by_policy(source, policy, [(f.path, f.encoding_format) for f in payload], facts)
    metadata_file = next(f for f in files if f.path == layout.METADATA)
    return Admitted(
        source=source,
        format="rdm",
        root=tree.top,
        files=files,
        facts=facts,
        content_digest=content_digest,
        source_sha256=tree.source_sha256,
        zip_date_time=None,
        metadata_sha256=metadata_file.sha256,
        findings=(),
        known=known,
    )
