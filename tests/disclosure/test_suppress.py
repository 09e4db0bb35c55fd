from __future__ import annotations

import json

import pytest
from nbformat.v4 import new_output

from repropack.disclosure.check import check_outputs
from repropack.disclosure.suppress import suppressed_copy
from repropack.disclosure.tables import read_tables
from repropack.errors import BadInput
from repropack.model.disclosure import CellFinding, DisclosureRules, DisclosureStatus
from tests.disclosure.kit import counts_frame, csv_bytes, notebook_bytes

COUNTS = DisclosureRules(counts=("female", "male"))


def masked(path: str, data: bytes, rules: DisclosureRules = COUNTS) -> bytes:
    findings = check_outputs({path: data}, rules, "export").findings()
    assert findings
    return suppressed_copy(path, data, findings)


def test_a_csv_gets_exactly_the_failing_cells_emptied_and_then_passes() -> None:
    data = csv_bytes(counts_frame())
    out = masked("t.csv", data)
    assert out == b"group,female,male,mean_cost\na,,14,1.5\nb,25,31,7.0\nc,,12,2.25\n"
    assert masked("t.csv", data) == out
    assert check_outputs({"t.csv": out}, COUNTS, "export").status is DisclosureStatus.PASS


def test_the_delimiter_line_ending_bom_and_missing_final_newline_are_kept() -> None:
    frame = counts_frame()
    tsv = frame.to_csv(sep="\t", lineterminator="\r\n").encode("utf-8-sig")
    out = masked("t.tsv", tsv)
    assert out.startswith(b"\xef\xbb\xbfgroup\tfemale") and out.endswith(b"2.25\r\n")
    assert b"a\t\t14\t1.5\r\n" in out and b"\n" not in out.replace(b"\r\n", b"")
    bare = b"k,n\nx,3\ny,40"
    assert masked("b.csv", bare, DisclosureRules(counts=("n",))) == b"k,n\nx,\ny,40"


def test_no_finding_for_the_file_gives_the_same_bytes() -> None:
    data = b"k, n \r\nx,  3\r\n"
    other = CellFinding("other.csv", "", "x", " n ", "3", "threshold", "3 < 10")
    assert suppressed_copy("t.csv", data, []) is data
    assert suppressed_copy("t.csv", data, [other]) is data


def test_a_recoverable_suppressed_cell_masks_the_totals() -> None:
    data = b"g,f,m,Total\na,,20,31\nb,15,12,27\nTotal,,32,58\n"
    out = masked("t.csv", data, DisclosureRules(counts=("f", "m")))
    assert out == b"g,f,m,Total\na,,20,\nb,15,12,\nTotal,,,\n"
    assert check_outputs({"t.csv": out}, DisclosureRules(counts=("f", "m")), "x").status is DisclosureStatus.PASS


def test_a_contributor_table_loses_its_value_column() -> None:
    rules = DisclosureRules(magnitudes=({"file": "*", "cell": ["region"], "value": "sales"},))
    data = b"firm,region,sales\nf1,n,100\nf2,n,5\ng1,s,30\ng2,s,30\ng3,s,30\n"
    assert masked("c.csv", data, rules) == b"firm,region,sales\nf1,n,\nf2,n,\ng1,s,\ng2,s,\ng3,s,\n"


def test_a_notebook_output_becomes_the_masked_table_and_a_note() -> None:
    stream = new_output("stream", name="stdout", text="done\n")
    data = notebook_bytes(counts_frame(), extra_outputs=[stream])
    out = masked("a.ipynb", data)
    assert masked("a.ipynb", data) == out
    notebook, original = json.loads(out), json.loads(data)
    [output] = notebook["cells"][1]["outputs"]
    assert set(output["data"]) == {"text/html", "text/plain"}
    assert output["data"]["text/plain"] == "table withheld by disclosure control: 2 cells masked (threshold, zeros)"
    assert output["output_type"] == "execute_result" and output["execution_count"] == 2
    assert "25" in output["data"]["text/html"] and "14" in output["data"]["text/html"]
    [table] = read_tables("a.ipynb", out)
    assert table.rows == (("a", "", "14", "1.50"), ("b", "25", "31", "7.00"), ("c", "", "12", "2.25"))
    assert notebook["cells"][2] == original["cells"][2] and notebook["cells"][0] == original["cells"][0]
    assert check_outputs({"a.ipynb": out}, COUNTS, "export").status is DisclosureStatus.PASS


def test_a_masked_notebook_table_keeps_nothing_of_the_hostile_html() -> None:
    html = "<table><tr><th>g</th><th>female</th></tr><tr><th>a<script>steal()</script></th><td onclick=x>3</td></tr></table>"
    output = new_output("display_data", data={"text/html": html, "text/plain": "a 3"})
    out = masked("a.ipynb", notebook_bytes(extra_outputs=[output]))
    assert b"script" not in out and b"steal" not in out and b"onclick" not in out and b"a 3" not in out


@pytest.mark.parametrize(
    ("path", "data", "finding", "words"),
    [
        ("t.csv", b"k,n\na,3\n", CellFinding("t.csv", "", "", "", "", "acro", "ACRO"), "whole file"),
        ("t.csv", b"k,n\na,3\n", CellFinding("t.csv", "", "a", "m", "3", "threshold", ""), "column 'm'"),
        ("t.csv", b"", CellFinding("t.csv", "", "a", "n", "3", "threshold", ""), "empty"),
        ("f.png", b"png", CellFinding("f.png", "", "a", "n", "3", "threshold", ""), "not a table"),
        (
            "a.ipynb",
            notebook_bytes(counts_frame()),
            CellFinding("a.ipynb", "cell 9, output 1, table 1", "a", "female", "3", "threshold", ""),
            "no table",
        ),
    ],
)
def test_a_finding_that_cannot_be_masked_is_one_line_bad_input(path, data, finding, words) -> None:
    with pytest.raises(BadInput, match=words) as caught:
        suppressed_copy(path, data, [finding])
    assert "\n" not in str(caught.value)
