"""Report formats: the ways a replay's result can be written for people and programs.

A format is a small class registered by name in ``REPORT_FORMATS`` (a
``repropack.plugins.Registry``): ``@REPORT_FORMATS.register`` in a module, or
an entry point in the ``repropack.report_formats`` group of an installed
distribution. Use one as ``REPORT_FORMATS.get("html")().render(result)``.

Built-ins: ``html`` (the self-contained page of ``report_html``) and ``json``
(the ``replay --json`` object).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from repropack.plugins import Registry


class ReportFormat(ABC):
    """Renders a replay result as the text of one file.

    Subclasses set ``name`` (what users type) and ``suffix`` (the file
    name's ending, dot included, e.g. ".html"), and fill in ``render``.
    """

    name: ClassVar[str]
    suffix: ClassVar[str]

    @abstractmethod
    def render(self, result: Any) -> str:
        """The file's text for ``result`` (a ``repropack.replay.ReplayResult``); never writes anything."""


#: The report formats known to repropack: the built-ins below, then those of installed
#: distributions' ``repropack.report_formats`` entry points.
REPORT_FORMATS: Registry[type[ReportFormat]] = Registry(kind="report format", group="repropack.report_formats")


@REPORT_FORMATS.register
class HtmlReport(ReportFormat):
    """One self-contained HTML page (no external assets), for a reviewer."""

    name = "html"
    suffix = ".html"

    def render(self, result: Any) -> str:
        from repropack.record.report_html import render_html_report  # jinja2 only when a page is made

        return render_html_report(result)


@REPORT_FORMATS.register
class JsonReport(ReportFormat):
    """The ``replay --json`` object (schemas/replay-result.schema.json), indented, keys sorted, newline-ended."""

    name = "json"
    suffix = ".json"

    def render(self, result: Any) -> str:
        return json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n"
