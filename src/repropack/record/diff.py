"""A difference shown in full: a recorded output (in the package) against the replayed one a record keeps.

The replay's verdict carries a short detail per output; ``repropack diff``
shows the whole difference: a unified diff for text (CSV, JSON, logs, ...),
executed notebooks compared cell by cell by what each cell showed (source and
outputs, not execution counts or metadata), and a summary for images (size,
how many pixels differ, by how much, and where). Nothing here writes anything.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from repropack.errors import BadInput
from repropack.record.opened import OpenedRecord, open_record, recorded_file, replayed_package

#: Statuses ``diff RECORD`` shows when no PATH is given.
DIFFERING = ("different", "missing")
#: Most lines one difference shows; the files themselves hold the rest.
MAX_LINES = 5000

_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"})
_RASTER_MIMES = frozenset({"image/png", "image/jpeg", "image/gif"})
_CELL_HEADING = "## cell "


@dataclass(frozen=True)
class OutputDiff:
    """One output's difference: the replay's judgement, where each side is, and the difference in full."""

    path: str
    status: str
    rule: str
    detail: str  # the replay's short detail
    recorded: str  # the recorded file, or why there is none
    replayed: str  # the replayed copy in the record, or why there is none
    lines: tuple[str, ...]  # the difference in full (a unified diff, or a summary)
    differs: bool  # what the two sides hold differs (or one side is absent); a notebook's execution counts do not count


def diff_record(
    record: Path, path: str | None = None, *, package: Path | None = None, context: int = 3
) -> list[OutputDiff]:
    """The full difference of output ``path`` of the replay ``record`` recorded, or of every differing output.

    ``package`` is where the replayed package is now, when it was moved. BadInput
    when the record does not verify, names no such output, or the package is not
    the one it replayed.
    """
    opened_record = open_record(record)
    outputs = {o.get("path"): o for o in opened_record.outputs if isinstance(o, dict)}
    if path is not None:
        if path not in outputs:
            known = ", ".join(sorted(str(p) for p in outputs)[:8]) or "none"
            raise BadInput(f"{path}: not an output of the replay {record.name} recorded (its outputs: {known})")
        chosen = [outputs[path]]
    else:
        chosen = [o for o in outputs.values() if o.get("status") in DIFFERING]
    if not chosen:
        return []
    with replayed_package(opened_record, package) as opened:
        diffs = []
        for output in chosen:
            recorded = recorded_file(opened, output["path"])
            diffs.append(_diff_one(opened_record, output, recorded, opened.source, context))
        return diffs


def _diff_one(
    record: OpenedRecord, output: dict[str, Any], recorded: Path | None, package: Path, context: int
) -> OutputDiff:
    path, status = output["path"], str(output.get("status"))
    replayed = record.replayed_file(path)

    def made(recorded_said: str, replayed_said: str, lines: Sequence[str], differs: bool = True) -> OutputDiff:
        return OutputDiff(
            path, status, str(output.get("rule") or ""), str(output.get("detail") or ""),
            recorded_said, replayed_said, tuple(lines), differs,
        )  # fmt: skip

    # A zipped package is read from a temporary extraction: name the file inside the zip instead.
    recorded_said = (
        (f"{package}/{path}" if package.is_dir() else f"{path} in {package}") if recorded else "not in the package"
    )
    replayed_said = str(replayed) if replayed else "not kept in the record"
    if status == "unexpected":
        return made("not recorded", replayed_said, ["produced by the replay, not recorded: nothing to compare it with"])
    if recorded is None:
        return made(
            recorded_said,
            replayed_said,
            ["the package does not hold the recorded bytes (a restricted output): only their sha256 was compared"],
        )
    if replayed is None:
        if status == "missing":
            return made(recorded_said, "not produced", ["the replay did not produce this output"])
        why = next(
            (line for line in record.result.get("replayed", {}).get("not_kept", ()) if line.startswith(path)), ""
        )
        return made(
            recorded_said, replayed_said, [f"the record does not keep the replayed copy{': ' + why if why else ''}"]
        )
    lines, differs = full_difference(path, recorded, replayed, context, names=(recorded_said, replayed_said))
    return made(recorded_said, replayed_said, lines, differs)


def full_difference(
    path: str, recorded: Path, replayed: Path, context: int = 3, *, names: tuple[str, str] | None = None
) -> tuple[list[str], bool]:
    """The difference between two files in full, by kind of file, and whether what they hold differs.

    ``names`` is how the diff's header names the two sides (default: their paths).
    """
    old, new = recorded.read_bytes(), replayed.read_bytes()
    if old == new:
        return ["the two files are identical byte for byte"], False
    shown = names or (str(recorded), str(replayed))
    labels = (f"recorded: {shown[0]}", f"replayed: {shown[1]}")
    suffix = PurePosixPath(path).suffix.lower()
    note: list[str] = []
    if suffix == ".ipynb":
        try:
            old_lines, new_lines = notebook_lines(old), notebook_lines(new)
        except Exception as error:  # not a notebook nbformat can read: compared as text
            note.append(f"(not readable as a notebook: {_reason(error)}; compared as text)")
        else:
            diff = unified(old_lines, new_lines, labels, context, _cell_of)
            if len(diff) == 2:
                return [
                    *diff,
                    "the cells show the same sources and outputs; only execution counts or metadata differ",
                ], False
            return _capped(diff), True
    elif suffix in _IMAGE_SUFFIXES:
        try:
            return image_summary(old, new), True
        except Exception as error:
            note.append(f"(not readable as an image: {_reason(error)})")
    try:
        old_text, new_text = old.decode("utf-8"), new.decode("utf-8")
    except UnicodeDecodeError:
        return [*note, *binary_summary(old, new)], True
    return _capped([*note, *unified(old_text.splitlines(), new_text.splitlines(), labels, context)]), True


def _reason(error: Exception) -> str:
    message = str(error).strip().split("\n", 1)[0]
    return message or type(error).__name__


def unified(
    old: Sequence[str],
    new: Sequence[str],
    labels: tuple[str, str],
    context: int = 3,
    section: Callable[[Sequence[str], int], str] | None = None,
) -> list[str]:
    """A unified diff (``-`` recorded, ``+`` replayed); ``section`` names where each hunk is, as git names functions."""
    out = [f"--- {labels[0]}", f"+++ {labels[1]}"]
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        header = f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"
        where = section(old, i1) if section else ""
        out.append(f"{header} {where}" if where else header)
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(" " + line for line in old[a1:a2])
                continue
            out.extend("-" + line for line in old[a1:a2])
            out.extend("+" + line for line in new[b1:b2])
    return out


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"… {len(lines) - MAX_LINES} more lines: compare the two files themselves"]


# --- notebooks ----------------------------------------------------------------------------------


def notebook_lines(data: bytes) -> list[str]:
    """An executed notebook as lines of what each cell holds and showed, for a line diff.

    Each cell starts with ``## cell N (type)``; its source lines are indented;
    each output starts with ``  -> output K: kind`` followed by its text. Raster
    images are one line (size and sha256); execution counts, ids and metadata
    are left out, as the notebook rule ignores them; so are tracebacks, which
    name machine paths (the error's name and value are kept).
    """
    import nbformat

    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    lines: list[str] = []
    for number, cell in enumerate(nb.cells, start=1):
        lines.append(f"{_CELL_HEADING}{number} ({cell.cell_type})")
        lines.extend("    " + line for line in cell.source.splitlines())
        for index, output in enumerate(cell.get("outputs", ()), start=1):
            lines.extend(_output_lines(index, output))
    return lines


def _output_lines(index: int, output: dict[str, Any]) -> list[str]:
    kind = output.get("output_type")
    where = f"  -> output {index}"
    if kind == "stream":
        return [f"{where}: {output.get('name')}", *str(output.get("text", "")).splitlines()]
    if kind == "error":
        return [f"{where}: error {output.get('ename')}: {output.get('evalue')}"]
    lines = []
    for mime, value in sorted((output.get("data") or {}).items()):
        if mime in _RASTER_MIMES and isinstance(value, str):
            lines.append(f"{where}: {kind} {mime} {_embedded_image(value)}")
        elif isinstance(value, str):
            lines.extend([f"{where}: {kind} {mime}", *value.splitlines()])
        else:
            lines.extend([f"{where}: {kind} {mime}", *json.dumps(value, indent=1, sort_keys=True).splitlines()])
    return lines or [f"{where}: {kind} (no data)"]


def _embedded_image(encoded: str) -> str:
    import base64

    raw = base64.b64decode(encoded)
    size = ""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as image:
            size = f"{image.width}×{image.height} "
    except Exception:
        pass
    return f"{size}({len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]})"


def _cell_of(lines: Sequence[str], index: int) -> str:
    for line in reversed(lines[: index + 1]):
        if line.startswith(_CELL_HEADING):
            return line.removeprefix("## ")
    return ""


# --- images and other bytes ----------------------------------------------------------------------


def image_summary(old: bytes, new: bytes) -> list[str]:
    """Two images in a few lines: size and mode of each, then how many pixels differ, by how much, and where."""
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(old)) as a, Image.open(io.BytesIO(new)) as b:
        lines = [
            f"recorded: {a.width}×{a.height} {a.mode}, {len(old)} bytes",
            f"replayed: {b.width}×{b.height} {b.mode}, {len(new)} bytes",
        ]
        if a.size != b.size:
            return [*lines, "the images differ in size, so their pixels are not compared"]
        difference = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))
        largest = difference.split()[0]
        for band in difference.split()[1:]:
            largest = ImageChops.lighter(largest, band)
        histogram = largest.histogram()
        total = a.width * a.height
        changed = total - histogram[0]
        if not changed:
            return [*lines, "same pixels: only the encoding or metadata differ"]
        peak = max(value for value, count in enumerate(histogram) if count)
        left, top, right, bottom = largest.getbbox() or (0, 0, 0, 0)
        return [
            *lines,
            f"pixels differing: {changed} of {total} ({100 * changed / total:.2f}%); "
            f"largest change of a channel {peak}/255",
            f"where: x {left}..{right - 1}, y {top}..{bottom - 1} (the box holding every changed pixel)",
        ]


def binary_summary(old: bytes, new: bytes) -> list[str]:
    first = next((i for i, (x, y) in enumerate(zip(old, new)) if x != y), min(len(old), len(new)))
    return [
        f"recorded: {len(old)} bytes, sha256 {hashlib.sha256(old).hexdigest()}",
        f"replayed: {len(new)} bytes, sha256 {hashlib.sha256(new).hexdigest()}",
        f"binary files; the first byte that differs is at offset {first}",
    ]
