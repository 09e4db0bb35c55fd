"""An ACRO ``results.json`` among the outputs: the TRE's own checker has already judged some files.

ACRO (the SACRO project's disclosure checker) writes, on ``finalise(path, "json")``, one object per
output it checked: ``status`` (``pass``, ``fail``, ``review``), ``files`` (``[{"name": ..., ...}]``,
names relative to the results.json's folder), a ``summary`` line and more. Newer versions wrap them
as ``{"version": ..., "results": {"output_0": {...}}}``, older ones put them at the top level; both are
read. A ``fail`` and a ``review`` both gate release: ACRO asked for a person's decision, and the
researcher who ran the analysis cannot give it, so each becomes a FAIL with rule ``acro``.

The file is hostile like any output: bounded strict JSON, and a file name that would leave the
results.json's folder (``..``, absolute, a backslash or drive) is refused, never resolved.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, loads_bounded
from repropack.model.disclosure import CellFinding, DisclosureStatus, FileDisclosure

RULE = "acro"
_MAX_VALUES = 1_000_000  # a results.json of thousands of outputs holds far fewer
_MAX_SUMMARY = 300  # characters of ACRO's summary kept in a finding's detail
_DRIVE = re.compile(r"[A-Za-z]:")
_STATUSES = {"pass": DisclosureStatus.PASS, "fail": DisclosureStatus.FAIL, "review": DisclosureStatus.FAIL}


def read_results(path: str, data: bytes) -> dict[str, FileDisclosure] | None:
    """What the ACRO results.json at package ``path`` decided about each file it names; None if it is not one.

    Keys are package paths (the names resolved against ``path``'s folder). ``fail`` and ``review`` give a
    FAIL with one ``CellFinding(rule="acro", detail="ACRO results.json: status fail: <summary>")``, ``pass``
    a PASS; a file named by several outputs takes the worst. ``data`` is an ACRO results.json when it is a
    JSON object whose outputs (under ``results``, or at the top level) carry ``status`` and ``files``.
    BadInput, one line naming ``path`` and the output, for an unknown status, a file entry without a name
    or a name that leaves the folder.
    """
    try:
        document = loads_bounded(data, max_values=_MAX_VALUES, what=path)
    except UnsafeData:
        return None  # not JSON, or not JSON anyone would write as results: not ACRO's
    outputs = _outputs(document, path)
    if outputs is None:
        return None
    folder = posixpath.dirname(path)
    decided: dict[str, FileDisclosure] = {}
    for uid, output in outputs.items():
        status = output["status"]
        if not isinstance(status, str) or status not in _STATUSES:
            raise BadInput(f"{path}: output {uid!r}: status {status!r} is none of pass, fail, review")
        if not isinstance(output["files"], list):
            raise BadInput(f"{path}: output {uid!r}: files must be a list")
        for index, entry in enumerate(output["files"]):
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if not isinstance(name, str) or not name:
                raise BadInput(f"{path}: output {uid!r}: files[{index}] names no file")
            target = _resolved(folder, name, f"{path}: output {uid!r}")
            decided[target] = _worst(decided.get(target), _decision(path, target, uid, status, output))
    return decided


def _outputs(document: Any, path: str) -> Mapping[str, Mapping[str, Any]] | None:
    """The output entries of an ACRO results.json, either shape; None when ``document`` is no such thing."""
    if not isinstance(document, Mapping):
        return None
    results = document.get("results")
    if "version" in document and isinstance(results, Mapping):
        # The current shape: every member of "results" is an output, and one that is not is a broken file.
        candidates = results
        for uid, output in candidates.items():
            if not _is_output(output):
                raise BadInput(f"{path}: output {uid!r}: needs a status and files, as ACRO writes them")
    else:
        candidates = {uid: output for uid, output in document.items() if _is_output(output)}
    return candidates or None


def _is_output(value: Any) -> bool:
    return isinstance(value, Mapping) and "status" in value and "files" in value


def _resolved(folder: str, name: str, where: str) -> str:
    """``name`` (relative to ``folder``) as a package path; BadInput for one that is absolute or climbs out."""
    parts = name.split("/")
    control = any(unicodedata.category(char) == "Cc" for char in name)
    if name.startswith("/") or "\\" in name or _DRIVE.match(name) or {"", ".", ".."} & set(parts) or control:
        raise BadInput(f"{where}: file name {name!r} leaves the results.json's folder or is unsafe; refused")
    return posixpath.join(folder, name)


def _decision(path: str, target: str, uid: str, status: str, output: Mapping[str, Any]) -> FileDisclosure:
    note = f"ACRO results.json {path}, output {uid}: status {status}"
    if status == "pass":
        return FileDisclosure(target, DisclosureStatus.PASS, note=note)
    summary = output.get("summary")
    summary = " ".join(summary.split()).rstrip("; ") if isinstance(summary, str) else ""
    if len(summary) > _MAX_SUMMARY:
        summary = summary[:_MAX_SUMMARY] + "…"
    detail = f"ACRO results.json: status {status}" + (f": {summary}" if summary else "")
    finding = CellFinding(path=target, table="", row="", column="", value="", rule=RULE, detail=detail)
    return FileDisclosure(target, DisclosureStatus.FAIL, findings=(finding,), note=note)


def _worst(earlier: FileDisclosure | None, later: FileDisclosure) -> FileDisclosure:
    if earlier is None:
        return later
    if later.status is DisclosureStatus.PASS:
        return earlier
    if earlier.status is DisclosureStatus.PASS:
        return later
    return FileDisclosure(later.path, DisclosureStatus.FAIL, earlier.findings + later.findings, earlier.note)
