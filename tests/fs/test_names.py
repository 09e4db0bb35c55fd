"""Which file names can travel in a package (``fs.names``), and how any name is shown."""

from __future__ import annotations

import unicodedata

import pytest

from repropack.errors import BadInput
from repropack.fs.names import collisions, name_problem, refuse_untravelled, shown

NFC = unicodedata.normalize("NFC", "café.csv")
NFD = unicodedata.normalize("NFD", "café.csv")


@pytest.mark.parametrize(
    "path",
    [
        "data/input.csv",
        "my notes.md",
        "a%20b.csv",
        "run #1?.csv",
        "a+b&c=d; e,f!$@~.csv",
        "\"quoted\" 'single'.csv",
        "[red]x[/red].csv",
        "(brackets) {braces}.csv",
        "-leading-dash.csv",
        ".leading-dot.csv",
        "データ 2024/利用 回数.csv",
        "第4章 自転車の曜日別利用.ipynb",
        "Ünïcödé/émoji 📊🚲.csv",
        NFC,
        NFD,
        "a/b/c/d/e/f/g/h/deep.csv",
        "notes/x:y.csv",  # a colon past the first component is no drive
        "あ" * 85,  # 255 bytes in UTF-8: the most a component may have
    ],
)
def test_names_researchers_write_can_travel(path):
    assert name_problem(path) is None


@pytest.mark.parametrize(
    "path, fragment",
    [
        ("data/caf\udce9.csv", "not valid UTF-8"),
        ("data/a\nb.csv", "control character (U+000A)"),
        ("data/a\x1b[31mb.csv", "control character (U+001B)"),
        ("a\x7f.csv", "control character (U+007F)"),
        ("a\x9b.csv", "control character (U+009B)"),  # C1: a CSI on some terminals
        ("a\\b.csv", "backslash"),
        ("C:data.csv", "Windows drive"),
        ("data/" + "あ" * 86 + ".csv", "262 bytes in UTF-8, over the 255"),
    ],
)
def test_names_that_cannot_travel_say_why(path, fragment):
    assert fragment in name_problem(path)


def test_paths_differing_only_by_case_collide():
    assert collisions(["Data.csv", "data.csv", "other.csv"]) == [("Data.csv", "data.csv")]


def test_paths_differing_only_by_normalisation_collide():
    assert collisions([NFC, NFD]) == [tuple(sorted([NFC, NFD]))]


def test_a_folder_clash_is_reported_once_at_the_folder():
    assert collisions(["Results/a.csv", "results/a.csv", "results/b.csv"]) == [("Results", "results")]


def test_distinct_names_do_not_collide():
    assert collisions(["a.csv", "b.csv", "data/a.csv", "a%20b.csv", "a b.csv", "データ/a.csv"]) == []


def test_refusal_is_one_line_naming_the_file_shown_safely():
    with pytest.raises(BadInput) as caught:
        refuse_untravelled(["ok.csv", "data/caf\udce9\n.csv"])
    message = str(caught.value)
    assert message.startswith("data/caf\\xe9\\n.csv: ")
    assert "\n" not in message
    message.encode("utf-8")  # printable on any UTF-8 stderr


def test_a_normalisation_clash_shows_both_spellings():
    with pytest.raises(BadInput, match="two Unicode normalisations") as caught:
        refuse_untravelled([NFC, NFD])
    assert "'cafe\\u0301.csv'" in str(caught.value) and "'caf\\xe9.csv'" in str(caught.value)


def test_a_case_clash_names_both_files():
    with pytest.raises(BadInput, match=r"^Notes\.md and notes\.md: the names differ only by letter case"):
        refuse_untravelled(["notes.md", "Notes.md"])


def test_shown_escapes_only_what_a_terminal_would_act_on():
    assert shown("データ 2024/[red]x[/red] 📊.csv") == "データ 2024/[red]x[/red] 📊.csv"
    assert shown("a\x1b[31m\tb\u202ec\udcff") == "a\\x1b[31m\\tb\\u202ec\\xff"
