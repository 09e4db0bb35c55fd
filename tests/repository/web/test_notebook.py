"""The safe notebook reader: text stays text, a PNG is shown only when it is one, everything else is a note."""

from __future__ import annotations

import base64
import json

import pytest

from repropack.fs.bounded import UnsafeData
from repropack.repository.web.notebook import CellPart, OutputPart, notebook_cells
from tests.repository.web.samples import PNG


def _one_cell(*outputs: dict, **cell) -> CellPart:
    body = {"cell_type": "code", "execution_count": 3, "source": ["a = 1\n", "a"], "outputs": list(outputs), **cell}
    (only,) = notebook_cells(json.dumps({"nbformat": 4, "cells": [body]}).encode())
    return only


def test_sources_and_streams_are_text_without_terminal_codes() -> None:
    cell = _one_cell({"output_type": "stream", "text": ["\x1b[1;31mred\x1b[0m\x07 <b>\n"]})
    assert (cell.kind, cell.source, cell.execution_count) == ("code", "a = 1\na", 3)
    assert cell.outputs == (OutputPart("text", "red <b>\n"),)


def test_a_png_is_kept_only_when_it_decodes_to_a_png() -> None:
    good = base64.b64encode(PNG).decode()
    assert _one_cell({"output_type": "display_data", "data": {"image/png": good + "\n"}}).outputs == (
        OutputPart("png", png=good),
    )
    for fake in (base64.b64encode(b"GIF89a").decode(), "not base64!", good[:-3] + '"><'):
        (text, note) = _one_cell(
            {"output_type": "display_data", "data": {"image/png": fake, "text/plain": "<Fig>"}}
        ).outputs
        assert text == OutputPart("text", "<Fig>")
        assert note.kind == "note" and "image/png (not a valid PNG)" in note.text


def test_html_javascript_and_svg_are_never_passed_on() -> None:
    data = {"text/html": "<script>x</script>", "application/javascript": "x()", "image/svg+xml": "<svg onload=x>"}
    (note,) = _one_cell({"output_type": "execute_result", "data": data}).outputs
    assert note == OutputPart(
        "note",
        "not shown here, as it could run code or is not a checked image: application/javascript, image/svg+xml, text/html",
    )


def test_an_error_shows_its_traceback_or_its_name_and_value() -> None:
    with_traceback = _one_cell(
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\x1b[31mE\x1b[0m", "v"]}
    )
    assert with_traceback.outputs == (OutputPart("error", "E\nv"),)
    bare = _one_cell({"output_type": "error", "ename": "KeyError", "evalue": "'x'"})
    assert bare.outputs == (OutputPart("error", "KeyError: 'x'"),)


def test_odd_shapes_are_left_out_rather_than_trusted() -> None:
    cell = _one_cell({"output_type": "update_display_data"}, "not a dict", execution_count=True, cell_type="<b>")
    assert cell.kind == "raw" and cell.execution_count is None and cell.outputs == ()  # a raw cell has no outputs
    assert _one_cell({"output_type": "weird"}).outputs[0].text == "an output of type 'weird' is not shown"


@pytest.mark.parametrize("data", [b"[]", b'{"cells": 3}', b"\xff", b'{"cells": [], "cells": []}', b"[" * 200])
def test_something_that_is_not_a_notebook_is_unsafe_data(data: bytes) -> None:
    with pytest.raises(UnsafeData):
        notebook_cells(data)
