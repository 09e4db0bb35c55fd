"""govern/watch.py: the stop signals (a first one is a request, a second abandons), the interval loop, and a real
`repropack govern watch` stopped by SIGTERM while it waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from repropack.errors import BadInput, CannotRun
from repropack.govern.watch import STOPPED, StopSignal, watch
from repropack.repository.opened import init_repository


def test_a_first_signal_is_a_request_and_a_second_abandons():
    with StopSignal() as stop:
        assert not stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() and stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs between bytecodes: well before this ends
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_watch_runs_at_each_interval_until_a_stop():
    runs: list[float] = []
    reports: list[object] = []
    with StopSignal() as stop:

        def run_once():
            runs.append(time.monotonic())
            return "report"

        def on_report(report):
            reports.append(report)
            if len(reports) == 3:
                stop.request()

        assert watch(run_once, 1, stop, on_report, lambda line: None) == STOPPED
    assert len(runs) == 3 and runs[2] - runs[0] >= 1.9


def test_a_run_that_cannot_run_is_reported_and_the_watch_goes_on():
    problems: list[str] = []
    calls = []
    with StopSignal() as stop:

        def run_once():
            calls.append(1)
            if len(calls) == 1:
                raise CannotRun("the engine does not answer")
            stop.request()
            return "report"

        assert watch(run_once, 1, stop, lambda report: None, problems.append) == STOPPED
    assert len(calls) == 2 and problems == ["this run could not run (the engine does not answer); trying again in 1 s"]


def test_a_bad_policy_ends_the_watch():
    def run_once():
        raise BadInput("policy p.toml: workers must be a whole number")

    with StopSignal() as stop, pytest.raises(BadInput):
        watch(run_once, 1, stop, lambda report: None, lambda line: None)


def test_sigterm_while_the_watch_waits_ends_it_at_once(tmp_path):
    root = tmp_path / "repo"
    init_repository(root)
    policy = tmp_path / "hourly.toml"
    policy.write_text('[replay]\nbackend = "local"\n')
    watching = subprocess.Popen(
        [sys.executable, "-m", "repropack", "govern", "watch", str(policy), "--every", "1h", "--json",
         "--repository", str(root), "--executor", "local"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = watching.stdout.readline()  # the first run's report: it is waiting now
        assert '"run": "run-' in first, watching.stderr.read() if watching.poll() is not None else first
        stopped_at = time.monotonic()
        watching.send_signal(signal.SIGTERM)
        watching.wait(30)
    finally:
        watching.kill()
    assert watching.returncode == STOPPED and time.monotonic() - stopped_at < 10


# A watch whose run "replays" for 2 s, honouring should_stop as run_policy does, in a process of its own.
_SLEEPY_WATCH = """
import sys, time
from repropack.govern.watch import StopSignal, watch

def run_once():
    print("run started", flush=True)
    try:
        time.sleep(2)
    except KeyboardInterrupt:
        print("run abandoned", flush=True)
        raise
    print("run finished", flush=True)
    return "report"

with StopSignal() as stop:
    sys.exit(watch(run_once, 3600, stop, lambda report: None, print))
"""


def _sleepy_watch() -> subprocess.Popen:
    watching = subprocess.Popen(
        [sys.executable, "-c", _SLEEPY_WATCH], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert watching.stdout.readline() == "run started\n", watching.stderr.read()
    return watching


def test_sigterm_during_a_run_lets_it_finish_and_starts_no_other():
    watching = _sleepy_watch()
    try:
        watching.send_signal(signal.SIGTERM)
        out, err = watching.communicate(timeout=30)
    finally:
        watching.kill()
    assert watching.returncode == STOPPED, err
    assert out == "run finished\n"  # no "run started" again, and no hour-long wait


def test_a_second_sigterm_abandons_the_run():
    watching = _sleepy_watch()
    try:
        watching.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        watching.send_signal(signal.SIGTERM)
        out, err = watching.communicate(timeout=30)
    finally:
        watching.kill()
    assert out == "run abandoned\n" and "KeyboardInterrupt" in err and watching.returncode != 0
