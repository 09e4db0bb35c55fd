"""The ``text`` rule: text files compared line by line after masking, numbers as numbers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.compare.context import NO_CONTEXT, ComparisonContext
from repropack.compare.excerpts import clip, counted
from repropack.compare.masks import TextMasks
from repropack.compare.numbers import DEFAULT_NOISE_FLOOR, DEFAULT_RTOL, NumberPolicy, Tally, TextComparer
from repropack.compare.options import choice, flag, non_negative_number, option, regex_list
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.volatile import MARKUP_SUFFIXES, RANDOM_ID_MASKS, progress_line

# A diff longer than this many lines is cut: the detail points at the change, the files show the rest.
_DIFF_LINES = 10
_DIFF_LINE_WIDTH = 100


@dataclass(frozen=True)
class TextOptions:
    masks: tuple[str, ...] = option((), regex_list)  # matches are replaced by <masked> on both sides
    numbers: str = option("close", choice("close", "exact"))  # "exact": numbers compared as text
    rtol: float = option(DEFAULT_RTOL, non_negative_number)
    noise_floor: float = option(DEFAULT_NOISE_FLOOR, non_negative_number)
    clock: bool = option(True, flag)  # dates and times within each side's run window are not compared


@RULES.register
class TextRule(ComparisonRule):
    """Equal when the texts have the same lines once masks are applied, their
    numbers are close and their clock readings are each within their run.

    Line endings are ignored. Bytes that are not UTF-8 are compared as
    backslash escapes, so any file can be compared. Progress reports (tqdm,
    dask, pip; see ``repropack.compare.volatile``) are dropped. In markup
    files (.html, .htm, .js, .svg) the identifiers libraries draw at random
    (UUIDs, matplotlib's SVG ids, pandas Styler ids) are masked. Numbers
    compare as ``repropack.compare.numbers`` says (``numbers``, ``rtol``,
    ``noise_floor``); a date or time that each side printed within its own
    run's window is a clock reading (``clock``, see ``repropack.compare.clock``).
    """

    name = "text"
    default_globs = ("*.txt", "*.md", "*.log", "*.html", "*.tex", "*.svg")
    Options = TextOptions
    settings: TextOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._masks = TextMasks(self.settings.masks)
        self._markup_masks = TextMasks(RANDOM_ID_MASKS + self.settings.masks)
        policy = NumberPolicy(self.settings.numbers == "exact", self.settings.rtol, self.settings.noise_floor)
        self._comparer = TextComparer(policy, clock=self.settings.clock)

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        return self.compare_in(recorded, produced, NO_CONTEXT)

    def compare_in(self, recorded: Path, produced: Path, context: ComparisonContext) -> RuleOutcome:
        masks = self._markup_masks if recorded.suffix.lower() in MARKUP_SUFFIXES else self._masks
        old_read, new_read = _read_lines(recorded), _read_lines(produced)
        old_raw, new_raw = _without_progress(old_read), _without_progress(new_read)
        old = [masks.apply(line) for line in old_raw]
        new = [masks.apply(line) for line in new_raw]
        tally = Tally(self._comparer.policy)
        matches = self._comparer.line_matches(old, new, context, tally)
        if len(old) != len(new) or not all(matches):
            # Lines that matched (tolerated numbers, clock readings) are shown as recorded, so
            # the diff points at what really changed.
            shown = [before if same else after for before, after, same in zip(old, new, matches)]
            return RuleOutcome(equal=False, detail=_short_diff(old, shown + new[len(matches) :]))
        parts = []
        masked = sum(1 for a, b, c, d in zip(old_raw, new_raw, old, new) if a != b and c == d)
        if masked:
            parts.append(f"only masked text differs, on {counted(masked, 'line')}")
        parts.extend(tally.summary())
        if len(old_raw) != len(old_read) or len(new_raw) != len(new_read):
            parts.append("progress reports dropped")
        return RuleOutcome(equal=True, detail="; ".join(parts) or "same lines; line endings differ")


def _read_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="backslashreplace").splitlines()


def _without_progress(lines: list[str]) -> list[str]:
    return [kept for line in lines if (kept := progress_line(line)) is not None]


def _short_diff(old: list[str], new: list[str]) -> str:
    diff = list(difflib.unified_diff(old, new, "recorded", "produced", n=1, lineterm=""))[2:]  # drop ---/+++ headers
    shown = [clip(line, _DIFF_LINE_WIDTH) for line in diff[:_DIFF_LINES]]
    if len(diff) > _DIFF_LINES:
        shown.append(f"… {len(diff) - _DIFF_LINES} more diff lines")
    return "\n".join(shown)
