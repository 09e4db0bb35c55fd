"""The replay verdict in the terminal shows file names literally: never as rich markup, never as control codes."""

from __future__ import annotations

from datetime import datetime, timezone
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
from repropack.ui.terminal import render_replay

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
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    return ReplayResult(
        package=ReplayedPackage(Path("/pkgs/[bold]study[/bold].crate.zip"), "[i]Study[/i] <b>x</b>", "0" * 64),
        verdict=Verdict.NOT_REPRODUCED if cause is None else Verdict.FAILED,
        cause=cause,
        outputs=tuple(
            OutputComparison(path, OutputStatus.DIFFERENT, "csv", f"row 2 of {path}: '[1]' != '[2]'") for path in paths
        ),
        rules={},
        drift=tuple(f"[magenta]{path}[/magenta] drifted" for path in paths[:1]),
        backend={"backend": "docker", "engine": "Docker", "engine_version": "27"},
        isolation="container",
        image="repropack/env:0123456789abcdef",
        image_id="sha256:" + "1" * 64,
        image_reused=True,
        limits={"timeout_s": 60, "memory": "2g", "pids": 256, "network": False},
        started=moment,
        ended=moment,
        timings={"build": 0.1},
        agent="ada",
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
        assert f"row 2 of {name}: '[1]' != '[2]'" in text
    assert f"drift: [magenta]{NAMES[0]}[/magenta] drifted" in text
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
