"""Comparing printed text the way a reader does: numbers as numbers, clock readings as clock readings.

Two CPU kernels (or BLAS builds) compute the same float to within a few
units in the last place, and a repr prints those digits: ``-1.30e-15`` here
is ``-9.76e-16`` there, beside a ``1.6e+01`` that did not move. So a text is
read as tokens: numbers, dates and times (``repropack.compare.clock``) and
the text between them; the text must be the same, the numbers close:

- Two numbers written the same are equal. Two integers (no point, no
  exponent) are equal only then: counts are exact.
- Any other two numbers are equal when ``|a - b| <= rtol * max(|a|, |b|)``
  (rtol 1e-9 by default), or when both are zero at the scale of their
  paragraph: ``|a|, |b| <= noise_floor * max|x|`` over the numbers of the
  paragraph (a run of non-blank lines, at most ``PARAGRAPH_LINES`` of them)
  on either side, noise_floor 1e-12 by default. ``0.5213`` against ``0.5214``
  stays different beside any scale; ``-1.30e-15`` against ``-9.76e-16``
  beside ``1.6e+01`` are both zero.
- Spaces next to a number are alignment padding (a repr pads columns to the
  widest value, and ``-0.0`` is wider than ``0.0``), so they are not compared;
  every other character is.
- Two differing dates or times are equal when each is a clock reading of its
  own run's window.

``numbers="exact"`` compares numbers (and the spaces around them) as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from repropack.compare.clock import READING, Reading, readings
from repropack.compare.context import ComparisonContext

#: Relative tolerance between two numbers: millions of float64 epsilons, so sums taken in
#: another order or by another BLAS still agree, and still below the last digit of any value
#: printed to 8 significant digits (numpy's default) or fewer, so every printed digit counts.
DEFAULT_RTOL = 1e-9

#: Numbers within this share of their paragraph's largest magnitude are zero at that scale.
DEFAULT_NOISE_FLOOR = 1e-12

#: A run of non-blank lines longer than this is read as several paragraphs, each its own scale:
#: numpy and pandas reprs are shorter (they elide the middle of large arrays and frames), and a
#: long log file is no one result.
PARAGRAPH_LINES = 1000

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.]|\.\d)")

_SPACE = " \t"


@dataclass(frozen=True)
class NumberPolicy:
    """How numbers in text compare: exactly as text, or within ``rtol`` and the paragraph's noise floor."""

    exact: bool = False
    rtol: float = DEFAULT_RTOL
    noise_floor: float = DEFAULT_NOISE_FLOOR

    def close(self, recorded: float, produced: float, scale: float) -> bool:
        if recorded == produced:
            return True
        if not (math.isfinite(recorded) and math.isfinite(produced)):
            return False
        floor = self.noise_floor * scale
        if abs(recorded) <= floor and abs(produced) <= floor:
            return True
        return abs(produced - recorded) <= self.rtol * max(abs(recorded), abs(produced))

    def __str__(self) -> str:
        return f"rtol={self.rtol:g}, noise_floor={self.noise_floor:g}"


@dataclass
class Tally:
    """What a comparison tolerated: numbers that differ in writing, clock readings."""

    policy: NumberPolicy = field(default_factory=NumberPolicy)
    numbers: int = 0
    largest: float = 0.0
    largest_at: str = ""
    clocks: int = 0

    def note_number(self, recorded: float, produced: float, where: str) -> None:
        self.numbers += 1
        deviation = abs(produced - recorded)
        if deviation > self.largest or self.numbers == 1:
            self.largest, self.largest_at = deviation, where

    def summary(self) -> list[str]:
        """A few words for each kind of tolerated difference (none when nothing was tolerated)."""
        parts = []
        if self.numbers:
            counted = "1 number differs" if self.numbers == 1 else f"{self.numbers} numbers differ"
            at = f" at {self.largest_at}" if self.largest_at else ""
            parts.append(f"{counted} by at most {self.largest:.3g}{at} ({self.policy})")
        if self.clocks:
            readings_ = "1 clock reading" if self.clocks == 1 else f"{self.clocks} clock readings"
            parts.append(f"{readings_} within each run's window masked")
        return parts


class _Token:
    """A piece of a line: "text", a "number" (its value, and whether it is written as an integer) or a "clock" reading."""

    __slots__ = ("integer", "kind", "reading", "text", "value")

    def __init__(
        self, kind: str, text: str, value: float = 0.0, integer: bool = False, reading: Reading | None = None
    ) -> None:
        self.kind, self.text, self.value, self.integer, self.reading = kind, text, value, integer, reading


class TextComparer:
    """Compares texts line by line under a number policy, recognising clock readings when ``clock`` is on."""

    def __init__(self, policy: NumberPolicy, clock: bool = True) -> None:
        self.policy = policy
        self.clock = clock

    def first_difference(
        self,
        recorded: str,
        produced: str,
        context: ComparisonContext,
        tally: Tally,
        where: str = "",
        line_endings: bool = True,
    ) -> int | None:
        """The 0-based index of the first line that differs, or None when the texts match.

        A line one text lacks differs. With ``line_endings``, texts whose lines
        match but end differently (a trailing newline) differ at the last line.
        Tolerated numbers and clock readings are added to ``tally``, named by
        ``where`` and the line.
        """
        if recorded == produced:
            return None
        old, new = recorded.splitlines(), produced.splitlines()
        matches = self.line_matches(old, new, context, tally, where)
        for index, same in enumerate(matches):
            if not same:
                return index
        if len(old) != len(new):
            return len(matches)
        if line_endings and _endings(recorded) != _endings(produced):
            return max(len(old) - 1, 0)
        return None

    def line_matches(
        self,
        recorded: Sequence[str],
        produced: Sequence[str],
        context: ComparisonContext,
        tally: Tally,
        where: str = "",
    ) -> list[bool]:
        """For each pair of lines (as far as the shorter text goes), whether they match."""
        old, new = _Side(recorded, self), _Side(produced, self)
        results = []
        for index, (old_line, new_line) in enumerate(zip(recorded, produced)):
            if old_line == new_line:
                results.append(True)
                continue
            label = f"{where} line {index + 1}".strip() if len(recorded) > 1 else where
            scale = _Scale(old, new, index)
            results.append(self._tokens_match(old.tokens(index), new.tokens(index), scale, context, tally, label))
        return results

    def tokens(self, line: str) -> list[_Token]:
        """A line as text, number and clock-reading tokens; padding next to numbers dropped."""
        tokens: list[_Token] = []
        position = 0
        for start, end, reading in readings(line):
            tokens.extend(self._numbers(line[position:start]))
            tokens.append(_Token("clock", reading.text, reading=reading))
            position = end
        tokens.extend(self._numbers(line[position:]))
        return _without_padding(tokens)

    def _numbers(self, text: str) -> list[_Token]:
        if self.policy.exact or not text:
            return [_Token("text", text)] if text else []
        tokens = []
        position = 0
        for match in NUMBER.finditer(text):
            if match.start() > position:
                tokens.append(_Token("text", text[position : match.start()]))
            written = match.group()
            integer = "." not in written and "e" not in written and "E" not in written
            tokens.append(_Token("number", written, float(written), integer))
            position = match.end()
        if position < len(text):
            tokens.append(_Token("text", text[position:]))
        return tokens

    def _tokens_match(
        self,
        old: list[_Token],
        new: list[_Token],
        scale: _Scale,
        context: ComparisonContext,
        tally: Tally,
        where: str,
    ) -> bool:
        if len(old) != len(new):
            return False
        noted: list[tuple[float, float]] = []
        clocks = 0
        for a, b in zip(old, new):
            if a.kind != b.kind:
                return False
            if a.text == b.text:
                continue
            if a.kind == "number" and not (a.integer and b.integer) and self.policy.close(a.value, b.value, scale()):
                noted.append((a.value, b.value))
            elif a.kind == "clock" and self._both_clock(a, b, context):
                clocks += 1
            else:
                return False
        for recorded, produced in noted:
            tally.note_number(recorded, produced, where)
        tally.clocks += clocks
        return True

    def _both_clock(self, old: _Token, new: _Token, context: ComparisonContext) -> bool:
        assert old.reading is not None and new.reading is not None
        return self.clock and old.reading.within(context.recorded) and new.reading.within(context.replayed)


class _Side:
    """One text's lines, tokenised and scaled only where a comparison needs them.

    Identical lines are never tokenised; a paragraph's scale (its largest
    number) is found the first time a differing line in it asks for it.
    """

    def __init__(self, lines: Sequence[str], comparer: TextComparer) -> None:
        self._lines = lines
        self._comparer = comparer
        self._tokens: dict[int, list[_Token]] = {}
        self._paragraph: list[int] = []  # the first line of each line's paragraph
        start = 0
        for index, line in enumerate(lines):
            if not line.strip() or index - start >= PARAGRAPH_LINES:
                start = index
            self._paragraph.append(start)
        self._scales: dict[int, float] = {}

    def tokens(self, index: int) -> list[_Token]:
        if index not in self._tokens:
            self._tokens[index] = self._comparer.tokens(self._lines[index])
        return self._tokens[index]

    def scale(self, index: int) -> float:
        """The largest magnitude of a finite number in the paragraph of line ``index``.

        Read with regular expressions alone, without tokenising: a paragraph can
        be a whole log file of which one line differs.
        """
        if index >= len(self._lines):
            return 0.0
        start = self._paragraph[index]
        if start not in self._scales:
            largest = 0.0
            line = start
            while line < len(self._lines) and self._paragraph[line] == start:
                largest = max(largest, _largest_number(self._lines[line], self._comparer.policy.exact))
                line += 1
            self._scales[start] = largest
        return self._scales[start]


class _Scale:
    """The scale two lines' numbers compare at, found only when a number differs."""

    __slots__ = ("_index", "_new", "_old", "_value")

    def __init__(self, old: _Side, new: _Side, index: int) -> None:
        self._old, self._new, self._index, self._value = old, new, index, -1.0

    def __call__(self) -> float:
        if self._value < 0:
            self._value = max(self._old.scale(self._index), self._new.scale(self._index))
        return self._value


def _largest_number(line: str, exact: bool) -> float:
    if exact or not any(digit in line for digit in "0123456789"):
        return 0.0
    if ":" in line or "/" in line or "-" in line:  # a date or time may hide among the numbers
        line = READING.sub(" ", line)
    largest = 0.0
    for match in NUMBER.finditer(line):
        value = abs(float(match.group()))
        if value > largest and value != math.inf:
            largest = value
    return largest


def _without_padding(tokens: list[_Token]) -> list[_Token]:
    kept = []
    for index, token in enumerate(tokens):
        if token.kind != "text":
            kept.append(token)
            continue
        text = token.text
        if index > 0 and tokens[index - 1].kind == "number":
            text = text.lstrip(_SPACE)
        if index + 1 < len(tokens) and tokens[index + 1].kind == "number":
            text = text.rstrip(_SPACE)
        if text:
            kept.append(_Token("text", text))
    return kept


def _endings(text: str) -> list[str]:
    return [line[len(line.rstrip("\r\n")) :] for line in text.splitlines(keepends=True)]
