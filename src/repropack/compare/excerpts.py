"""Short, readable excerpts of compared values for comparison details."""

from __future__ import annotations

from itertools import zip_longest

#: Most characters a comparison detail may have: a few lines, never a wall of text.
DETAIL_LIMIT = 600

_ELLIPSIS = "…"


def clip(text: str, limit: int = DETAIL_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def quote(value: object, width: int = 60) -> str:
    """``repr(value)``, with long strings cut so the result stays about ``width`` characters."""
    if isinstance(value, str) and len(value) > width:
        return repr(value[:width]) + _ELLIPSIS
    return clip(repr(value), width + 2)


def counted(number: int, noun: str) -> str:
    """``"1 cell"``, ``"3 cells"``: a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def first_differing_line(recorded: str, produced: str) -> str:
    """One line naming where two texts first differ: ``'42' != '43'``.

    Multi-line texts get a 1-based line number: ``line 3: 'a' != 'b'``; a line
    one text lacks shows as ``<none>``. Equal texts give an empty string.
    """
    old_lines, new_lines = recorded.splitlines(), produced.splitlines()
    pairs = zip_longest(old_lines, new_lines)
    for number, (old, new) in enumerate(pairs, start=1):
        if old != new:
            shown = f"{_line(old)} != {_line(new)}"
            single = len(old_lines) <= 1 and len(new_lines) <= 1
            return shown if single else f"line {number}: {shown}"
    # Same lines, so only line endings differ.
    return "" if recorded == produced else f"{quote(recorded)} != {quote(produced)}"


def _line(line: str | None) -> str:
    return "<none>" if line is None else quote(line)


def line_difference(recorded: str, produced: str, index: int) -> str:
    """Like ``first_differing_line``, for the line at 0-based ``index`` a comparison found differing."""
    old_lines, new_lines = recorded.splitlines(), produced.splitlines()
    old = old_lines[index] if index < len(old_lines) else None
    new = new_lines[index] if index < len(new_lines) else None
    if old == new:  # the lines match but end differently
        return f"{quote(recorded)} != {quote(produced)}"
    shown = f"{_line(old)} != {_line(new)}"
    single = len(old_lines) <= 1 and len(new_lines) <= 1
    return shown if single else f"line {index + 1}: {shown}"
