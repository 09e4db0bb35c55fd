"""The ``threshold`` rule: a count below the minimum could single someone out."""

from __future__ import annotations

from repropack.disclosure.checks.base import CHECKS, DisclosureCheck, finding, number
from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules


@CHECKS.register
class Threshold(DisclosureCheck):
    """Fails every cell of a declared count column that shows a number n with 0 < n < ``min_count``
    (zeros are the ``zeros`` rule's)."""

    name = "threshold"

    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        found = []
        for r, cells in enumerate(table.rows):
            for c in counts:
                value = number(cells[c])
                if value is not None and 0 < value < rules.min_count:
                    found.append(finding(path, table, r, c, self.name, f"{cells[c].strip()} < {rules.min_count}"))
        return found
