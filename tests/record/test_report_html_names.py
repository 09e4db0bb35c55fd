"""The HTML replay report shows file names as written, escaped: no name becomes markup or script."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from repropack.model import CauseKind, FailureCause
from repropack.record.report_html import render_html_report
from tests.ui.test_terminal import NAMES, replay_result_naming


class _Page(HTMLParser):
    """The page as a browser reads it: visible text, the tags opened, and every attribute value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [value or "" for _, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def test_names_are_escaped_and_shown_as_written():
    result = replay_result_naming(*NAMES)
    figure = '[red]x[/red] "fig" <img src=x onerror=alert(1)>.png'
    result = dataclasses.replace(result, figures={figure: ("data:image/png;base64,AA", "data:,")})
    page = _page(render_html_report(result))
    text = "".join(page.text)
    for name in NAMES:
        assert name in text
    assert figure in text
    assert "script" not in page.tags and page.tags.count("img") == 2  # only the two figure images
    assert f"recorded {figure}" in page.attributes  # alt text: the name whole, quotes and all
    assert "[i]Study[/i] <b>x</b>" in text and "b" not in page.tags


def test_a_cause_naming_a_file_is_escaped():
    cause = FailureCause(CauseKind.MISSING_INPUT, "<script>alert(1)</script>.csv not supplied")
    page = _page(render_html_report(replay_result_naming(cause=cause)))
    assert "<script>alert(1)</script>.csv not supplied" in "".join(page.text)
    assert "script" not in page.tags
