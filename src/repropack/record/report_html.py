"""The human-readable replay report: one self-contained HTML page (no external assets)."""

from __future__ import annotations

from repropack import __version__
from repropack.crate.assess import outcome
from repropack.model.results import RECORD_REPLAYED_DIR, WHAT_IF_NOTE
from repropack.resources import templates

REPORT_TEMPLATE = "report.html.j2"


def render_html_report(result) -> str:
    template = templates(html=True).get_template(REPORT_TEMPLATE)
    return template.render(
        r=result,
        verdict_text=("what-if, " if result.what_if else "") + result.verdict.value.replace("_", " "),
        figures=result.figures,
        version=__version__,
        replayed_dir=RECORD_REPLAYED_DIR,
        what_if_note=WHAT_IF_NOTE,
        disclosure_outcome=outcome(result.disclosure) if result.disclosure else None,
    )
