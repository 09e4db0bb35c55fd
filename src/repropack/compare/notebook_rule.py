"""The ``notebook`` rule: executed notebooks compared by what their cells showed."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from itertools import groupby
from pathlib import Path
from typing import Any

import nbformat

from repropack.compare.excerpts import counted, first_differing_line, quote
from repropack.compare.image_rule import ImageRule
from repropack.compare.masks import TextMasks
from repropack.compare.options import flag, fraction, option, regex_list
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.volatile import PROGRESS_BAR, VOLATILE_LINE, VOLATILE_MASKS

# Embedded images compared by their pixels: their encoded bytes vary with the
# plotting library's version and compression even when the picture does not.
_RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif"})

# A widget output's data is a reference to live kernel state, meaningless in a saved notebook.
_WIDGET_DATA = frozenset({"application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"})

_SKIP_COMMENT = re.compile(r"#\s*NBVAL_SKIP\b")
_IGNORE_OUTPUT_COMMENT = re.compile(r"#\s*NBVAL_IGNORE_OUTPUT\b")

# More cell numbers than this are summarised as a count in a detail.
_LISTED_CELLS = 8


class _Marker(IntEnum):
    """An nbval marker on a cell; when the two sides disagree the stronger one holds."""

    NONE = 0
    IGNORE_OUTPUT = 1
    SKIP = 2


@dataclass(frozen=True)
class NotebookOptions:
    masks: tuple[str, ...] = option((), regex_list)  # extra patterns masked in text outputs
    ignore_stderr: bool = option(False, flag)
    image_threshold: float = option(0.0, fraction)  # share of pixels an embedded image may differ by


@dataclass(frozen=True)
class Shown:
    """One thing a cell showed, reduced to what carries a result."""

    position: int  # index of the cell output it starts at, as a reader of the notebook counts them
    kind: str  # "stdout", "stderr", "error", "execute_result" or "display_data"
    content: Mapping[str, Any]  # a stream: {"text"}; an error: {"ename", "evalue"}; else mime type -> data


@RULES.register
class NotebookRule(ComparisonRule):
    """Equal when every compared cell has the same source and showed the same outputs.

    Ignored: execution counts, cell ids, all metadata, widget outputs, error
    tracebacks (they name machine paths; the error's name and value are
    compared), the order of stdout against stderr between two displays (it
    depends on flush timing), and volatile text (see
    ``repropack.compare.volatile``) plus the ``masks`` option's matches.
    Progress bars are dropped from stderr, and ``ignore_stderr`` drops stderr
    altogether. Embedded raster images are compared as pixels with
    ``image_threshold``. nbval markers are honoured: ``# NBVAL_SKIP`` or tag
    ``nbval-skip`` skips a cell, ``# NBVAL_IGNORE_OUTPUT`` or tag
    ``nbval-ignore-output`` ignores its outputs. Cells are numbered from 0.
    """

    name = "notebook"
    default_globs = ("*.ipynb",)
    Options = NotebookOptions
    settings: NotebookOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._masks = TextMasks(VOLATILE_MASKS + self.settings.masks)
        self._images = ImageRule(threshold=self.settings.image_threshold)

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        old_cells = nbformat.read(recorded, as_version=4).cells
        new_cells = nbformat.read(produced, as_version=4).cells
        if len(old_cells) != len(new_cells):
            return RuleOutcome(
                equal=False, detail=f"{counted(len(old_cells), 'cell')} != {counted(len(new_cells), 'cell')}"
            )
        tolerated: list[str] = []
        ignored: list[int] = []
        skipped: list[int] = []
        # Cells and outputs are numbered from 1 in details, as a reader counts them.
        for number, (old, new) in enumerate(zip(old_cells, new_cells), start=1):
            marker = max(_marker(old), _marker(new))
            if marker is _Marker.SKIP:
                skipped.append(number)
                continue
            if old.cell_type != new.cell_type:
                return RuleOutcome(equal=False, detail=f"cell {number}: {old.cell_type} cell != {new.cell_type} cell")
            if old.source != new.source:
                source_change = first_differing_line(old.source, new.source)
                return RuleOutcome(equal=False, detail=f"cell {number}: source differs: {source_change}")
            if old.cell_type != "code":
                continue
            if marker is _Marker.IGNORE_OUTPUT:
                ignored.append(number)
                continue
            difference = self._first_difference(number, self._reduce(old.outputs), self._reduce(new.outputs), tolerated)
            if difference:
                return RuleOutcome(equal=False, detail=difference)
        return RuleOutcome(equal=True, detail=_tolerated_summary(tolerated, ignored, skipped))

    # --- reducing outputs to what carries a result ---------------------------------------------

    def _reduce(self, outputs: list[Mapping[str, Any]]) -> list[Shown]:
        shown: list[Shown] = []
        runs = groupby(enumerate(outputs), key=lambda item: item[1]["output_type"] == "stream")
        for is_stream, run in runs:
            if is_stream:
                shown.extend(self._reduce_streams(list(run)))
            else:
                shown.extend(reduced for position, output in run if (reduced := self._reduce_display(position, output)))
        return shown

    def _reduce_streams(self, run: list[tuple[int, Mapping[str, Any]]]) -> list[Shown]:
        """One Shown per stream name for a run of stream outputs between two displays.

        How a kernel splits a stream into outputs, and how stdout interleaves
        with stderr, depends on flush timing, so each stream's text is joined.
        """
        texts: dict[str, list[str]] = {}
        starts: dict[str, int] = {}
        for position, output in run:
            if output["name"] == "stderr" and self.settings.ignore_stderr:
                continue
            texts.setdefault(output["name"], []).append(output["text"])
            starts.setdefault(output["name"], position)
        shown = []
        for name in sorted(texts):
            text = self._clean_stream(name, "".join(texts[name]))
            if text.strip():  # a stream that only held progress bars showed nothing
                shown.append(Shown(starts[name], name, {"text": text}))
        return shown

    def _clean_stream(self, name: str, text: str) -> str:
        kept = []
        for line in text.split("\n"):
            # A terminal shows only what follows the last carriage return; progress bars rely on it.
            line = line.rstrip("\r").rsplit("\r", 1)[-1]
            if VOLATILE_LINE.search(line) or (name == "stderr" and PROGRESS_BAR.search(line)):
                continue
            kept.append(line)
        return self._masks.apply("\n".join(kept))

    def _reduce_display(self, position: int, output: Mapping[str, Any]) -> Shown | None:
        if output["output_type"] == "error":
            error = {"ename": self._masks.apply(output["ename"]), "evalue": self._masks.apply(output["evalue"])}
            return Shown(position, "error", error)
        data = output.get("data", {})
        if _WIDGET_DATA & data.keys():
            return None
        content = {
            mime: self._masks.apply(value) if isinstance(value, str) and mime not in _RASTER_IMAGES else value
            for mime, value in data.items()
        }
        return Shown(position, output["output_type"], content)

    # --- comparing reduced outputs -------------------------------------------------------------

    def _first_difference(self, cell: int, old: list[Shown], new: list[Shown], tolerated: list[str]) -> str:
        """Where a cell's outputs first differ, or "" when they match.

        Embedded images that differ within the threshold are noted in ``tolerated``.
        """
        for old_shown, new_shown in zip(old, new):
            where = f"cell {cell} output {old_shown.position + 1}"
            if old_shown.kind != new_shown.kind:
                return f"{where}: {old_shown.kind} != {new_shown.kind}"
            if old_shown.content.keys() != new_shown.content.keys():
                return f"{where}: {sorted(old_shown.content)} != {sorted(new_shown.content)}"
            for key in sorted(old_shown.content):
                # A stream has one text; naming its key would only add noise.
                label = where if key == "text" else f"{where} {key}"
                if difference := self._value_difference(
                    label, key, old_shown.content[key], new_shown.content[key], tolerated
                ):
                    return difference
        if len(old) > len(new):
            missing = old[len(new)]
            return (
                f"cell {cell} output {missing.position + 1}: recorded {missing.kind} not produced: {_summary(missing)}"
            )
        if len(new) > len(old):
            extra = new[len(old)]
            return f"cell {cell} output {extra.position + 1}: produced {extra.kind} not recorded: {_summary(extra)}"
        return ""

    def _value_difference(self, label: str, key: str, old: Any, new: Any, tolerated: list[str]) -> str:
        if old == new:
            return ""
        if key in _RASTER_IMAGES:
            outcome = self._images.compare_encoded(base64.b64decode(old), base64.b64decode(new))
            if outcome.equal:
                tolerated.append(f"{label}: {outcome.detail}")
                return ""
            return f"{label}: {outcome.detail}"
        if isinstance(old, str) and isinstance(new, str):
            return f"{label}: {first_differing_line(old, new)}"
        return f"{label}: {quote(old)} != {quote(new)}"


def _marker(cell: Mapping[str, Any]) -> _Marker:
    first_line = cell["source"].split("\n", 1)[0]
    tags = set(cell.get("metadata", {}).get("tags", ()))
    if "nbval-skip" in tags or _SKIP_COMMENT.search(first_line):
        return _Marker.SKIP
    if "nbval-ignore-output" in tags or _IGNORE_OUTPUT_COMMENT.search(first_line):
        return _Marker.IGNORE_OUTPUT
    return _Marker.NONE


def _summary(shown: Shown) -> str:
    """A few words on what an output showed, for an output only one side has."""
    for text_key in ("text", "text/plain"):
        if isinstance(text := shown.content.get(text_key), str):
            return quote(text.strip().split("\n", 1)[0])
    if "ename" in shown.content:
        return quote(f"{shown.content['ename']}: {shown.content['evalue']}")
    return ", ".join(sorted(shown.content)) or "no data"


def _tolerated_summary(tolerated: list[str], ignored: list[int], skipped: list[int]) -> str:
    parts = []
    if tolerated:
        more = f" (and {counted(len(tolerated) - 1, 'more image')})" if len(tolerated) > 1 else ""
        parts.append(tolerated[0] + more)
    if ignored:
        parts.append(f"outputs ignored by nbval marker: {_cell_list(ignored)}")
    if skipped:
        parts.append(f"skipped by nbval marker: {_cell_list(skipped)}")
    return "; ".join(parts) or "same outputs once execution counts, metadata and volatile text are ignored"


def _cell_list(indices: Iterable[int]) -> str:
    listed = list(indices)
    if len(listed) > _LISTED_CELLS:
        return f"{len(listed)} cells"
    return ("cell " if len(listed) == 1 else "cells ") + ", ".join(map(str, listed))
