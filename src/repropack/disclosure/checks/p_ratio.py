"""The ``p_ratio`` (p %) rule: the second largest contributor must not learn the largest's amount within p %."""

from __future__ import annotations

from repropack.disclosure.checks.base import CHECKS, DisclosureCheck, contributions, shown
from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules


@CHECKS.register
class PRatio(DisclosureCheck):
    """Over the ``magnitudes`` tables: fails a cell when its total minus its two largest contributions is
    less than ``p_ratio`` times the largest (one or two contributors always fail). A zero total passes."""

    name = "p_ratio"

    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        found = []
        for label, column, amounts in contributions(table, rules, path):
            total, largest = sum(amounts), amounts[0]
            if total > 0 and total - sum(amounts[:2]) < rules.p_ratio * largest:
                detail = (
                    f"the other contributions are less than {rules.p_ratio:.0%} of the largest: "
                    "the second largest contributor could estimate it"
                )
                found.append(CellFinding(path, table.name, label, column, shown(total), self.name, detail))
        return found
