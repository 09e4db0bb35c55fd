"""Numeric closeness shared by the rules that read numbers (csv, json), and the image rule's pixel tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The image rule's default: a pixel differs when one of its channels moves by more than
#: this (of 255). Anti-aliasing noise moves channels by 1 or 2, real changes by far more
#: (measurements in ``repropack.compare.image_rule``).
DEFAULT_TOLERANCE = 4


@dataclass(frozen=True)
class NumericTolerance:
    """``|produced - recorded| <= atol + rtol * |recorded|``, as ``numpy.isclose``.

    The recorded value is the reference, as numpy's second argument is. NaN
    equals NaN (a missing result recorded as NaN is reproduced as NaN) and an
    infinity equals only the same infinity.
    """

    rtol: float = 0.0
    atol: float = 0.0

    def close(self, recorded: float, produced: float) -> bool:
        if recorded == produced:
            return True
        if math.isnan(recorded) or math.isnan(produced):
            return math.isnan(recorded) and math.isnan(produced)
        if math.isinf(recorded) or math.isinf(produced):
            return False
        return abs(produced - recorded) <= self.atol + self.rtol * abs(recorded)

    def __str__(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


class Drift:
    """Tally of numbers that differed in writing but were close enough.

    Rules report it when they call files equal, so a reader sees what was
    tolerated.
    """

    def __init__(self, tolerance: NumericTolerance) -> None:
        self.tolerance = tolerance
        self.count = 0
        self.largest = 0.0

    def note(self, recorded: float, produced: float) -> None:
        self.count += 1
        if not (math.isnan(recorded) or math.isinf(recorded)):
            self.largest = max(self.largest, abs(produced - recorded))

    def summary(self, what: str) -> str:
        """``"3 numbers differ by at most 2e-09 (rtol=1e-06, atol=0)"``, or "" when none drifted."""
        if not self.count:
            return ""
        counted = f"1 {what} differs" if self.count == 1 else f"{self.count} {what}s differ"
        return f"{counted} by at most {self.largest:.3g} ({self.tolerance})"
