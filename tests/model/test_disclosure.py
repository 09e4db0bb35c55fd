"""The disclosure report's outcome and what of it may leave the enclave."""

from __future__ import annotations

from datetime import datetime, timezone

from repropack.model.disclosure import (
    CellFinding,
    DisclosureReport,
    DisclosureRules,
    DisclosureStatus,
    FileDisclosure,
)

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
SMALL = CellFinding("outputs/counts.csv", "", "80+", "Neoplasms", "7", "threshold", "7 < 10")
ACRO = CellFinding("outputs/t.csv", "", "", "", "", "acro", "ACRO results.json: status review: threshold")


def _report(*files: FileDisclosure, suppressed=None) -> DisclosureReport:
    return DisclosureReport(DisclosureRules(), files, NOW, NOW, "export", suppressed or {})


def test_a_failing_file_fails_the_report_unless_its_masked_copy_is_what_leaves() -> None:
    failing = FileDisclosure("outputs/counts.csv", DisclosureStatus.FAIL, (SMALL,))
    figure = FileDisclosure("outputs/chart.png", DisclosureStatus.REVIEW, note="a figure")
    assert _report(failing, figure).status is DisclosureStatus.FAIL
    assert _report(failing, figure, suppressed={"outputs/counts.csv": (SMALL,)}).status is DisclosureStatus.REVIEW
    assert _report(failing, suppressed={"outputs/counts.csv": (SMALL,)}).status is DisclosureStatus.PASS
    assert _report(failing).failing() == ("outputs/counts.csv",)
    assert _report(figure).needs_review() == ("outputs/chart.png",)


def test_without_values_leaves_no_number_of_a_cell_in_value_or_detail() -> None:
    report = _report(
        FileDisclosure("outputs/counts.csv", DisclosureStatus.FAIL, (SMALL,)),
        FileDisclosure("outputs/t.csv", DisclosureStatus.FAIL, (ACRO,)),
        suppressed={"outputs/counts.csv": (SMALL,)},
    ).without_values()
    shared = report.as_dict()
    assert "7" not in str(shared["files"]) and "7" not in str(shared["suppressed"])
    cell = report.files[0].findings[0]
    assert (cell.value, cell.detail) == ("", "a count below the minimum count")
    assert report.files[1].findings[0].detail == ACRO.detail  # ACRO's own summary names no cell value
