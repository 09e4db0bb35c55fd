"""Sign a run-record folder with Ed25519 and verify it.

What is signed is ``canonical_json({"metadata": M, "files": F})`` where M is
the parsed ``ro-crate-metadata.json`` and F maps the POSIX path of every other
regular file in the folder (except the top-level ``signature.json``) to its
sha256. The metadata file is covered through its parsed form, not its bytes,
so reformatting it (indentation, key order) keeps the signature valid while
any change of a value breaks it.

The signature lives in ``signature.json`` beside the files it covers::

    {"algorithm": "Ed25519", "key_id": "ed25519:…", "key_name": "NAME", "public_key": <base64 raw 32 bytes>,
     "signed": "canonical-json(metadata+file sha256)", "files": F,
     "metadata_sha256": <sha256 of canonical_json(M)>, "signature": <base64 64 bytes>}

``key_name`` is the NAME of the signer's ``NAME.key`` (``repropack keys generate --name``): a label a
reviewer with several keys gave one, shown beside the key id, never trusted (the signature does not
cover it; the key id is what identifies the key).

``files`` and ``metadata_sha256`` are not needed to check the signature (the
payload is recomputed from the folder); they let ``verify_record`` name what
changed when the signature does not match.

Sign-offs (``record.sign_off``) are added to a record after it was signed: every entity whose ``@id``
starts ``#sign-off-`` and the root's ``mentions`` references to them are left out of the payload
(``without_sign_offs``), so the record's own signature stays valid, and each sign-off carries its own
signature, checked by ``verify_record`` too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from repropack.config import OpeningLimits
from repropack.errors import BadInput
from repropack.fs.bounded import DEFAULT_MAX_DEPTH, UnsafeData, nesting_depth, read_regular_file, value_count_bound
from repropack.fs.hashing import sha256_file
from repropack.fs.walk import Entry, EntryKind, walk_tree
from repropack.model.layout import METADATA
from repropack.record.keys import PRIVATE_SUFFIX, key_id, load_private_key, load_public_key

if TYPE_CHECKING:
    from repropack.record.sign_off import SignOff

SIGNATURE_FILE = "signature.json"
ALGORITHM = "Ed25519"
#: Names what the signature covers; a different value is a format this code does not know.
SIGNED_CONTENT = "canonical-json(metadata+file sha256)"

_NOT_HASHED = frozenset({SIGNATURE_FILE, METADATA})  # top-level names only
#: The ``@id`` prefix of sign-off entities (actions and their agents), which the record's signature does not cover.
SIGN_OFF_PREFIX = "#sign-off-"
_PUBLIC_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
#: A record is as untrusted as a package: its JSON files are read within a package metadata's limits.
_MAX_JSON_BYTES = OpeningLimits().max_metadata_bytes
_MAX_JSON_VALUES = OpeningLimits().max_metadata_values


def canonical_json(data: object) -> bytes:
    """The one byte form of a JSON value that signatures are made over.

    Keys sorted, no insignificant whitespace, non-ASCII characters as UTF-8
    (not ``\\u`` escapes); the same value always gives the same bytes. This is
    RFC 8785 (JCS)-like but not JCS: numbers are written as Python writes them
    (``1.0`` stays ``1.0``, JCS writes ``1``) and keys are ordered by code point
    (JCS orders by UTF-16 unit, which differs only for characters beyond
    U+FFFF). Signer and verifier both use this function, so that is enough;
    another implementation must reproduce it, not JCS. Raises ``ValueError``
    for NaN or ±Infinity, which JSON cannot represent, and for strings that are
    not valid Unicode.
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def without_sign_offs(metadata: object) -> object:
    """The metadata as the record's signer signed it: the sign-offs added since left out.

    Every ``@graph`` entity whose ``@id`` starts ``#sign-off-`` is removed, and the root's ``mentions``
    references to them are dropped (the key itself when nothing else is left), leaving ``mentions`` a list.
    The record writer collapses a one-entry list to its entry (RO-Crate's JSON-LD advice), so
    ``verify_record`` tries that form too. Metadata holding no sign-off is returned as it is (the same
    object), and so is a value that is not an RO-Crate graph (its signature check says the rest).
    """
    if not isinstance(metadata, dict) or not isinstance(metadata.get("@graph"), list):
        return metadata
    graph = []
    changed = False
    for entity in metadata["@graph"]:
        if _is_sign_off_ref(entity):
            changed = True
            continue
        if isinstance(entity, dict) and entity.get("@id") == "./" and "mentions" in entity:
            listed = entity["mentions"] if isinstance(entity["mentions"], list) else [entity["mentions"]]
            kept = [ref for ref in listed if not _is_sign_off_ref(ref)]
            if len(kept) != len(listed):
                changed = True
                entity = {key: value for key, value in entity.items() if key != "mentions"}
                if kept:
                    entity["mentions"] = kept
        graph.append(entity)
    return {**metadata, "@graph": graph} if changed else metadata


def _is_sign_off_ref(value: object) -> bool:
    ref = value.get("@id") if isinstance(value, dict) else value
    return isinstance(ref, str) and ref.startswith(SIGN_OFF_PREFIX)


def _signed_forms(metadata: object) -> list[object]:
    """The metadata values the record's signature may cover: sign-offs removed with the root's ``mentions``
    a list, then, when that list has one entry, collapsed to it as the writer wrote it. Both are derived
    from the folder and only a form the signer signed can match the signature, so trying both gains a
    forger nothing."""
    stripped = without_sign_offs(metadata)
    if stripped is metadata or not isinstance(stripped, dict):
        return [stripped]
    collapsed = [
        {**entity, "mentions": entity["mentions"][0]}
        if isinstance(entity, dict)
        and entity.get("@id") == "./"
        and isinstance(entity.get("mentions"), list)
        and len(entity["mentions"]) == 1
        else entity
        for entity in stripped["@graph"]
    ]
    return [stripped, {**stripped, "@graph": collapsed}] if collapsed != stripped["@graph"] else [stripped]


def signed_payload(record_dir: Path) -> bytes:
    """The exact bytes a record's signature covers, recomputed from the folder.

    Raises ``BadInput`` when the metadata file is missing or not strict JSON
    (duplicate keys and non-finite numbers are refused, so every reader sees
    the value that was signed), or the folder holds a symbolic link, something
    other than regular files and folders, an unreadable file or a file name
    that is not UTF-8.
    """
    metadata, files = _signable_content(record_dir)
    return _payload(metadata, files)


def sign_record(record_dir: Path, private_key_path: Path) -> dict[str, Any]:
    """Sign the folder with the key in ``private_key_path``; write and return ``signature.json``'s content.

    An existing ``signature.json`` is replaced. Raises ``BadInput`` as
    ``signed_payload`` and ``load_private_key`` do.
    """
    private_key = load_private_key(private_key_path)
    metadata, files = _signable_content(record_dir)
    public_key = private_key.public_key()
    raw_public = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    document = {
        "algorithm": ALGORITHM,
        "key_id": key_id(public_key),
        "key_name": private_key_path.name.removesuffix(PRIVATE_SUFFIX),
        "public_key": base64.b64encode(raw_public).decode("ascii"),
        "signed": SIGNED_CONTENT,
        "files": files,
        "metadata_sha256": _metadata_sha256(metadata),
        "signature": base64.b64encode(private_key.sign(_payload(metadata, files))).decode("ascii"),
    }
    (record_dir / SIGNATURE_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return document


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of ``verify_record``.

    ``valid`` is true exactly when ``problems`` is empty. ``key_id`` is the id
    of the public key embedded in ``signature.json`` (None when it cannot be
    read). Each problem is one line naming what is wrong. ``expected_key_id``
    is the id of the key the caller required (None: checked against the
    embedded key, which proves the record is intact, not who signed it).
    ``other_signer`` is true when the record is intact but signed by a key
    other than the expected one: not tampered, just not signed by that key.
    """

    valid: bool
    key_id: str | None
    problems: tuple[str, ...]
    expected_key_id: str | None = None
    other_signer: bool = False
    key_name: str | None = None  # the label signature.json gives the key, unverified
    #: Each sign-off found in the metadata, in ``@id`` order, with whether its own signature and binding hold;
    #: an invalid one is also among ``problems``.
    sign_offs: tuple[SignOff, ...] = ()
    #: sha256 of the payload the record's signature covers (recomputed, None when the metadata cannot be read):
    #: what a sign-off binds to.
    payload_sha256: str | None = None


def verify_record(record_dir: Path, public_key_path: Path | None = None) -> VerificationResult:
    """Check a record's signature and list every problem found.

    The payload is recomputed from the folder and checked with
    ``public_key_path``'s key when given (the embedded key must then be that
    key too; when it is another, the payload is checked with the embedded
    key, so an intact record signed by someone else is ``other_signer``,
    not tampered), else with the embedded key. Without ``public_key_path`` a valid
    result only says the record is intact and signed by the key ``key_id``
    names; compare that id with a key you trust.

    A tampered or damaged record is reported in ``problems``, never raised.
    Raises ``BadInput`` only when ``record_dir`` is not a record at all (not a
    folder, or neither metadata nor signature file) or ``public_key_path``
    holds no readable Ed25519 key.
    """
    if not record_dir.is_dir():
        raise BadInput(f"{record_dir}: not a folder")
    if not os.path.lexists(record_dir / METADATA) and not os.path.lexists(record_dir / SIGNATURE_FILE):
        raise BadInput(f"{record_dir}: not a run record (no {METADATA}, no {SIGNATURE_FILE})")
    expected_key = load_public_key(public_key_path) if public_key_path is not None else None

    claim = _read_signature_file(record_dir)
    problems = list(claim.problems)
    expected_id = key_id(expected_key) if expected_key is not None else None
    other_key = expected_key is not None and claim.public_key is not None and claim.key_id != expected_id
    if other_key:
        problems.append(f"signed by {claim.key_id}, not by the expected key {expected_id}")

    scan = _scan_files(record_dir)
    problems.extend(scan.problems)
    metadata: object = None
    forms: list[object] = []
    try:
        metadata = _read_metadata(record_dir)
    except BadInput as error:
        problems.append(str(error))
    else:
        forms = _signed_forms(metadata)

    # Signed by another key: its own key still tells an intact record (another signer) from a tampered one.
    verifying_key = claim.public_key if other_key or expected_key is None else expected_key
    signature_matches = False
    if forms and verifying_key is not None and claim.signature is not None:
        matching = [
            form for form in forms if _signature_matches(verifying_key, claim.signature, _payload(form, scan.files))
        ]
        signature_matches = bool(matching)
        forms = matching or forms
        if not signature_matches:
            problems.append("signature does not match the record")
    payload = _payload(forms[0], scan.files) if forms else None
    metadata_digest = _metadata_sha256(forms[0]) if forms else None
    if signature_matches:
        # The folder is what was signed, so any disagreement is an edit of signature.json itself.
        if claim.files != scan.files or claim.metadata_sha256 != metadata_digest:
            problems.append(f"{SIGNATURE_FILE}: its file list or metadata digest differs from the signed record")
    else:
        problems.extend(_changes_since_signing(claim, metadata_digest, scan.files))
    sign_offs: tuple[SignOff, ...] = ()
    if payload is not None:
        from repropack.record.sign_off import check_sign_offs  # it builds on this module

        sign_offs, sign_off_problems = check_sign_offs(metadata, hashlib.sha256(payload).hexdigest())
        problems.extend(sign_off_problems)
    return VerificationResult(
        valid=not problems,
        key_id=claim.key_id,
        problems=tuple(problems),
        expected_key_id=expected_id,
        other_signer=other_key and len(problems) == 1,
        key_name=claim.key_name,
        sign_offs=sign_offs,
        payload_sha256=hashlib.sha256(payload).hexdigest() if payload is not None else None,
    )


def _signature_matches(public_key: Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


# --- reading the folder ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileScan:
    files: dict[str, str]  # POSIX relative path -> sha256, sorted by path
    problems: tuple[str, ...]  # entries that cannot be signed: links, special files, unreadable


def _scan_files(record_dir: Path) -> _FileScan:
    """Hash every regular file under ``record_dir`` except the signature and metadata files.

    Symbolic links are not followed but reported (a link could point outside
    the folder, or change what it points to after signing), so every hashed
    path is inside the folder.
    """
    files: dict[str, str] = {}
    problems: list[str] = []

    def cannot_list(folder: Path, error: OSError) -> None:
        problems.append(f"cannot read {folder}: {error.strerror or error}")

    def walked_into(folder: Entry) -> bool:
        return _is_utf8(folder.relpath) and not _is_not_hashed(folder)  # those are reported instead

    for entry in walk_tree(record_dir, descend=walked_into, on_error=cannot_list):
        relpath = entry.relpath
        if _is_not_hashed(entry):
            if entry.kind is not EntryKind.FILE:
                problems.append(f"{relpath}: not a regular file")
        elif not _is_utf8(relpath):
            problems.append(f"{os.fsencode(relpath)!r}: file name is not UTF-8")
        elif entry.kind is EntryKind.SYMLINK:
            problems.append(f"{relpath}: symbolic links are not allowed in a record")
        elif entry.kind is EntryKind.OTHER:
            problems.append(f"{relpath}: not a regular file")
        elif entry.kind is EntryKind.FILE:
            try:
                files[relpath] = sha256_file(entry.path).sha256
            except OSError as error:
                problems.append(f"cannot read {relpath}: {error.strerror or error}")
    return _FileScan(files=dict(sorted(files.items())), problems=tuple(sorted(problems)))


def _is_not_hashed(entry: Entry) -> bool:
    return "/" not in entry.relpath and entry.relpath in _NOT_HASHED


def _is_utf8(name: str) -> bool:
    # os.scandir turns undecodable bytes into lone surrogates, which UTF-8 cannot encode.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _signable_content(record_dir: Path) -> tuple[object, dict[str, str]]:
    """The parsed metadata and the file digests, or ``BadInput`` when the folder cannot be signed as it is."""
    try:
        metadata = _read_metadata(record_dir)
    except BadInput as error:
        raise BadInput(f"{record_dir}: {error}") from None
    scan = _scan_files(record_dir)
    if scan.problems:
        raise BadInput(f"{record_dir}: {scan.problems[0]}")
    return without_sign_offs(metadata), scan.files


def read_record_metadata(record_dir: Path) -> object:
    """The record's parsed ``ro-crate-metadata.json``, read as strictly as ``verify_record`` reads it.

    Raises ``BadInput`` naming the file when it is missing, too large, not UTF-8 or not strict JSON.
    """
    return _read_metadata(record_dir)


def _read_metadata(record_dir: Path) -> object:
    try:
        return _strict_json(_read_json_text(record_dir / METADATA, METADATA), METADATA)
    except UnsafeData as error:
        raise BadInput(str(error)) from None
    except ValueError as error:
        raise BadInput(f"{METADATA}: not valid JSON: {error}") from None


def _read_json_text(path: Path, shown: str) -> str:
    """A record's JSON file as text: a regular file, never through a link, within the size limit."""
    data = read_regular_file(path, limit=_MAX_JSON_BYTES, what=shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeData(f"{shown}: not UTF-8") from None


def _strict_json(text: str, shown: str) -> object:
    """Parse JSON refusing what two readers could see differently: duplicate keys, non-finite numbers.

    Raises UnsafeData naming ``shown`` for a document nested deeper than ``DEFAULT_MAX_DEPTH``
    (no RecursionError reaches the caller) or with more values than a package's metadata may hold,
    ValueError for the rest.
    """
    if value_count_bound(text) > _MAX_JSON_VALUES:
        raise UnsafeData(f"{shown}: more than the {_MAX_JSON_VALUES} JSON values allowed")
    too_deep = f"{shown}: nested deeper than the {DEFAULT_MAX_DEPTH} levels allowed"
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:  # the parser's own guard, far deeper than the limit
        raise UnsafeData(too_deep) from None
    if nesting_depth(value, stop_after=DEFAULT_MAX_DEPTH) > DEFAULT_MAX_DEPTH:
        raise UnsafeData(too_deep)
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e400 overflows to inf
        raise ValueError(f"{text} is out of range")
    return value


def _payload(metadata: object, files: dict[str, str]) -> bytes:
    return canonical_json({"metadata": metadata, "files": files})


def _metadata_sha256(metadata: object) -> str:
    return hashlib.sha256(canonical_json(metadata)).hexdigest()


# --- reading signature.json -----------------------------------------------------------------------


@dataclass(frozen=True)
class _SignatureClaim:
    """What ``signature.json`` says; a None field could not be read (see ``problems``)."""

    public_key: Ed25519PublicKey | None
    key_id: str | None  # of public_key, not the file's key_id field
    signature: bytes | None
    files: dict[str, str] | None
    metadata_sha256: str | None
    problems: tuple[str, ...]
    key_name: str | None = None


def _read_signature_file(record_dir: Path) -> _SignatureClaim:
    path = record_dir / SIGNATURE_FILE
    if path.is_symlink() or not path.is_file():
        problem = "missing" if not os.path.lexists(path) else "not a regular file"
        return _SignatureClaim(None, None, None, None, None, (f"{SIGNATURE_FILE}: {problem}",))
    try:
        document = _strict_json(_read_json_text(path, SIGNATURE_FILE), SIGNATURE_FILE)
    except ValueError as error:  # UnsafeData, JSONDecodeError and the strict parser's refusals
        message = str(error).removeprefix(f"{SIGNATURE_FILE}: ")
        return _SignatureClaim(None, None, None, None, None, (f"{SIGNATURE_FILE}: unreadable: {message}",))
    if not isinstance(document, dict):
        return _SignatureClaim(None, None, None, None, None, (f"{SIGNATURE_FILE}: not a JSON object",))
    return _parse_claim(document)


def _parse_claim(document: dict[str, Any]) -> _SignatureClaim:
    problems: list[str] = []
    if document.get("algorithm") != ALGORITHM:
        problems.append(f"{SIGNATURE_FILE}: algorithm {document.get('algorithm')!r} is not {ALGORITHM!r}")
    if document.get("signed") != SIGNED_CONTENT:
        problems.append(f"{SIGNATURE_FILE}: signed content {document.get('signed')!r} is not {SIGNED_CONTENT!r}")

    public_key = None
    raw_public = _base64_field(document, "public_key", _PUBLIC_KEY_BYTES, problems)
    if raw_public is not None:
        public_key = Ed25519PublicKey.from_public_bytes(raw_public)
    embedded_id = key_id(public_key) if public_key is not None else None
    if embedded_id is not None and document.get("key_id") != embedded_id:
        problems.append(
            f"{SIGNATURE_FILE}: key_id {document.get('key_id')!r} is not the id of its public key, {embedded_id}"
        )

    signature = _base64_field(document, "signature", _SIGNATURE_BYTES, problems)

    files = document.get("files")
    if not (isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
        problems.append(f"{SIGNATURE_FILE}: files is not a map of path to sha256")
        files = None
    metadata_sha256 = document.get("metadata_sha256")
    if not isinstance(metadata_sha256, str):
        problems.append(f"{SIGNATURE_FILE}: metadata_sha256 is missing")
        metadata_sha256 = None
    key_name = document.get("key_name")
    return _SignatureClaim(
        public_key,
        embedded_id,
        signature,
        files,
        metadata_sha256,
        tuple(problems),
        key_name if isinstance(key_name, str) and key_name else None,
    )


def _base64_field(document: dict[str, Any], name: str, size: int, problems: list[str]) -> bytes | None:
    value = document.get(name)
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except binascii.Error:
        raw = None
    if raw is None or len(raw) != size:
        problems.append(f"{SIGNATURE_FILE}: {name} is not {size} bytes of base64")
        return None
    return raw


def _changes_since_signing(claim: _SignatureClaim, metadata_digest: str | None, files: dict[str, str]) -> list[str]:
    """Name what differs from the digests ``signature.json`` lists.

    Those digests are not covered by the signature, so this only says where
    to look once the signature has failed. A None ``metadata_digest`` (the
    metadata could not be read, already reported) is not compared.
    """
    changes: list[str] = []
    if None not in (claim.metadata_sha256, metadata_digest) and claim.metadata_sha256 != metadata_digest:
        changes.append(f"{METADATA}: metadata differs from the signed value")
    if claim.files is None:
        return changes
    for path in sorted(claim.files.keys() | files.keys()):
        if path not in files:
            changes.append(f"{path}: signed file is missing")
        elif path not in claim.files:
            changes.append(f"{path}: file not covered by the signature")
        elif files[path] != claim.files[path]:
            changes.append(f"{path}: sha256 differs from the signed value")
    return changes
