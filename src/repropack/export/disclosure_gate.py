"""Export's disclosure-control gate: the outputs and executed notebooks are checked before anything is written.

Runs only when the project declares ``[disclosure]`` (or ``--min-count`` is given); otherwise nothing is checked
and ``repropack.disclosure`` is never imported. A file that fails stops the export (``DisclosureRefused``,
exit 1, every violating cell listed with its value: the person exporting is inside the enclave). With
``suppress`` the failing cells are masked (``disclosure.suppress``) and the masked bytes are packed instead of
the original, which is never read into the package; the masked copies are checked again, since masking a cell
can make it recoverable from a total. What the check found goes into the package metadata as an AssessAction
(``crate.assess``), without values. Figures and free text do not block; the export warns that a person must
review them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from repropack.config import ExportSettings, ResolvedSettings
from repropack.errors import CheckFailed
from repropack.model.disclosure import CellFinding, DisclosureReport, DisclosureRules

WHERE = "export"
#: Cells listed in a refusal at most: a hostile table can hold a million (``repropack disclose check`` lists all).
MAX_LISTED_CELLS = 200


class DisclosureRefused(CheckFailed):
    """Outputs failed disclosure control: nothing was written.

    ``headline`` is the one-line summary, ``lines`` one line per violating cell (values included);
    ``str()`` is the headline followed by the lines, one per line.
    """

    def __init__(self, headline: str, lines: tuple[str, ...]) -> None:
        super().__init__("\n".join((headline, *lines)))
        self.headline = headline
        self.lines = lines


@dataclass(frozen=True)
class GateResult:
    """What the gate decided: the report (values included: strip before writing), the bytes to pack
    instead of the originals (``export --suppress``; package path -> masked bytes) and warnings for the user."""

    report: DisclosureReport
    masked: Mapping[str, bytes]
    warnings: tuple[str, ...]


def with_min_count(settings: ResolvedSettings, min_count: int) -> ResolvedSettings:
    """``settings`` with ``--min-count``: the project's ``[disclosure]`` table with its ``min_count`` replaced
    (declaring the gate when the project did not), recorded as given by a flag."""
    table = {**settings.values.disclosure, "min_count": min_count}
    return replace(
        settings,
        values=replace(settings.values, disclosure=table),
        sources={**settings.sources, "disclosure": "flag"},
    )


def declared_rules(project: Path, settings: ResolvedSettings) -> DisclosureRules | None:
    """The rules of the declared ``[disclosure]`` table (relative paths in it are the project's); None when
    nothing is declared, and then no disclosure module is imported. BadInput for a bad table: called before
    any notebook runs, so a typo costs no run."""
    s: ExportSettings = settings.values
    if not s.disclosure:
        return None
    from repropack.disclosure.rules import is_declared, rules_from_table

    return rules_from_table(s.disclosure, _where(settings), project) if is_declared(s.disclosure) else None


def check_export(
    project: Path,
    rules: DisclosureRules,
    suppress: bool,
    outputs: Iterable[str],
    notebooks: Mapping[str, bytes],
) -> GateResult:
    """Check ``outputs`` (package paths of packed output files, read from ``project``) and the executed
    ``notebooks`` (their bytes as packed) under ``rules``.

    Raises ``DisclosureRefused`` when a file fails (without ``suppress``), or with ``suppress`` when a failing
    file cannot be masked or still fails once masked; ``BadInput`` for a hostile file.
    """
    files: dict[str, Path | bytes] = {p: project / p for p in outputs}
    files.update(notebooks)
    report = _check(files, rules)
    failing = report.failing()
    if failing and not suppress:
        raise DisclosureRefused(
            f"{_count(failing)} disclosure control; nothing was written (pass --suppress to pack masked copies)",
            _cell_lines(report, failing),
        )
    masked = _masked_copies(files, report, rules) if failing else {}
    report = replace(report, suppressed={p: _by_path(report)[p] for p in masked})
    return GateResult(report, masked, _warnings(report))


def _check(files: Mapping[str, Path | bytes], rules: DisclosureRules) -> DisclosureReport:
    from repropack.disclosure.check import check_outputs

    return check_outputs(files, rules, WHERE)


def _where(settings: ResolvedSettings) -> str:
    if settings.sources.get("disclosure") == "flag":
        return "--min-count over the project's [disclosure]"
    return "the project's [disclosure]" if settings.sources.get("disclosure") == "project" else "[disclosure]"


def _masked_copies(
    files: Mapping[str, Path | bytes], report: DisclosureReport, rules: DisclosureRules
) -> dict[str, bytes]:
    """The masked bytes of every failing file; refused when one cannot be masked or still fails masked."""
    from repropack.disclosure.suppress import mask_failing

    failing = {p: _bytes(files[p]) for p in report.failing()}
    masking = mask_failing(report, failing, rules, WHERE)
    if masking.unmaskable:
        raise DisclosureRefused(
            f"{_count(masking.unmaskable)} disclosure control and cannot be masked (a figure, a file an ACRO "
            "results.json names: a person must decide); nothing was written",
            _cell_lines(report, masking.unmaskable),
        )
    if masking.still_failing:
        raise DisclosureRefused(
            f"{_count(masking.still_failing)} disclosure control even with the failing cells masked (a masked cell "
            "is recoverable from a total and the other cells: suppress more cells); nothing was written",
            _cell_lines(masking.recheck, masking.still_failing),
        )
    return dict(masking.masked)


def _by_path(report: DisclosureReport) -> dict[str, tuple[CellFinding, ...]]:
    return {f.path: f.findings for f in report.files}


def _bytes(data: Path | bytes) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else data


def _count(paths: tuple[str, ...]) -> str:
    return "1 output fails" if len(paths) == 1 else f"{len(paths)} outputs fail"


def _cell_lines(report: DisclosureReport, paths: tuple[str, ...]) -> tuple[str, ...]:
    chosen = set(paths)
    lines: list[str] = []
    for f in report.files:
        if f.path not in chosen:
            continue
        lines += [c.describe() for c in f.findings] or [f"{f.path}: {f.status.value}: {f.note}"]
    if len(lines) > MAX_LISTED_CELLS:
        more = len(lines) - MAX_LISTED_CELLS
        lines = [*lines[:MAX_LISTED_CELLS], f"... and {more} more (repropack disclose check lists them all)"]
    return tuple(lines)


def _warnings(report: DisclosureReport) -> tuple[str, ...]:
    found = []
    if report.suppressed:
        cells = sum(len(c) for c in report.suppressed.values())
        found.append(
            f"disclosure control: {cells} cell(s) masked in the packed copies of {', '.join(sorted(report.suppressed))}"
            " (--suppress); the project's own files are unchanged"
        )
    review = report.needs_review()
    if review:
        shown = ", ".join(review[:5]) + (f" and {len(review) - 5} more" if len(review) > 5 else "")
        found.append(
            f"disclosure control: {len(review)} output(s) need review by a person before release "
            f"(figures and free text cannot be checked automatically): {shown}"
        )
    return tuple(found)
