"""What statistical disclosure control decided about outputs: plain data, no I/O.

Written by ``repropack.disclosure`` (the checks), read by the gates in export and replay, by
``crate`` and ``record`` (each check becomes a Five Safes ``AssessAction`` typed ``shp#DisclosureCheck``)
and by the reports. A finding names the cell and the rule; its ``value`` is shown to the person running
the check inside the enclave and never written into a package or a record (``without_values``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any


class DisclosureStatus(str, Enum):
    """One output's (or a whole check's) outcome.

    ``fail``: a rule found a disclosive cell, or an ACRO ``results.json`` said ``fail`` or ``review``;
    the output must not leave. ``review``: nothing could be checked automatically (a figure, free
    text); a person must look before release. ``pass``: every declared cell passed every rule.
    """

    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"


@dataclass(frozen=True)
class CellFinding:
    """One disclosive cell: where it is and which rule it breaks.

    ``table`` is "" for a CSV/TSV file and names the table inside a notebook ("cell 7, output 1,
    table 1"). ``row`` is the row's label (its first column) and ``column`` the column's header.
    ``value`` is the cell as shown ("3", "" for a suppressed cell); ``detail`` one line saying why
    ("3 < 10", "recoverable from the row total 57 and the other cells").
    """

    path: str
    table: str
    row: str
    column: str
    value: str
    rule: str  # a name in disclosure.checks.CHECKS, or "acro" for an ACRO results.json's decision
    detail: str

    def describe(self) -> str:
        """One plain line, ``FILE[, TABLE]: row R, column C: value V: RULE (detail)``, leaving out what the finding
        does not have (an ACRO decision names no cell). Not escaped: ``ui.disclosure_view`` shows it safely."""
        parts = [self.path + (f", {self.table}" if self.table else "")]
        empty = '""'  # an empty row label or header, shown as such
        if self.row or self.column:
            parts.append(f"row {self.row or empty}, column {self.column or empty}")
        if self.value:
            parts.append(f"value {self.value}")
        parts.append(self.rule + (f" ({self.detail})" if self.detail else ""))
        return ": ".join(parts)


@dataclass(frozen=True)
class FileDisclosure:
    """What the check decided about one file; ``note`` says why when nothing could be checked."""

    path: str
    status: DisclosureStatus
    findings: tuple[CellFinding, ...] = ()
    note: str = ""
    tables: int = 0  # tables read in it


@dataclass(frozen=True)
class DisclosureRules:
    """The rules one check applied, and where they came from (``source``: "repropack.toml [disclosure]",
    an ACRO config's path, "--min-count", "defaults (ACRO's)").

    Defaults are ACRO's: ``safe_threshold`` 10, ``zeros_are_disclosive`` true, ``safe_nk_n`` 2,
    ``safe_nk_k`` 0.90, ``safe_pratio_p`` 0.10. ``counts`` are column patterns ("n", "count_*", or
    "FILE-GLOB:COLUMN-GLOB"); only those columns are counts. ``magnitudes`` describe tables whose rows
    are contributors (see disclosure.rules). ``overrides`` maps a file glob to the rules for those files.
    """

    min_count: int = 10
    zeros_are_disclosive: bool = True
    counts: tuple[str, ...] = ()
    nk_n: int = 2
    nk_k: float = 0.90
    p_ratio: float = 0.10
    magnitudes: tuple[Mapping[str, Any], ...] = ()
    outputs: tuple[str, ...] = ()  # file globs checked; () means every recorded output and notebook
    overrides: Mapping[str, DisclosureRules] = field(default_factory=dict)
    source: str = "defaults (ACRO's)"

    def as_dict(self) -> dict[str, Any]:
        """The rules as JSON: in ``--json``, the package's and the record's check actions."""
        return {
            "min_count": self.min_count,
            "zeros_are_disclosive": self.zeros_are_disclosive,
            "counts": list(self.counts),
            "nk_n": self.nk_n,
            "nk_k": self.nk_k,
            "p_ratio": self.p_ratio,
            "magnitudes": [dict(m) for m in self.magnitudes],
            "outputs": list(self.outputs),
            "overrides": {glob: rules.as_dict() for glob, rules in self.overrides.items()},
            "source": self.source,
        }


@dataclass(frozen=True)
class DisclosureReport:
    """One run of the checks over a set of files."""

    rules: DisclosureRules
    files: tuple[FileDisclosure, ...]
    started: datetime
    ended: datetime
    where: str = ""  # "export", "replay", "check" (the CLI), "govern"
    # package path -> the cells masked in the packed copy (``export --suppress``); empty otherwise
    suppressed: Mapping[str, tuple[CellFinding, ...]] = field(default_factory=dict)

    @property
    def status(self) -> DisclosureStatus:
        """``fail`` if any file fails and was not packed as a masked copy (``suppressed``), else ``review`` if any
        needs a person, else ``pass``."""
        statuses = {
            DisclosureStatus.PASS if f.status is DisclosureStatus.FAIL and f.path in self.suppressed else f.status
            for f in self.files
        }
        for status in (DisclosureStatus.FAIL, DisclosureStatus.REVIEW):
            if status in statuses:
                return status
        return DisclosureStatus.PASS

    def failing(self) -> tuple[str, ...]:
        """Paths of the files that must not leave, sorted."""
        return tuple(sorted(f.path for f in self.files if f.status is DisclosureStatus.FAIL))

    def needs_review(self) -> tuple[str, ...]:
        """Paths of the files a person must look at, sorted."""
        return tuple(sorted(f.path for f in self.files if f.status is DisclosureStatus.REVIEW))

    def findings(self) -> tuple[CellFinding, ...]:
        return tuple(finding for f in self.files for finding in f.findings)

    def without_values(self) -> DisclosureReport:
        """The report as it may leave the enclave: every finding's ``value`` emptied and its ``detail`` (which
        may quote the value or a total) replaced by what its rule says in general."""

        def blank(findings: tuple[CellFinding, ...]) -> tuple[CellFinding, ...]:
            return tuple(replace(finding, value="", detail=_shareable_detail(finding)) for finding in findings)

        return replace(
            self,
            files=tuple(replace(f, findings=blank(f.findings)) for f in self.files),
            suppressed={path: blank(cells) for path, cells in self.suppressed.items()},
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``disclose check --json`` object and the ``disclosure`` member of ``replay --json``."""
        return {
            "status": self.status.value,
            "where": self.where,
            "rules": self.rules.as_dict(),
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "files": [
                {
                    "path": f.path,
                    "status": f.status.value,
                    "note": f.note,
                    "tables": f.tables,
                    "findings": [_finding(c) for c in f.findings],
                }
                for f in self.files
            ],
            "suppressed": {path: [_finding(c) for c in cells] for path, cells in self.suppressed.items()},
        }


#: What each built-in rule's finding means, with no number in it: the detail a package or a record may carry.
_RULE_MEANING = {
    "threshold": "a count below the minimum count",
    "zeros": "a zero count, disclosive under these rules",
    "complementary": "a suppressed cell recoverable from a total and the other cells",
    "dominance": "a cell dominated by its largest contributors (n, k rule)",
    "p_ratio": "a cell whose largest contributor the others could estimate (p % rule)",
}


def _shareable_detail(cell: CellFinding) -> str:
    """An ACRO decision's detail is ACRO's own summary (no cell values); any other rule's is its general meaning."""
    return cell.detail if cell.rule == "acro" else _RULE_MEANING.get(cell.rule, "")


def _finding(cell: CellFinding) -> dict[str, str]:
    return {
        "path": cell.path,
        "table": cell.table,
        "row": cell.row,
        "column": cell.column,
        "value": cell.value,
        "rule": cell.rule,
        "detail": cell.detail,
    }
