"""Restricted data kept out of what a replay tells: the record, the report, the terminal and ``--json``.

The reviewer supplies restricted inputs in plaintext (or the package carries
them encrypted to the reviewer, decrypted for the run) and the notebooks read
them, so what the sandbox says back can quote them: a cell error whose message
holds a row, a row written to the log, a differing output whose diff excerpt
shows one, a replayed output (or the executed notebook) that holds one.
``redact_replay`` is applied to the ``ReplayResult`` before anything is written
or shown, so everything later sees only redacted text:

- every text that came from the sandbox or quotes an output (the cause, each
  output's path, detail and hint, the rules applied, drift, the log tail, the
  recorded errors, the not-kept lines) has each restricted line or value, and
  each cut excerpt of one, replaced by ``[restricted: PATH]`` (``fs/restricted.py``
  says what is sought);
- a kept replayed output (``replayed/`` in the record) that holds restricted data
  or is a copy of a restricted input is deleted and named as not kept;
- a figure pair of which either side holds restricted data is left out of the report.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from repropack.fs.restricted import Leak, RestrictedIndex
from repropack.model import FileRecord, ReplayResult
from repropack.model.disclosure import CellFinding, DisclosureReport


def supplied_plaintext(
    restricted: Iterable[FileRecord],
    inputs: Mapping[str, Path],
    inputs_dir: Path | None,
    decrypted: Mapping[str, bytes] | None = None,
) -> dict[str, Path | bytes]:
    """The file holding each restricted input the reviewer supplied (package path -> file), as the work dir
    got it (``replay/workdir.py``), and the plaintext of each one ``decrypted`` from the package
    (``replay/private_inputs.py``); inputs neither supplied nor decrypted are left out (the replay did not
    run with them)."""
    found: dict[str, Path | bytes] = {}
    for record in restricted:
        file = inputs.get(record.path) or (inputs_dir / record.path if inputs_dir is not None else None)
        if file is not None and os.path.isfile(file):
            found[record.path] = Path(file)
    return {**found, **(decrypted or {})}


def redact_replay(result: ReplayResult, plaintext: Mapping[str, Path | bytes], kept_folder: Path) -> ReplayResult:
    """``result`` with no restricted line or value of ``plaintext``'s files (or decrypted bytes) in any text, and
    the kept replayed outputs under ``kept_folder`` that hold restricted data deleted (named in ``not_kept``)."""
    if not plaintext:
        return result
    index = RestrictedIndex.of(plaintext)
    kept, dropped = _drop_leaking_files(index, kept_folder, result.replayed)
    r = index.redact
    return replace(
        result,
        cause=replace(result.cause, detail=r(result.cause.detail)) if result.cause else None,
        outputs=tuple(replace(o, path=r(o.path), detail=r(o.detail), hint=r(o.hint)) for o in result.outputs),
        rules=_redacted(index, result.rules),
        drift=tuple(r(line) for line in result.drift),
        drift_info=tuple(r(line) for line in result.drift_info),
        log_tail=r(result.log_tail),
        recorded_errors={nb: tuple(r(e) for e in errors) for nb, errors in result.recorded_errors.items()},
        figures={path: pair for path, pair in result.figures.items() if not _figure_leaks(index, path, pair)},
        replayed=kept,
        not_kept=(*(r(line) for line in result.not_kept), *dropped),
        disclosure=_redacted_disclosure(index, result.disclosure),
    )


def _redacted_disclosure(index: RestrictedIndex, report: DisclosureReport | None) -> DisclosureReport | None:
    """The disclosure report with its row labels, column names, tables and notes redacted: a label can be a value
    of a restricted input (a patient id as a row)."""
    if report is None:
        return None
    r = index.redact

    def cells(findings: tuple[CellFinding, ...]) -> tuple[CellFinding, ...]:
        return tuple(
            replace(c, path=r(c.path), table=r(c.table), row=r(c.row), column=r(c.column), detail=r(c.detail))
            for c in findings
        )

    return replace(
        report,
        files=tuple(replace(f, path=r(f.path), note=r(f.note), findings=cells(f.findings)) for f in report.files),
        suppressed={r(path): cells(found) for path, found in report.suppressed.items()},
    )


def _drop_leaking_files(
    index: RestrictedIndex, folder: Path, paths: Iterable[str]
) -> tuple[tuple[str, ...], list[str]]:
    """(the kept paths that stay, a not-kept line for each one deleted because it holds restricted data)."""
    kept, dropped = [], []
    for path in paths:
        file = folder / path
        leak = index.find(path) or _file_leak(index, file)
        if leak is None:
            kept.append(path)
            continue
        file.unlink(missing_ok=True)
        dropped.append(f"{index.redact(path)}: {leak.describe()}; never copied into a record")
    return tuple(kept), dropped


def _file_leak(index: RestrictedIndex, file: Path) -> Leak | None:
    digest = hashlib.sha256()
    with open(file, "rb") as fh:  # keep_outputs wrote it here itself: a regular file, no link
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return index.same_bytes(digest.hexdigest()) or index.find_in_file(file)


def _figure_leaks(index: RestrictedIndex, path: str, pair: tuple[str, str]) -> bool:
    if index.find(path):
        return True
    for uri in pair:
        _, _, encoded = uri.partition(";base64,")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return True  # not what the pipeline makes: nothing unreadable goes into the report
        if index.same_bytes(hashlib.sha256(data).hexdigest()) or index.find_bytes(data):
            return True
    return False


def _redacted(index: RestrictedIndex, value: Any) -> Any:
    """``value`` (JSON-like: mappings, sequences, strings) with every string, keys too, redacted."""
    if isinstance(value, str):
        return index.redact(value)
    if isinstance(value, Mapping):
        return {_redacted(index, k): _redacted(index, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redacted(index, v) for v in value)
    return value
