"""The human-readable replay report: one self-contained HTML page (no external assets)."""

from __future__ import annotations

import jinja2

from repropack import __version__
from repropack.crate.assess import outcome
from repropack.model.results import RECORD_REPLAYED_DIR, WHAT_IF_NOTE
from repropack.resources import template_dir

REPORT_TEMPLATE = "report.html.j2"


def render_html_report(result) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,  # details quote notebook output: untrusted text
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(REPORT_TEMPLATE).render(
        r=result,
        verdict_text=("what-if, " if result.what_if else "") + result.verdict.value.replace("_", " "),
        figures=result.figures,
        version=__version__,
        replayed_dir=RECORD_REPLAYED_DIR,
        what_if_note=WHAT_IF_NOTE,
        disclosure_outcome=outcome(result.disclosure) if result.disclosure else None,
    )
