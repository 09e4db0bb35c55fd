"""Export's total timeout (``--total-timeout``): one deadline shared by every notebook run of an export.

nbclient knows only a per-cell timeout. Each cell is given the smaller of ``--timeout`` and what
is left of the total, so the cell that would overrun the total is stopped when the total ends, and
the error names the limit that stopped it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class Deadline:
    """``seconds`` from when it is made (None: no total limit)."""

    seconds: int | None
    _start: float = field(default_factory=time.monotonic)

    def cell_timeout(self, per_cell: int) -> int:
        """Seconds the next cell may run: ``per_cell``, or less when the total ends sooner (at least 1)."""
        if self.seconds is None:
            return per_cell
        left = self.seconds - (time.monotonic() - self._start)
        return max(1, min(per_cell, math.ceil(left)))

    def passed(self) -> bool:
        """Whether the total is used up (a cell stopped now was stopped by it, not by ``--timeout``)."""
        return self.seconds is not None and time.monotonic() - self._start >= self.seconds - 1
