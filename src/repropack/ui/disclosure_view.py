"""What disclosure control found, as plain lines: for ``disclose check`` and the export and replay gates.

Cells, row labels, column headers and file names come from outputs that may be hostile: each passes
through ``ui.text.safe`` (control and bidi characters escaped), so a cell cannot clear the terminal,
retitle it or reorder the line. The lines are plain text, no markup: print them with ``click.echo``.
A finding's value appears only when the report still holds it (``without_values`` empties it).
"""

from __future__ import annotations

from repropack.disclosure.check import NO_COUNTS
from repropack.model.disclosure import CellFinding, DisclosureReport, DisclosureRules, DisclosureStatus
from repropack.ui.text import safe

_VERDICT = {
    DisclosureStatus.PASS: "passed",
    DisclosureStatus.REVIEW: "pending a person's review",
    DisclosureStatus.FAIL: "failed",
}


def finding_line(cell: CellFinding) -> str:
    """The finding's line (``CellFinding.describe``) with every hostile character escaped.

    An ACRO decision names no cell: ``FILE: acro (ACRO results.json: status fail: ...)``.
    """
    return safe(cell.describe())


def report_lines(report: DisclosureReport, *, summary: bool = True) -> list[str]:
    """Every violating cell (one line each), then each file a person must review, then (``summary``) one line
    saying the outcome, how many cells and files, and the rules applied."""
    lines = [finding_line(cell) for f in report.files if f.status is DisclosureStatus.FAIL for cell in f.findings]
    lines += [
        f"{safe(f.path)}: {safe(f.note or 'needs review by a person')}"
        for f in report.files
        if f.status is DisclosureStatus.REVIEW
    ]
    if summary:
        lines.append(summary_line(report))
    return lines


def summary_line(report: DisclosureReport) -> str:
    """``disclosure control: failed — 2 cells in 1 file must not leave (3 files checked; min count 10, ...)``."""
    status = report.status
    failing, review = report.failing(), report.needs_review()
    cells = sum(len(f.findings) for f in report.files if f.status is DisclosureStatus.FAIL)
    said = f"disclosure control: {_VERDICT[status]}"
    if failing:
        said += f" — {_count(cells, 'cell')} in {_count(len(failing), 'file')} must not leave"
    if review:
        needs = "needs" if len(review) == 1 else "need"
        said += f"{';' if failing else ' —'} {_count(len(review), 'file')} {needs} review by a person"
    checked = _count(len(report.files), "file") + " checked"
    undeclared = sum(f.note == NO_COUNTS for f in report.files)
    if undeclared:  # nothing in them was checked: say so, or a pass would look like more than it is
        checked += f", {undeclared} with tables but no declared count columns ([disclosure] counts)"
    return f"{said} ({checked}; {rules_text(report.rules)})"


def rules_text(rules: DisclosureRules) -> str:
    """The rules in a few words, with where they came from."""
    zeros = "zeros disclosive" if rules.zeros_are_disclosive else "zeros allowed"
    counts = ", ".join(rules.counts) if rules.counts else "none declared"
    text = (
        f"min count {rules.min_count}, {zeros}, count columns: {counts}, dominance ({rules.nk_n}, {rules.nk_k:g}), "
        f"p {rules.p_ratio * 100:g} %"
    )
    if rules.overrides:
        text += f", {_count(len(rules.overrides), 'per-file override')}"
    return safe(f"{text}; from {rules.source}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
