"""The ``notebook`` rule: executed notebooks compared by what their cells showed."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from repropack.compare.context import NO_CONTEXT, ComparisonContext, cell_windows
from repropack.compare.excerpts import counted, first_differing_line, line_difference, quote
from repropack.compare.masks import TextMasks
from repropack.compare.numbers import DEFAULT_NOISE_FLOOR, DEFAULT_RTOL, NumberPolicy, Tally, TextComparer
from repropack.compare.options import channel_delta, choice, flag, fraction, non_negative_number, option, regex_list
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.tolerance import DEFAULT_TOLERANCE
from repropack.compare.volatile import (
    MARKUP_TYPES,
    PROGRESS_BAR,
    RANDOM_ID_MASKS,
    VOLATILE_LINE,
    VOLATILE_MASKS,
    progress_line,
)

if TYPE_CHECKING:
    from repropack.compare.image_rule import ImageRule

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
    image_tolerance: int = option(DEFAULT_TOLERANCE, channel_delta)  # channel delta below which pixels are equal
    numbers: str = option("close", choice("close", "exact"))  # "exact": numbers compared as text
    rtol: float = option(DEFAULT_RTOL, non_negative_number)
    noise_floor: float = option(DEFAULT_NOISE_FLOOR, non_negative_number)
    clock: bool = option(True, flag)  # dates and times within each side's run window are not compared


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
    ``repropack.compare.volatile``) plus the ``masks`` option's matches;
    in HTML, JavaScript and SVG outputs, the identifiers libraries draw at
    random (UUIDs and the like). Progress reports are dropped from stdout and
    stderr (by their shapes; on stderr also anything tqdm-like), and
    ``ignore_stderr`` drops stderr altogether. Text outputs compare numbers as
    numbers (``numbers``, ``rtol``, ``noise_floor``: see
    ``repropack.compare.numbers``), and a date or time each side printed
    within its own run is a clock reading, not compared (``clock``: see
    ``repropack.compare.clock``; a cell's window runs from the notebook's
    first timestamp to the cell's end, by the timestamps nbclient records in
    each cell, else the run's window). Embedded raster images are compared as
    pixels with ``image_tolerance`` and ``image_threshold`` (see the image
    rule). nbval markers are honoured: ``# NBVAL_SKIP`` or tag
    ``nbval-skip`` skips a cell, ``# NBVAL_IGNORE_OUTPUT`` or tag
    ``nbval-ignore-output`` ignores its outputs. Cells are numbered from 1 in details.
    """

    name = "notebook"
    default_globs = ("*.ipynb",)
    Options = NotebookOptions
    settings: NotebookOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._masks = TextMasks(VOLATILE_MASKS + self.settings.masks)
        self._markup_masks = TextMasks(VOLATILE_MASKS + RANDOM_ID_MASKS + self.settings.masks)
        # Looked up, not imported: the image rule's module registers itself when first imported.
        self._images: ImageRule = RULES.get("image")(
            threshold=self.settings.image_threshold, tolerance=self.settings.image_tolerance
        )
        policy = NumberPolicy(self.settings.numbers == "exact", self.settings.rtol, self.settings.noise_floor)
        self._text = TextComparer(policy, clock=self.settings.clock)

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        return self.compare_in(recorded, produced, NO_CONTEXT)

    def compare_in(self, recorded: Path, produced: Path, context: ComparisonContext) -> RuleOutcome:
        old_cells = nbformat.read(recorded, as_version=4).cells
        new_cells = nbformat.read(produced, as_version=4).cells
        if len(old_cells) != len(new_cells):
            return RuleOutcome(
                equal=False, detail=f"{counted(len(old_cells), 'cell')} != {counted(len(new_cells), 'cell')}"
            )
        windows = zip(cell_windows(old_cells, context.recorded), cell_windows(new_cells, context.replayed))
        tally = Tally(self._text.policy)
        tolerated: list[str] = []
        ignored: list[int] = []
        skipped: list[int] = []
        # Cells and outputs are numbered from 1 in details, as a reader counts them.
        for number, (old, new, (old_window, new_window)) in enumerate(zip(old_cells, new_cells, windows), start=1):
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
            compared = _Compared(ComparisonContext(old_window, new_window), tally, tolerated)
            difference = self._first_difference(number, self._reduce(old.outputs), self._reduce(new.outputs), compared)
            if difference:
                return RuleOutcome(equal=False, detail=difference)
        return RuleOutcome(equal=True, detail=_tolerated_summary(tolerated, tally, ignored, skipped))

    def differing_cells(
        self, recorded: Path, produced: Path, context: ComparisonContext = NO_CONTEXT
    ) -> dict[int, str] | None:
        """Every code cell (numbered from 1) whose outputs differ under this rule, with its first difference.

        Unlike ``compare_in``, which stops at the first difference, this goes on
        through every cell, judging each as it does. None when the two
        notebooks' cells do not line up (count, type or source differ): then no
        cell-by-cell answer exists.
        """
        old_cells = nbformat.read(recorded, as_version=4).cells
        new_cells = nbformat.read(produced, as_version=4).cells
        if len(old_cells) != len(new_cells):
            return None
        windows = zip(cell_windows(old_cells, context.recorded), cell_windows(new_cells, context.replayed))
        tally = Tally(self._text.policy)
        found: dict[int, str] = {}
        for number, (old, new, (old_window, new_window)) in enumerate(zip(old_cells, new_cells, windows), start=1):
            if old.cell_type != new.cell_type or old.source != new.source:
                return None
            if old.cell_type != "code" or max(_marker(old), _marker(new)) is not _Marker.NONE:
                continue
            compared = _Compared(ComparisonContext(old_window, new_window), tally, [])
            old_shown, new_shown = self._reduce(old.outputs), self._reduce(new.outputs)
            if difference := self._first_difference(number, old_shown, new_shown, compared):
                found[number] = difference
        return found

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
            if (shown := progress_line(line)) is not None:
                kept.append(shown)
        return self._masks.apply("\n".join(kept))

    def _reduce_display(self, position: int, output: Mapping[str, Any]) -> Shown | None:
        if output["output_type"] == "error":
            error = {"ename": self._masks.apply(output["ename"]), "evalue": self._masks.apply(output["evalue"])}
            return Shown(position, "error", error)
        data = output.get("data", {})
        if _WIDGET_DATA & data.keys():
            return None
        content = {mime: self._mask(mime, value) for mime, value in data.items()}
        return Shown(position, output["output_type"], content)

    def _mask(self, mime: str, value: Any) -> Any:
        if not isinstance(value, str) or mime in _RASTER_IMAGES:
            return value
        return (self._markup_masks if mime in MARKUP_TYPES else self._masks).apply(value)

    # --- comparing reduced outputs -------------------------------------------------------------

    def _first_difference(self, cell: int, old: list[Shown], new: list[Shown], compared: _Compared) -> str:
        """Where a cell's outputs first differ, or "" when they match.

        Embedded images that differ within the threshold are noted in
        ``compared.tolerated``, numbers and clock readings in ``compared.tally``.
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
                    label, key, old_shown.content[key], new_shown.content[key], compared
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

    def _value_difference(self, label: str, key: str, old: Any, new: Any, compared: _Compared) -> str:
        if old == new:
            return ""
        if key in _RASTER_IMAGES:
            outcome = self._images.compare_encoded(base64.b64decode(old), base64.b64decode(new))
            if outcome.equal:
                compared.tolerated.append(f"{label}: {outcome.detail}")
                return ""
            return f"{label}: {outcome.detail}"
        if isinstance(old, str) and isinstance(new, str):
            line = self._text.first_difference(old, new, compared.context, compared.tally, label)
            return "" if line is None else f"{label}: {line_difference(old, new, line)}"
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


@dataclass(frozen=True)
class _Compared:
    """What comparing one cell's outputs needs besides them, and where it notes what it tolerated."""

    context: ComparisonContext  # the cell's windows on both sides
    tally: Tally  # numbers and clock readings tolerated, for the whole notebook
    tolerated: list[str]  # images tolerated, for the whole notebook


def _tolerated_summary(tolerated: list[str], tally: Tally, ignored: list[int], skipped: list[int]) -> str:
    parts = []
    if tolerated:
        more = f" (and {counted(len(tolerated) - 1, 'more image')})" if len(tolerated) > 1 else ""
        parts.append(tolerated[0] + more)
    parts.extend(tally.summary())
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
