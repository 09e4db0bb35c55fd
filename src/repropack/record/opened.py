"""A signed governed-run record opened for reading again, and the package it replayed.

``repropack diff`` and ``repropack rejudge`` read the replayed outputs a record
keeps and set them against the recorded ones in the package. Both trust
nothing they have not checked: the record must verify (its signature covers
``result.json`` and every kept file), and the package must be the one the
record names, by the sha256 of its metadata, which covers every recorded
file's sha256; each recorded file read is checked against it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from repropack.config import OpeningLimits
from repropack.crate.reader import OpenedPackage, open_package
from repropack.crate.support import schema_problem
from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_json_file
from repropack.fs.hashing import sha256_file
from repropack.model import (
    CauseKind,
    FailureCause,
    FileRecord,
    OutputComparison,
    OutputStatus,
    ReplayedPackage,
    ReplayResult,
    Verdict,
)
from repropack.model.disclosure import CellFinding, DisclosureReport, DisclosureRules, DisclosureStatus, FileDisclosure
from repropack.model.layout import is_safe_package_path
from repropack.model.results import RECORD_REPLAYED_DIR
from repropack.record.governed_run import RESULT_FILE
from repropack.record.signing import SIGNATURE_FILE, verify_record

#: What ``replay --json`` prints and a record's result.json holds.
RESULT_SCHEMA = "replay-result.schema.json"
#: A record's result.json is read within the limits of a package's metadata.
_LIMITS = OpeningLimits()


@dataclass(frozen=True)
class OpenedRecord:
    """A record that verified: its folder, its ``result.json`` and who signed it."""

    folder: Path
    result: dict[str, Any]
    key_id: str | None
    signature_sha256: str  # of signature.json: names exactly this signed record

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.result.get("outputs") or [])

    @property
    def replayed_files(self) -> set[str]:
        """Package paths of the replayed outputs the record keeps."""
        replayed = self.result.get("replayed") or {}
        return {path for path in replayed.get("files") or () if isinstance(path, str) and is_safe_package_path(path)}

    def replayed_file(self, path: str) -> Path | None:
        """The kept replayed copy of the output at package ``path``, or None when the record keeps none."""
        if path not in self.replayed_files:
            return None
        return self.folder / RECORD_REPLAYED_DIR / path


def open_record(folder: Path, public_key: Path | None = None) -> OpenedRecord:
    """Verify the record at ``folder`` (with ``public_key`` when given) and read its ``result.json``.

    BadInput when it is no record, fails verification (naming the first
    problem), or its result is not the object ``replay --json`` prints.
    """
    verification = verify_record(folder, public_key)
    if not verification.valid:
        more = len(verification.problems) - 1
        others = f" (and {more} more; `repropack verify-record {folder}` lists them)" if more else ""
        raise BadInput(f"{folder}: the record failed verification: {verification.problems[0]}{others}")
    try:
        result = read_json_file(
            folder / RESULT_FILE,
            limit=_LIMITS.max_metadata_bytes,
            max_values=_LIMITS.max_metadata_values,
            what=RESULT_FILE,
        )
    except UnsafeData as error:
        raise BadInput(f"{folder}: cannot read its {error}") from None
    # Signed is not trusted: anyone can sign with a key of their own. Every later reader relies on this shape.
    problem = schema_problem(RESULT_SCHEMA, result, RESULT_FILE)
    if problem is not None:
        raise BadInput(f"{folder}: its {problem}")
    package = result.get("package") if isinstance(result, dict) else None
    if not (isinstance(package, dict) and isinstance(package.get("metadata_sha256"), str)):
        raise BadInput(f"{folder}: its {RESULT_FILE} does not name the package it replayed")
    if not isinstance(result.get("outputs"), list):
        raise BadInput(f"{folder}: its {RESULT_FILE} lists no outputs")
    signature = hashlib.sha256((folder / SIGNATURE_FILE).read_bytes()).hexdigest()
    return OpenedRecord(folder, result, verification.key_id, signature)


@contextmanager
def replayed_package(record: OpenedRecord, package: Path | None = None) -> Iterator[OpenedPackage]:
    """The package ``record`` replayed: at ``package`` when given (it was moved), else where the record says.

    BadInput when it is not there, or is another package (or another version of it): its
    metadata's sha256 must be the one the record names.
    """
    named = Path(str(record.result["package"].get("path") or ""))
    source = package or named
    if package is None and not source.exists():
        raise BadInput(
            f"{source}: the package this record replayed is no longer there; pass --package PKG where it is now"
        )
    with open_package(source) as opened:
        expected = record.result["package"]["metadata_sha256"]
        if opened.metadata_sha256 != expected:
            raise BadInput(
                f"{source}: not the package {record.folder.name} replayed: its metadata sha256 is "
                f"{opened.metadata_sha256[:16]}…, the record names {expected[:16]}…"
            )
        yield opened


def recorded_file(opened: OpenedPackage, path: str) -> Path | None:
    """The recorded bytes of output ``path`` in the package, checked against their recorded sha256.

    None when the package describes no such file or does not hold its bytes
    (a restricted output); BadInput when the bytes are not the recorded ones.
    """
    record: FileRecord | None = next((f for f in opened.package.files if f.path == path), None)
    if record is None or record.restricted or not is_safe_package_path(path):
        return None
    file = opened.root / path
    if file.is_symlink() or not file.is_file():
        return None
    if sha256_file(file).sha256 != record.sha256:
        raise BadInput(
            f"{opened.source}: {path} does not match the sha256 its metadata records; the package was changed"
        )
    return file


# --- result.json back into a ReplayResult ------------------------------------------------------


def _enum_type(hint: Any) -> type[Enum] | None:
    """The Enum class of a field typed ``E`` or ``E | None``, else None."""
    candidates = typing.get_args(hint) or (hint,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, Enum)), None)


def _from_json(cls: type, data: dict[str, Any], taken: dict[str, Any]) -> Any:
    """``cls(**taken)`` plus every other field of ``cls`` that ``data`` holds, converted by its type.

    Fields other pipelines add to the result round-trip without this reader
    naming them: enums from their values, tuples from lists, the rest as they are.
    """
    hints = typing.get_type_hints(cls)
    kwargs = dict(taken)
    for f in dataclasses.fields(cls):
        if f.name in kwargs or f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        enum = _enum_type(hint)
        if enum is not None:
            value = enum(value) if value is not None else None
        elif typing.get_origin(hint) is tuple or hint is tuple:
            value = tuple(value or ())
        elif not isinstance(value, (str, int, float, bool, dict, list, type(None))):
            continue
        kwargs[f.name] = value
    return cls(**kwargs)


def _rules_of(d: dict[str, Any]) -> DisclosureRules:
    """``DisclosureRules.as_dict`` read back (the schema checked the shape)."""
    return DisclosureRules(
        min_count=d["min_count"],
        zeros_are_disclosive=d["zeros_are_disclosive"],
        counts=tuple(d["counts"]),
        nk_n=d["nk_n"],
        nk_k=d["nk_k"],
        p_ratio=d["p_ratio"],
        magnitudes=tuple(d["magnitudes"]),
        outputs=tuple(d["outputs"]),
        overrides={glob: _rules_of(rules) for glob, rules in d["overrides"].items()},
        source=d["source"],
    )


def _disclosure_of(d: dict[str, Any]) -> DisclosureReport:
    """The ``disclosure`` member of result.json (``DisclosureReport.as_dict``, values removed) read back."""

    def cells(items: list[dict[str, str]]) -> tuple[CellFinding, ...]:
        return tuple(CellFinding(**{f.name: c[f.name] for f in dataclasses.fields(CellFinding)}) for c in items)

    files = tuple(
        FileDisclosure(f["path"], DisclosureStatus(f["status"]), cells(f["findings"]), f["note"], f["tables"])
        for f in d["files"]
    )
    return DisclosureReport(
        rules=_rules_of(d["rules"]),
        files=files,
        started=datetime.fromisoformat(d["started"]),
        ended=datetime.fromisoformat(d["ended"]),
        where=d["where"],
        suppressed={path: cells(items) for path, items in d["suppressed"].items()},
    )


def result_of(record: OpenedRecord) -> ReplayResult:
    """The record's ``result.json`` as the ``ReplayResult`` it was written from.

    What ``as_dict`` leaves out (the sandbox log, the report's figures) is empty.
    BadInput when a value is not what ``replay --json`` writes.
    """
    d = record.result
    try:
        package = d["package"]
        cause = None
        if d.get("cause") and d.get("cause_kind"):
            kind = CauseKind(d["cause_kind"])
            cause = FailureCause(kind, str(d["cause"]).removeprefix(f"{kind.value}: "))
        outputs = tuple(
            _from_json(OutputComparison, o, {"path": o["path"], "status": OutputStatus(o["status"]), "rule": o["rule"]})
            for o in d["outputs"]
        )
        base = d.get("base_image") or {}
        replayed = d.get("replayed") or {}
        taken = {
            "package": ReplayedPackage(Path(package["path"]), package.get("title", ""), package["metadata_sha256"]),
            "verdict": Verdict(d["verdict"]),
            "cause": cause,
            "outputs": outputs,
            "limits": d.get("sandbox") or {},
            "started": datetime.fromisoformat(d["started"]),
            "ended": datetime.fromisoformat(d["ended"]),
            "record": Path(d["record"]) if d.get("record") else None,
            "base_image": base.get("image"),
            "base_image_reason": base.get("reason", ""),
            "base_image_id": base.get("id"),
            "recorded_errors": {nb: tuple(errors) for nb, errors in (d.get("recorded_errors") or {}).items()},
            "replayed": tuple(sorted(record.replayed_files)),
            "not_kept": tuple(replayed.get("not_kept") or ()),
            "what_if": dict((d.get("what_if") or {}).get("parameters") or {}),
            "disclosure": _disclosure_of(d["disclosure"]) if d.get("disclosure") else None,
        }
        return _from_json(ReplayResult, d, taken)
    except (KeyError, TypeError, ValueError) as error:
        raise BadInput(f"{record.folder}: its {RESULT_FILE} is not a replay result: {error!r}") from None
