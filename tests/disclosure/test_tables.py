from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from repropack.disclosure import tables
from repropack.disclosure.tables import Table, read_tables
from repropack.errors import BadInput
from tests.disclosure.kit import counts_frame, csv_bytes, notebook_bytes


def one_line_bad_input(path: str, data: bytes) -> str:
    started = time.monotonic()
    with pytest.raises(BadInput) as caught:
        read_tables(path, data)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "\n" not in message and path in message
    return message


# --- what is read -------------------------------------------------------------------------------


def test_a_pandas_csv_is_one_table_with_row_labels_first() -> None:
    [table] = read_tables("outputs/t.csv", csv_bytes(counts_frame()))
    assert table == Table(
        source="outputs/t.csv",
        name="",
        header=("group", "female", "male", "mean_cost"),
        rows=(("a", "3", "14", "1.5"), ("b", "25", "31", "7.0"), ("c", "0", "12", "2.25")),
    )


def test_tsv_and_tab_files_split_on_tabs() -> None:
    data = csv_bytes(counts_frame(), sep="\t")
    for path in ("t.tsv", "t.TAB"):
        [table] = read_tables(path, data)
        assert table.header == ("group", "female", "male", "mean_cost")


def test_a_csv_that_is_not_comma_separated_under_a_tsv_name_is_read_as_tsv() -> None:
    [table] = read_tables("t.tsv", b"a,b\n1,2\n")
    assert table.header == ("a,b",)


def test_short_rows_are_padded_and_blank_lines_dropped() -> None:
    [table] = read_tables("t.csv", b"k,n,m\r\nx,1\r\n\r\ny,2,3\r\n")
    assert table.rows == (("x", "1", ""), ("y", "2", "3"))


def test_an_empty_csv_has_no_table_and_other_files_are_not_tabular() -> None:
    assert read_tables("t.csv", b"") == []
    assert read_tables("figure.png", b"\x89PNG") is None
    assert read_tables("notes.md", b"| a | b |\n") is None
    assert read_tables("data.json", b"[]") is None


def test_every_html_table_of_a_notebook_is_read_with_pandas_index_name_as_first_header() -> None:
    frame = counts_frame()
    other = pd.DataFrame({"n": [40]}, index=["all"])
    found = read_tables("analysis.ipynb", notebook_bytes(frame, other))
    assert [t.name for t in found] == ["cell 2, output 1, table 1", "cell 3, output 1, table 1"]
    assert found[0].header == ("group", "female", "male", "mean_cost")
    assert found[0].rows[0] == ("a", "3", "14", "1.50")
    assert found[1].header == ("", "n") and found[1].rows == (("all", "40"),)


def test_nan_shows_as_nan_and_multiindex_spans_are_expanded() -> None:
    frame = pd.DataFrame(
        {("f", "n"): [1.0, None], ("f", "pct"): [0.5, 0.5], ("m", "n"): [11.0, 12.0]},
        index=pd.MultiIndex.from_tuples([("x", "1"), ("x", "2")], names=["region", "year"]),
    )
    [table] = read_tables("a.ipynb", notebook_bytes(frame))
    assert table.header[2:] == ("f / n", "f / pct", "m / n")
    assert table.rows == (("x", "1", "1.0", "0.5", "11.0"), ("x", "2", "NaN", "0.5", "12.0"))


def test_text_outputs_and_markdown_are_not_tables() -> None:
    from nbformat.v4 import new_output

    stream = new_output("stream", name="stdout", text="<table><tr><td>3</td></tr></table>")
    found = read_tables("a.ipynb", notebook_bytes(extra_outputs=[stream]))
    assert found == []


# --- hostile input ------------------------------------------------------------------------------


def test_script_and_style_text_is_not_a_cell_and_unclosed_tags_end_with_the_document() -> None:
    html = (
        "<style>td {color: red}</style><table><tr><th>k</th><th>n</th>"
        "<tr><th>a<td><script>document.write('99')</script>5<tr><th>b<td>7"
    )
    found = tables.html_tables("x.ipynb", "cell 1, output 1", html)
    assert found[0].header == ("k", "n")
    assert found[0].rows == (("a", "5"), ("b", "7"))


def test_deeply_nested_tables_are_refused_in_one_line() -> None:
    html = "<table><tr><td>" * 10_000
    notebook = json.loads(notebook_bytes())
    notebook["cells"][0]["outputs"] = [{"output_type": "display_data", "data": {"text/html": html}, "metadata": {}}]
    message = one_line_bad_input("a.ipynb", json.dumps(notebook).encode())
    assert "nested" in message


@pytest.mark.parametrize(
    "html",
    ["<a" * 200_000, "<!--x>" * 100_000, "<![CDATA[>" * 100_000, "<![if x>" * 100_000, "</" * 200_000, "<?x" * 200_000],
)
def test_html_that_makes_the_parser_quadratic_is_read_in_bounded_time(html: str) -> None:
    started = time.monotonic()
    assert tables.html_tables("x.ipynb", "p", "<table><tr><th>k</th></tr><tr><td>1</td></tr></table>" + html)
    assert time.monotonic() - started < 5


def test_comments_and_declarations_hold_no_cells() -> None:
    html = "<!DOCTYPE html><table><tr><th>k</th><th>n</th></tr><tr><td>a<!-- 3 --></td><td><![CDATA[4]]>5</td></tr></table>"
    [table] = tables.html_tables("x.ipynb", "p", html)
    assert table.rows[0][0] == "a" and table.rows[0][1].endswith("5")


def test_a_nested_table_is_its_own_table() -> None:
    html = "<table><tr><th>k</th><th>n</th></tr><tr><td>a<table><tr><th>q</th></tr><tr><td>1</td></tr></table></td><td>4</td></tr></table>"
    outer, inner = tables.html_tables("x.ipynb", "p", html)
    assert outer.rows == (("a", "4"),) and inner.header == ("q",) and inner.rows == (("1",),)


def test_huge_spans_are_capped() -> None:
    [table] = tables.html_tables(
        "x.ipynb", "p", '<table><tr><th colspan="999999999">k</th></tr><tr><td rowspan=-4>1</td></tr></table>'
    )
    assert len(table.header) == tables.MAX_SPAN


def test_too_many_html_cells_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_CELLS", 50)
    html = "<table>" + "<tr><td>1</td><td>2</td></tr>" * 30 + "</table>"
    with pytest.raises(BadInput, match="more than 50 cells"):
        tables.html_tables("x.ipynb", "p", html)


def test_a_csv_past_a_million_cells_is_refused_without_reading_it_all() -> None:
    data = ("0," * 999 + "0\n").encode() * 1001
    assert "more than 1000000 cells" in one_line_bad_input("big.csv", data)


def test_one_giant_row_is_refused_before_csv_builds_it() -> None:
    data = b"," * 3_000_000
    assert "cells" in one_line_bad_input("wide.csv", data)


def test_a_file_past_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_FILE_BYTES", 1000)
    assert "too large" in one_line_bad_input("t.csv", b"a,b\n" * 300)
    assert "too large" in one_line_bad_input("t.ipynb", b" " * 1001)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"a,b\n\xff\xfe,1\n", "not UTF-8"),
        (b'a,b\n"' + b"x" * 200_000 + b'",1\n', "malformed CSV"),
    ],
)
def test_undecodable_or_malformed_csv_is_one_line_bad_input(data: bytes, words: str) -> None:
    assert words in one_line_bad_input("t.csv", data)


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"cells": "many"}',
        b'{"cells": [{"outputs": 3}]}',
        b'{"cells": [{"outputs": [{"output_type": "display_data", "data": []}]}]}',
        b'{"cells": [{"outputs": [{"output_type": "display_data", "data": {"text/html": 5}}]}]}',
        b"\xff\xfe{}",
    ],
)
def test_a_notebook_that_is_not_one_is_one_line_bad_input(data: bytes) -> None:
    assert "not a notebook" in one_line_bad_input("analysis.ipynb", data)
