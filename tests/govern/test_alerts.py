"""Alerts to a file, stdout and a command, and the hostile cases: a planted symlink, a failing or hanging command."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import datetime, timezone

from repropack.govern.alerts import send_alerts
from repropack.model.governance import AlertTargets, HistoryEntry, Regression, RegressionCategory


def entry(verdict: str, cause: str | None = None) -> HistoryEntry:
    return HistoryEntry(
        public_id="pkg-a",
        version=2,
        verdict=verdict,
        cause_kind="cell error" if cause else None,
        cause=cause,
        started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        finished_at=datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc),
        source="govern",
        record_sha256="ab" * 32,
        signer=None,
    )


REGRESSIONS = [
    Regression(
        public_id="pkg-a",
        version=2,
        title='hostile "title"\nwith a newline',
        category=RegressionCategory.PERSISTENT_ERROR,
        previous=entry("reproduced"),
        latest=entry("failed", "cell 3 raised KeyError"),
        reason="cell error: cell 3 raised KeyError",
    ),
    Regression(
        public_id="pkg-b",
        version=1,
        title="b",
        category=RegressionCategory.REPRODUCIBILITY_DRIFT,
        previous=entry("reproduced"),
        latest=entry("not_reproduced"),
        reason="2 outputs differ",
    ),
]


def parsed(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_file_gets_one_json_line_per_regression_appended_and_is_private(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    assert send_alerts(AlertTargets(file=alerts), REGRESSIONS, "run-1") == []
    assert send_alerts(AlertTargets(file=alerts), REGRESSIONS[:1], "run-2") == []
    lines = parsed(alerts.read_text())
    assert [(line["id"], line["govern_run"]) for line in lines] == [
        ("pkg-a", "run-1"),
        ("pkg-b", "run-1"),
        ("pkg-a", "run-2"),
    ]
    assert lines[0]["category"] == "persistent error"
    assert lines[0]["title"] == 'hostile "title"\nwith a newline'
    assert lines[0]["event"] == "regression"
    assert stat.S_IMODE(alerts.stat().st_mode) == 0o600


def test_stdout_gets_the_same_lines(capsys):
    assert send_alerts(AlertTargets(stdout=True), REGRESSIONS, "run-1") == []
    assert [line["id"] for line in parsed(capsys.readouterr().out)] == ["pkg-a", "pkg-b"]


def test_the_command_gets_the_lines_on_stdin_without_a_shell(tmp_path):
    received = tmp_path / "received"
    script = "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())"
    # The argument with shell syntax reaches the command as it is: no shell ever sees it.
    targets = AlertTargets(command=(sys.executable, "-c", script, str(received), "; touch pwned"))
    assert send_alerts(targets, REGRESSIONS, "run-1") == []
    assert [line["id"] for line in parsed(received.read_text())] == ["pkg-a", "pkg-b"]
    assert not (tmp_path / "pwned").exists()


def test_nothing_is_sent_without_regressions(tmp_path, capsys):
    alerts = tmp_path / "alerts.jsonl"
    assert send_alerts(AlertTargets(file=alerts, stdout=True), [], "run-1") == []
    assert not alerts.exists() and capsys.readouterr().out == ""


def test_a_symlinked_alert_file_is_refused_and_its_target_untouched(tmp_path, capsys):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    alerts = tmp_path / "alerts.jsonl"
    alerts.symlink_to(target)
    problems = send_alerts(AlertTargets(file=alerts, stdout=True), REGRESSIONS, "run-1")
    assert problems == [f"alert file {alerts}: is a symlink, refused"]
    assert target.read_text() == "precious\n"
    # The other targets still got their alerts.
    assert len(parsed(capsys.readouterr().out)) == 2


def test_an_alert_path_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    [problem] = send_alerts(AlertTargets(file=fifo), REGRESSIONS, "run-1")
    assert problem.startswith(f"alert file {fifo}: ")
    [problem] = send_alerts(AlertTargets(file=tmp_path), REGRESSIONS, "run-1")
    assert problem.startswith(f"alert file {tmp_path}: ")


def test_a_failing_command_is_reported_with_its_last_error_line():
    script = "import sys; sys.stdin.read(); print('first', file=sys.stderr); print('channel gone', file=sys.stderr); sys.exit(4)"
    [problem] = send_alerts(AlertTargets(command=(sys.executable, "-c", script)), REGRESSIONS, "run-1")
    assert problem.endswith(": exit status 4: channel gone")
    assert problem.startswith("alert command ")


def test_a_missing_or_hanging_command_is_reported(tmp_path):
    [missing] = send_alerts(AlertTargets(command=(str(tmp_path / "no-such-notifier"),)), REGRESSIONS, "run-1")
    assert missing.startswith(f"alert command {tmp_path / 'no-such-notifier'}: ")
    hanging = (sys.executable, "-c", "import time; time.sleep(30)")
    [slow] = send_alerts(AlertTargets(command=hanging), REGRESSIONS, "run-1", timeout=0.5)
    assert slow.endswith("no answer within 0.5s, killed")
