"""Report formats: the registry knows html and json, and each renders a replay result as one file's text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from repropack.errors import BadInput
from repropack.model import ReplayedPackage, ReplayResult
from repropack.plugins import Registry
from repropack.record.formats import REPORT_FORMATS, HtmlReport, JsonReport, ReportFormat
from repropack.record.report_html import render_html_report
from repropack.resources import schema_path
from tests.samples import sample_replay_result


@pytest.fixture
def result() -> ReplayResult:
    """A not-reproduced replay on the local backend: one equivalent notebook and one differing table."""
    return sample_replay_result(
        package=ReplayedPackage(source=Path("/tmp/pkg"), title="Study <of counts>", metadata_sha256="a" * 64),
        backend={"backend": "local", "engine": "virtualenv", "engine_version": "3.11.7", "api_version": None},
        isolation="local virtualenv",
        image="/cache/venvs/abc",
        image_id="/cache/venvs/abc/bin/python",
        timings={"integrity": 0.01, "build": 0.0, "execute": 1.5, "compare": 0.1},
    )


def test_registry_knows_the_built_in_formats_with_their_suffixes() -> None:
    assert REPORT_FORMATS.names() == ["html", "json"]
    assert REPORT_FORMATS.get("html") is HtmlReport and HtmlReport.suffix == ".html"
    assert REPORT_FORMATS.get("json") is JsonReport and JsonReport.suffix == ".json"
    assert all(issubclass(REPORT_FORMATS.get(name), ReportFormat) for name in REPORT_FORMATS.names())
    # pyproject.toml declares the built-ins as entry points too: loading them again changed nothing.
    assert REPORT_FORMATS.problems() == []


def test_unknown_format_is_bad_input_listing_known_names() -> None:
    with pytest.raises(BadInput, match=r"^unknown report format 'pdf' \(known: html, json\)$"):
        REPORT_FORMATS.get("pdf")


def test_html_format_is_the_html_report(result: ReplayResult) -> None:
    page = REPORT_FORMATS.get("html")().render(result)

    assert page == render_html_report(result)
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "outputs/counts.csv" in page
    assert "Study &lt;of counts&gt;" in page  # escaped, as the HTML report always was


def test_json_format_is_the_replay_json_object_sorted_and_indented(result: ReplayResult) -> None:
    text = REPORT_FORMATS.get("json")().render(result)

    assert text == json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n"
    assert json.loads(text) == json.loads(json.dumps(result.as_dict()))
    assert text.splitlines()[1] == '  "agent": "ada",'  # keys sorted, two-space indent
    schema = json.loads(schema_path("replay-result.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(text))


def test_a_plugin_format_needs_only_name_suffix_and_render(result: ReplayResult) -> None:
    formats: Registry[type[ReportFormat]] = Registry(kind="report format")

    @formats.register
    class VerdictLine(ReportFormat):
        name = "verdict"
        suffix = ".txt"

        def render(self, result) -> str:
            return f"{result.package.title}: {result.verdict.value}\n"

    assert formats.names() == ["verdict"]
    assert formats.get("verdict")().render(result) == "Study <of counts>: not_reproduced\n"
    with pytest.raises(TypeError):
        type("Incomplete", (ReportFormat,), {"name": "x", "suffix": ".x"})()  # render is abstract
