"""The ``zeros`` rule: where zeros are disclosive, a zero count tells that nobody in the cell has the trait."""

from __future__ import annotations

from repropack.disclosure.checks.base import CHECKS, DisclosureCheck, finding, number
from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules


@CHECKS.register
class Zeros(DisclosureCheck):
    """Fails every zero in a declared count column when ``zeros_are_disclosive``; nothing otherwise."""

    name = "zeros"

    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        if not rules.zeros_are_disclosive:
            return []
        return [
            finding(path, table, r, c, self.name, "a zero count, and zeros are disclosive")
            for r, cells in enumerate(table.rows)
            for c in counts
            if number(cells[c]) == 0
        ]
