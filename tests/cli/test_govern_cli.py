"""`repropack govern` as an operator runs it (subprocesses): help, refusals with one line and exit 2, --json
objects, a real policy run on the local backend, its status and history, a stop by signal, and hostile titles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repropack.repository.importer import import_package
from repropack.repository.opened import Repository, init_repository
from tests.govern.conftest import REPRODUCED, governed_repository
from tests.repository.builders import FAST_POLICY
from tests.repository.cli_runner import repropack

pytestmark = pytest.mark.usefixtures("replay_cache")

LOCAL_POLICY = 'name = "nightly"\nworkers = 1\nretries = 0\n[replay]\nbackend = "local"\n'


def _one_line_error(done: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repropack: error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def empty_repository(tmp_path) -> Path:
    root = tmp_path / "repo"
    init_repository(root)
    return root


@pytest.mark.parametrize("command", ["run", "watch", "status", "history", "regressions"])
def test_every_command_has_help_that_teaches(command):
    done = repropack("govern", command, "--help")
    assert done.returncode == 0 and "Example" in done.stdout and "--repository" in done.stdout, done.stdout


def test_a_bad_policy_is_refused_in_one_line_with_exit_2(tmp_path, empty_repository):
    policy = tmp_path / "bad.toml"
    policy.write_text("workers = 0\n")
    _one_line_error(repropack("govern", "run", policy, "--repository", empty_repository, "--json"), 2, "workers")
    _one_line_error(
        repropack("govern", "run", tmp_path / "absent.toml", "--repository", empty_repository), 2, "missing"
    )


def test_bad_options_are_refused_with_exit_2(tmp_path, empty_repository):
    policy = tmp_path / "p.toml"
    policy.write_text(LOCAL_POLICY)
    _one_line_error(
        repropack("govern", "run", policy, "--workers", "0", "--repository", empty_repository), 2, "--workers"
    )
    _one_line_error(
        repropack("govern", "run", policy, "--executor", "nonesuch", "--repository", empty_repository), 2, "nonesuch"
    )
    _one_line_error(
        repropack("govern", "run", policy, "--executor", "local", "--scheduler", "tcp://127.0.0.1:1",
                  "--repository", empty_repository),
        2, "scheduler",
    )  # fmt: skip
    _one_line_error(
        repropack("govern", "watch", policy, "--every", "often", "--repository", empty_repository), 2, "--every"
    )
    _one_line_error(repropack("govern", "status", "--repository", tmp_path / "not-a-repo"), 2, "not a repropack")


def test_an_empty_repository_answers_with_one_json_object_each(empty_repository):
    status = repropack("govern", "status", "--repository", empty_repository, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["packages"] == []
    regressions = repropack("govern", "regressions", "--repository", empty_repository, "--json")
    assert regressions.returncode == 0 and json.loads(regressions.stdout)["regressions"] == []
    assert json.loads(regressions.stdout)["settings"]["repository"]["value"] == str(empty_repository)


def test_the_history_of_an_unknown_package_is_refused_as_show_refuses_it(empty_repository):
    line = _one_line_error(repropack("govern", "history", "pkg-000000000000", "--repository", empty_repository), 2)
    shown = _one_line_error(repropack("show", "pkg-000000000000", "--repository", empty_repository), 2)
    assert line == shown


def test_a_policy_run_then_its_status_and_history(tmp_path, govern_packages):
    governed = governed_repository(tmp_path / "repo", govern_packages)
    governed.repository.close()
    root = tmp_path / "repo"
    policy = tmp_path / "nightly.toml"
    policy.write_text(LOCAL_POLICY)

    done = repropack("govern", "run", policy, "--repository", root, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["counts"]["done"] == 3 and report["exit_code"] == 0
    assert report["settings"]["repository"] == {"value": str(root), "source": "--repository"}
    assert f"starting policy run {report['run']}: 3 to replay of 3" in done.stderr
    assert sorted(t["verdict"] for t in report["tasks"]) == ["failed", "not_reproduced", "reproduced"]

    status = json.loads(repropack("govern", "status", "--repository", root, "--json").stdout)
    verdicts = {p["title"]: p["verdict"] for p in status["packages"]}
    assert verdicts[REPRODUCED] == "reproduced" and all(p["runs"] == 1 for p in status["packages"])

    public_id = governed.ids[REPRODUCED]
    history = json.loads(repropack("govern", "history", public_id, "--repository", root, "--json").stdout)
    (entry,) = history["history"]
    assert (entry["govern_run"], entry["source"], entry["verdict"]) == (report["run"], "govern", "reproduced")

    table = repropack("govern", "status", "--repository", root, COLUMNS="200")
    assert table.returncode == 0 and REPRODUCED in table.stdout

    # The run finished: the same policy again opens a new run; one selecting what was not replayed today has none.
    policy.write_text(LOCAL_POLICY + '[select]\nnot_replayed_for = "1d"\n')
    again = json.loads(repropack("govern", "run", policy, "--repository", root, "--json").stdout)
    assert again["run"] != report["run"] and again["resumed"] is False and again["tasks"] == []


def test_the_policy_names_its_repository_and_a_flag_overrides_it(tmp_path, govern_packages):
    governed = governed_repository(tmp_path / "repo", govern_packages)
    governed.repository.close()
    policy = tmp_path / "policies" / "mine.toml"
    policy.parent.mkdir()
    policy.write_text(
        f'repository = "../repo"\n[select]\nids = ["{governed.ids[REPRODUCED]}"]\n[replay]\nbackend = "local"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "REPROPACK_REPOSITORY"}
    done = subprocess.run(
        [sys.executable, "-m", "repropack", "govern", "run", str(policy), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["settings"]["repository"]["source"] == f"policy {policy}"
    assert report["policy"]["name"] == "mine" and report["counts"]["done"] == 1
    other = tmp_path / "other"
    init_repository(other)
    flagged = repropack("govern", "run", policy, "--repository", other, "--json")
    assert flagged.returncode == 0 and json.loads(flagged.stdout)["tasks"] == []


def test_sigterm_lets_the_running_replay_finish_and_dispatches_nothing_more(tmp_path, govern_packages):
    governed = governed_repository(tmp_path / "repo", govern_packages)
    governed.repository.close()
    root = tmp_path / "repo"
    policy = tmp_path / "stoppable.toml"
    policy.write_text(LOCAL_POLICY.replace('"nightly"', '"stoppable"'))
    running = subprocess.Popen(
        [sys.executable, "-m", "repropack", "govern", "run", str(policy), "--repository", str(root), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _started(root):
            time.sleep(0.1)
        running.send_signal(signal.SIGTERM)
        out, err = running.communicate(timeout=300)
    finally:
        running.kill()
    assert running.returncode == 130, err
    report = json.loads(out)
    states = sorted(t["state"] for t in report["tasks"])
    assert report["stopped"] is True and "done" in states and "pending" in states, report
    again = repropack("govern", "run", policy, "--repository", root, "--json")
    resumed = json.loads(again.stdout)
    assert again.returncode == 0 and resumed["resumed"] is True and resumed["run"] == report["run"]
    assert sorted(t["state"] for t in resumed["tasks"]) == ["done"] * 3


def _started(root: Path) -> bool:
    """Whether the policy run has a task running (so it is dispatching, past its lock and its selection)."""
    from sqlalchemy import select

    from repropack.repository.catalog.tables import GovernTaskRow

    if not (root / "catalog.sqlite").exists():
        return False
    with Repository.open(root) as repository, repository.catalog.session() as session:
        return session.scalar(select(GovernTaskRow.id).where(GovernTaskRow.state == "running")) is not None


def test_hostile_titles_are_shown_literally(tmp_path, govern_packages):
    import zipfile

    from tests.govern.gallery import retitled

    hostile = "[red]x[/red]\x1b[2J\x1b]8;;http://evil\x07Study\u202e"
    root = tmp_path / "repo"
    init_repository(root)
    (root / "policy.toml").write_text('profiles = "off"\n')
    package = tmp_path / "unpacked"
    with zipfile.ZipFile(govern_packages.reproduced) as archive:
        archive.extractall(package)
    retitled(package, tmp_path / "hostile", hostile)
    with Repository.open(root) as repository:
        outcome = import_package(repository, tmp_path / "hostile", FAST_POLICY, "tester")
    assert outcome.outcome == "imported", outcome
    done = repropack("govern", "status", "--repository", root, COLUMNS="400")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout and "\x07" not in done.stdout
    assert "[red]x[/red]" in done.stdout  # shown as written, not taken as markup
