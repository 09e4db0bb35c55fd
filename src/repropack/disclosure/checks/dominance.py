"""The ``dominance`` (n, k) rule: a cell whose few largest contributors make up most of it discloses them."""

from __future__ import annotations

from repropack.disclosure.checks.base import CHECKS, DisclosureCheck, contributions, shown
from repropack.disclosure.tables import Table
from repropack.model.disclosure import CellFinding, DisclosureRules


@CHECKS.register
class Dominance(DisclosureCheck):
    """Over the ``magnitudes`` tables: fails a cell when its ``nk_n`` largest contributions are more than
    ``nk_k`` of its total (so a cell of ``nk_n`` contributors or fewer always fails). A zero total passes."""

    name = "dominance"

    def check(self, table: Table, counts: list[int], rules: DisclosureRules, path: str) -> list[CellFinding]:
        found = []
        for label, column, amounts in contributions(table, rules, path):
            total = sum(amounts)
            if total > 0 and sum(amounts[: rules.nk_n]) > rules.nk_k * total:
                detail = f"the {rules.nk_n} largest contributions are more than {rules.nk_k:.0%} of the cell total"
                found.append(CellFinding(path, table.name, label, column, shown(total), self.name, detail))
        return found
