"""The ``text`` rule: text files compared line by line after masking."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.compare.excerpts import clip, counted
from repropack.compare.masks import TextMasks
from repropack.compare.options import option, regex_list
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome

# A diff longer than this many lines is cut: the detail points at the change, the files show the rest.
_DIFF_LINES = 10
_DIFF_LINE_WIDTH = 100


@dataclass(frozen=True)
class TextOptions:
    masks: tuple[str, ...] = option((), regex_list)  # matches are replaced by <masked> on both sides


@RULES.register
class TextRule(ComparisonRule):
    """Equal when the texts have the same lines once masks are applied.

    Line endings are ignored. Bytes that are not UTF-8 are compared as
    backslash escapes, so any file can be compared.
    """

    name = "text"
    default_globs = ("*.txt", "*.md", "*.log", "*.html", "*.tex", "*.svg")
    Options = TextOptions
    settings: TextOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._masks = TextMasks(self.settings.masks)

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        old_raw, new_raw = _read_lines(recorded), _read_lines(produced)
        old = [self._masks.apply(line) for line in old_raw]
        new = [self._masks.apply(line) for line in new_raw]
        if old != new:
            return RuleOutcome(equal=False, detail=_short_diff(old, new))
        masked = sum(1 for before, after in zip(old_raw, new_raw) if before != after)
        if masked:
            return RuleOutcome(equal=True, detail=f"only masked text differs, on {counted(masked, 'line')}")
        return RuleOutcome(equal=True, detail="same lines; line endings differ")


def _read_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="backslashreplace").splitlines()


def _short_diff(old: list[str], new: list[str]) -> str:
    diff = list(difflib.unified_diff(old, new, "recorded", "produced", n=1, lineterm=""))[2:]  # drop ---/+++ headers
    shown = [clip(line, _DIFF_LINE_WIDTH) for line in diff[:_DIFF_LINES]]
    if len(diff) > _DIFF_LINES:
        shown.append(f"… {len(diff) - _DIFF_LINES} more diff lines")
    return "\n".join(shown)
