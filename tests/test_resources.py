"""The packaged templates: one Jinja environment per kind, so a template is compiled once per process."""

from __future__ import annotations

import jinja2
import pytest

from repropack.resources import template_dir, templates


def test_each_template_is_compiled_once_per_process():
    assert templates(html=True) is templates(html=True)
    assert templates(html=False) is templates(html=False)
    assert templates(html=True).get_template("report.html.j2") is templates(html=True).get_template("report.html.j2")


def test_html_templates_escape_and_text_templates_do_not():
    html, text = templates(html=True), templates(html=False)
    assert html.from_string("{{ v }}").render(v="<script>") == "&lt;script&gt;"
    assert text.from_string("{{ v }}\n").render(v="<script>") == "<script>\n"


def test_an_undefined_name_is_refused_in_both_kinds():
    for html in (True, False):
        with pytest.raises(jinja2.UndefinedError):
            templates(html=html).from_string("{{ missing }}").render()


def test_the_templates_are_read_from_the_packaged_folder():
    names = set(templates(html=False).list_templates())
    assert {"Dockerfile.j2", "report.html.j2"} <= names
    assert names == {str(p.relative_to(template_dir())) for p in template_dir().rglob("*") if p.is_file()}
