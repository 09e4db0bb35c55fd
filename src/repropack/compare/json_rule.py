"""The ``json`` rule: JSON documents compared as data, numbers within a tolerance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.compare.excerpts import counted, quote
from repropack.compare.options import non_negative_number, option
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.tolerance import Drift, NumericTolerance


@dataclass(frozen=True)
class JsonOptions:
    rtol: float = option(0.0, non_negative_number)
    atol: float = option(0.0, non_negative_number)


@RULES.register
class JsonRule(ComparisonRule):
    """Equal when both documents hold the same data.

    Key order and formatting are ignored; numbers (not booleans) are compared
    with ``rtol``/``atol``; everything else must be equal and of the same JSON
    type. A difference is named by its JSON pointer (RFC 6901).
    """

    name = "json"
    default_globs = ("*.json", "*.geojson")
    Options = JsonOptions
    settings: JsonOptions

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        old = json.loads(recorded.read_text(encoding="utf-8"))
        new = json.loads(produced.read_text(encoding="utf-8"))
        drift = Drift(NumericTolerance(self.settings.rtol, self.settings.atol))
        difference = _first_difference(old, new, "", drift)
        if difference:
            return RuleOutcome(equal=False, detail=difference)
        return RuleOutcome(equal=True, detail=drift.summary("number") or "same data; key order or formatting differ")


def _first_difference(old: Any, new: Any, pointer: str, drift: Drift) -> str:
    """Where ``old`` and ``new`` first differ, as ``"at /a/0: 1 != 2"``; "" when they match."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            inner = f"{pointer}/{_escape(key)}"
            if key not in new:
                return f"at {inner}: missing in produced"
            if key not in old:
                return f"at {inner}: not in recorded"
            if found := _first_difference(old[key], new[key], inner, drift):
                return found
        return ""
    if isinstance(old, list) and isinstance(new, list):
        for index, (old_item, new_item) in enumerate(zip(old, new)):
            if found := _first_difference(old_item, new_item, f"{pointer}/{index}", drift):
                return found
        if len(old) != len(new):
            return f"at {_where(pointer)}: {counted(len(old), 'item')} != {counted(len(new), 'item')}"
        return ""
    if _is_number(old) and _is_number(new):
        if old == new:
            return ""
        # Unconverted: ints keep their exact difference, which float() would round away.
        if drift.tolerance.close(old, new):
            drift.note(old, new)
            return ""
    elif type(old) is type(new) and old == new:
        return ""
    return f"at {_where(pointer)}: {quote(old)} != {quote(new)}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _where(pointer: str) -> str:
    return pointer or "the root"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
