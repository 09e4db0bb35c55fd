"""Export's total timeout: each cell gets what is left of it, when that is less than the per-cell timeout."""

from __future__ import annotations

import time

from repropack.export.deadline import Deadline


def test_without_a_total_every_cell_gets_the_per_cell_timeout() -> None:
    deadline = Deadline(None)
    assert deadline.cell_timeout(600) == 600 and not deadline.passed()


def test_a_cell_gets_what_is_left_of_the_total_and_at_least_a_second() -> None:
    deadline = Deadline(10, _start=time.monotonic() - 4)
    assert deadline.cell_timeout(600) == 6
    assert deadline.cell_timeout(3) == 3  # the per-cell limit is the smaller: it stays
    spent = Deadline(10, _start=time.monotonic() - 30)
    assert spent.cell_timeout(600) == 1 and spent.passed()
