"""The replay verdict in the terminal: file names shown literally (never as rich markup, never as control codes),
and a verdict that explains itself: recorded vs replayed labelled, "N of M outputs differ", the record and report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console

from repropack.model import (
    CauseKind,
    FailureCause,
    OutputComparison,
    OutputStatus,
    ReplayedPackage,
    ReplayResult,
    Verdict,
)
from repropack.ui.terminal import DETAILED_OUTPUTS, DIFF_LINES, render_replay
from tests.samples import sample_replay_result

#: Names a researcher may give files, and one a hostile package may carry.
NAMES = (
    "[red]x[/red].csv",
    "[bold]draft[/bold] results.csv",
    "データ 2024/利用 回数.csv",
    "a%20b #1?.csv",
    "<script>alert(1)</script>.csv",
    "\"quoted\" & 'single'.csv",
)
HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07.csv"


def replay_result_naming(*paths: str, cause: FailureCause | None = None) -> ReplayResult:
    """A replay result whose outputs, cause, drift and detail all carry ``paths``."""
    return sample_replay_result(
        package=ReplayedPackage(Path("/pkgs/[bold]study[/bold].crate.zip"), "[i]Study[/i] <b>x</b>", "0" * 64),
        verdict=Verdict.NOT_REPRODUCED if cause is None else Verdict.FAILED,
        cause=cause,
        outputs=tuple(
            OutputComparison(path, OutputStatus.DIFFERENT, "csv", f"row 2 of {path}: '[1]' != '[2]'") for path in paths
        ),
        rules={},
        drift=tuple(f"[magenta]{path}[/magenta] drifted" for path in paths[:1]),
        backend={"backend": "docker", "engine": "Docker", "engine_version": "27"},
        limits={"timeout_s": 60, "memory": "2g", "pids": 256, "network": False},
        timings={"build": 0.1},
        host="lab",
        record=Path("/records/[u]rec[/u]"),
    )


def _rendered(result: ReplayResult) -> str:
    console = Console(record=True, width=400, color_system=None)
    render_replay(console, result)
    return console.export_text()


def test_file_names_and_details_are_shown_literally():
    text = _rendered(replay_result_naming(*NAMES))
    for name in NAMES:
        assert name in text
        assert f"row 2 of {name}\n    recorded: '[1]'\n    replayed: '[2]'" in text
    assert f"drift (warning): [magenta]{NAMES[0]}[/magenta] drifted" in text
    assert "record: /records/[u]rec[/u]" in text


def test_a_cause_naming_a_file_is_shown_literally():
    cause = FailureCause(CauseKind.MISSING_INPUT, "[red]x[/red].csv not supplied (pass --input [red]x[/red].csv=FILE)")
    text = _rendered(replay_result_naming(cause=cause))
    assert (
        "cause: missing or mismatched input: [red]x[/red].csv not supplied (pass --input [red]x[/red].csv=FILE)" in text
    )


def test_control_characters_in_a_name_are_escaped_not_sent_to_the_terminal():
    text = _rendered(replay_result_naming(HOSTILE))
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07.csv" in text


# --- a verdict that explains itself ----------------------------------------------------------------


def _result(*outputs: OutputComparison, **fields) -> ReplayResult:
    return dataclasses.replace(replay_result_naming(), outputs=tuple(outputs), **{"drift": (), **fields})


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_a_differing_cell_is_shown_with_recorded_and_replayed_labelled():
    text = _rendered(
        _result(
            OutputComparison(
                "outputs/counts.csv", OutputStatus.DIFFERENT, "csv", "row 2, column 'n': '1' != '7' (1 cell differs)"
            ),
            OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
        )
    )
    lines = _lines(text)
    block = lines.index("outputs/counts.csv  different (csv)")
    assert lines[block + 1 : block + 4] == [
        "  row 2, column 'n' (1 cell differs)",
        "    recorded: '1'",
        "    replayed: '7'",
    ]
    assert "analysis.ipynb  equivalent" not in text  # only differences get a block
    assert "execution counts differ" in text  # what was tolerated stays in the table


def test_a_quoted_value_holding_the_separator_is_not_split_inside_its_quotes():
    detail = "cell 3 output 1: line 2: \"a != b: c\" != 'x'"
    text = _rendered(_result(OutputComparison("nb.ipynb", OutputStatus.DIFFERENT, "notebook", detail)))
    assert "  cell 3 output 1: line 2\n    recorded: \"a != b: c\"\n    replayed: 'x'" in text


def test_a_line_with_two_separators_is_shown_as_it_is():
    detail = "2 rows != 3 rows; row 3, column 'n': '1' != '7'"
    text = _rendered(_result(OutputComparison("t.csv", OutputStatus.DIFFERENT, "csv", detail)))
    assert f"  {detail}" in _lines(text)
    assert "recorded:" not in text


def test_a_unified_diff_labels_removed_lines_recorded_and_added_lines_replayed():
    detail = "@@ -2,2 +2,2 @@\n a,1\n-b,2\n+b,9\n… 4 more diff lines"
    text = _rendered(_result(OutputComparison("log.txt", OutputStatus.DIFFERENT, "text", detail)))
    lines = _lines(text)
    start = lines.index("  at line 2 (recorded) / 2 (replayed):")
    assert lines[start + 1].strip() == "a,1"
    assert lines[start + 2 : start + 5] == ["    recorded: b,2", "    replayed: b,9", "  … 4 more diff lines"]


def test_only_the_first_lines_of_a_long_difference_are_shown():
    detail = "\n".join(f"line {n}: 'a{n}' != 'b{n}'" for n in range(1, 11))  # 30 labelled lines
    text = _rendered(_result(OutputComparison("big.txt", OutputStatus.DIFFERENT, "text", detail)))
    assert "replayed: 'b2'" in text and "'a4'" not in text
    assert f"… {30 - DIFF_LINES} more lines" in text


def test_n_of_m_outputs_differ_counts_recorded_outputs_and_names_the_unexpected_ones():
    text = _rendered(
        _result(
            OutputComparison("a.csv", OutputStatus.DIFFERENT, "csv", "row 1, column 'x': '1' != '2'"),
            OutputComparison("b.csv", OutputStatus.MISSING, ""),
            OutputComparison("c.csv", OutputStatus.IDENTICAL, "sha256"),
            OutputComparison("nb.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
            OutputComparison("extra.log", OutputStatus.UNEXPECTED, ""),
        )
    )
    assert "2 of 4 outputs differ; 1 unexpected file" in text
    lines = _lines(text)
    missing = lines.index("b.csv  missing")
    assert lines[missing + 1 : missing + 3] == ["    recorded: in the package", "    replayed: not produced"]


def test_the_record_and_its_report_are_named_and_json_gives_the_report_path():
    result = _result(OutputComparison("c.csv", OutputStatus.IDENTICAL, "sha256"))
    text = _rendered(result)
    assert "record: /records/[u]rec[/u]" in _lines(text)
    assert "report: /records/[u]rec[/u]/report.html" in _lines(text)
    assert result.as_dict()["report"] == "/records/[u]rec[/u]/report.html"
    assert dataclasses.replace(result, record=None).as_dict()["report"] is None


def test_more_differing_outputs_than_shown_point_at_the_report():
    outputs = [
        OutputComparison(f"out{n:02}.csv", OutputStatus.DIFFERENT, "csv", f"row 1, column 'x': '{n}' != '0'")
        for n in range(DETAILED_OUTPUTS + 3)
    ]
    text = _rendered(_result(*outputs))
    assert f"out{DETAILED_OUTPUTS - 1:02}.csv  different" in text
    assert f"out{DETAILED_OUTPUTS:02}.csv  different" not in text
    assert "… and 3 more differing outputs: see the report" in text


def test_recorded_cell_errors_reproduced_are_said_on_the_verdict_line():
    errors = {"analysis.ipynb": ("cell 3: ZeroDivisionError: division by zero", "cell 5: KeyError: 'k'")}
    reproduced = _result(
        OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
        verdict=Verdict.REPRODUCED,
        recorded_errors=errors,
    )
    assert "reproduced: the recorded run had 2 cell errors, reproduced identically" in _lines(_rendered(reproduced))
    differing = dataclasses.replace(
        reproduced,
        verdict=Verdict.NOT_REPRODUCED,
        outputs=(OutputComparison("analysis.ipynb", OutputStatus.DIFFERENT, "notebook", "cell 3 output 1: error"),),
    )
    assert (
        "not reproduced: the recorded run had 2 cell errors; not reproduced identically in analysis.ipynb"
        in _rendered(differing)
    )
    assert "cell error" not in _rendered(dataclasses.replace(reproduced, recorded_errors={}))


def test_drift_says_its_severity_and_the_base_image_says_why():
    text = _rendered(
        _result(
            OutputComparison("c.csv", OutputStatus.IDENTICAL, "sha256"),
            drift=("Python 3.13.1 (recorded 3.11.2): another minor version of Python",),
            drift_info=("Python 3.11.9 (recorded 3.11.2): another micro version of the same Python",),
            base_image="repropack/base:bookworm-py3.11",
            base_image_reason="its Python 3.11 is the recorded Python's minor version (3.11.2)",
        )
    )
    assert "drift (warning): Python 3.13.1 (recorded 3.11.2): another minor version of Python" in text
    assert "drift (info): Python 3.11.9 (recorded 3.11.2): another micro version of the same Python" in text
    assert (
        "base image: repropack/base:bookworm-py3.11 (its Python 3.11 is the recorded Python's minor version (3.11.2))"
        in text
    )


def test_a_hostile_detail_is_escaped_in_the_labelled_lines():
    detail = "row 1, column 'x': '\x1b[2J' != '[red]y[/red]'"
    text = _rendered(_result(OutputComparison("a.csv", OutputStatus.DIFFERENT, "csv", detail)))
    assert "\x1b" not in text
    assert "recorded: '\\x1b[2J'" in text and "replayed: '[red]y[/red]'" in text


def test_a_disk_limit_that_could_not_be_enforced_is_said_and_an_enforced_one_is_not():
    limits = {"timeout_s": 60, "memory": "2g", "pids": 256, "network": False, "disk": "1024m"}
    unenforced = {**limits, "disk_enforcement": "not enforced: mounting a size-limited file system needs root"}
    text = _rendered(dataclasses.replace(replay_result_naming(), limits=unenforced))
    assert "disk limit not enforced: mounting a size-limited file system needs root" in text
    enforced = {**limits, "disk_enforcement": "an ext4 file system of its own on a loop device: ..."}
    assert "disk limit" not in _rendered(dataclasses.replace(replay_result_naming(), limits=enforced))
