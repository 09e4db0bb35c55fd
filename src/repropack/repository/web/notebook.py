"""An executed notebook as plain parts a template can show safely, read-only.

A notebook in the repository was made by a stranger, so nothing in it is ever shown as markup: sources,
markdown and text outputs are text (the template escapes them); a PNG output is shown only when it
decodes as base64 to bytes that start like a PNG (then as a ``data:`` URI, which the page's
Content-Security-Policy allows for images and nothing else); HTML, JavaScript, SVG and every other rich
output are replaced by a note saying what was left out.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from repropack.fs.bounded import UnsafeData, loads_bounded

#: A notebook larger than this is listed, not shown (the page would be unusable anyway).
MAX_NOTEBOOK_BYTES = 32 * 2**20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class OutputPart:
    """One output: ``text`` to show as preformatted text, or ``png`` (base64, checked), or a ``note`` only."""

    kind: str  # "text" | "error" | "png" | "note"
    text: str = ""
    png: str = ""


@dataclass(frozen=True)
class CellPart:
    kind: str  # "code" | "markdown" | "raw"
    source: str
    execution_count: int | None
    outputs: tuple[OutputPart, ...]


def notebook_cells(data: bytes) -> tuple[CellPart, ...]:
    """The cells of an ``.ipynb`` (nbformat 4); UnsafeData when it is not a notebook this reader can show."""
    notebook = loads_bounded(data, what="notebook")
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UnsafeData("not a notebook: no list of cells")
    return tuple(_cell(cell) for cell in notebook["cells"] if isinstance(cell, dict))


def _cell(cell: dict) -> CellPart:
    kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
    count = cell.get("execution_count")
    outputs = cell.get("outputs") if kind == "code" and isinstance(cell.get("outputs"), list) else []
    return CellPart(
        kind=kind,
        source=_text(cell.get("source")),
        execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        outputs=tuple(part for output in outputs if isinstance(output, dict) for part in _output(output)),
    )


def _output(output: dict) -> tuple[OutputPart, ...]:
    kind = output.get("output_type")
    if kind == "stream":
        return (OutputPart("text", _text(output.get("text"))),)
    if kind == "error":
        lines = output.get("traceback")
        shown = _text(lines, joiner="\n") if isinstance(lines, list) and lines else None
        return (OutputPart("error", shown or f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}"),)
    if kind in ("execute_result", "display_data"):
        data = output.get("data")
        return _rich(data) if isinstance(data, dict) else ()
    return (OutputPart("note", f"an output of type {_text(kind)[:40]!r} is not shown"),)


def _rich(data: dict) -> tuple[OutputPart, ...]:
    png = _checked_png(data.get("image/png"))
    if png:
        return (OutputPart("png", png=png),)
    left_out = sorted(k for k in data if isinstance(k, str) and k not in ("text/plain", "image/png"))
    parts = []
    if "text/plain" in data:
        parts.append(OutputPart("text", _text(data["text/plain"])))
    if left_out or "image/png" in data:
        what = ", ".join(
            name[:60] for name in left_out + (["image/png (not a valid PNG)"] if "image/png" in data else [])
        )
        parts.append(OutputPart("note", f"not shown here, as it could run code or is not a checked image: {what}"))
    return tuple(parts)


def _checked_png(value: Any) -> str:
    """The base64 text when it decodes strictly to bytes with the PNG signature; "" otherwise."""
    text = _text(value)
    if not text:
        return ""
    compact = "".join(text.split())
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return compact if raw.startswith(_PNG_SIGNATURE) else ""


def _text(value: Any, *, joiner: str = "") -> str:
    """Notebook text (a string or a list of strings) without terminal colour codes or control characters."""
    if isinstance(value, list):
        value = joiner.join(item for item in value if isinstance(item, str))
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", _ANSI.sub("", value))
