"""Everything the sandbox leaves is hostile data (issue 12, item 2): a report replaced by a link, a FIFO,
a flood or a forgery, special files among the outputs, a forged Python version.

Each case replays a real package in a real container. Cases a notebook can do from inside run the real
console script and assert its exit code and the cause in its JSON; cases that need a lying sandbox
(a report that says "completed" while a cell raised) swap the in-container runner for one that runs the
notebooks and then forges the report: the sandbox's side is the attacker's. Every case asserts that nothing
was written outside the record and that no host file's bytes reached it.
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import pytest

from repropack.config import ReplaySettings
from repropack.export import export_project
from repropack.model import CauseKind, Verdict
from repropack.replay import replay_package
from repropack.sandbox.base import RUNNER
from tests.conftest import make_project, write_notebook
from tests.hostile.clikit import repropack

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]

HOST_MARK = "HOST-ONLY-7f3e1c"  # in host files a link points at: must never reach the record


def hostile_package(tmp_path: Path, *cells: str, notebooks: dict[str, tuple[str, ...]] | None = None) -> Path:
    """A small project whose notebook(s) do the hostile thing at replay, packed without running them here."""
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", *cells)
    for name, more in (notebooks or {}).items():
        write_notebook(project / name, *more)
    package = tmp_path / "pkg"
    export_project(project, package, {"execute": False})
    return package


def replay_json(package: Path, record: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = repropack("replay", str(package), "--record", str(record), "--json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done, json.loads(done.stdout)


def record_text(record: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in record.rglob("*") if p.is_file())


def forged_ok_report(path: Path) -> Path:
    """A host file holding a report that would pass for a clean run, marked so a leak shows."""
    report = {
        "environment": {"python_version": HOST_MARK, "distributions": {}},
        "notebooks": [{"path": "analysis.ipynb", "status": "completed", "cell": None, "ename": None, "evalue": None}],
        "running": None,
        "error": None,
        "finished": True,
    }
    path.write_text(json.dumps(report))
    return path


#: Leaves /replay (the exchange) unwritable, so the runner's own last write cannot replace what was planted.
LOCK_EXCHANGE = "os.chmod('/replay', 0o555)"


def test_a_report_replaced_by_a_symlink_to_a_host_file_is_never_followed(tmp_path, outside):
    host_file = forged_ok_report(tmp_path / "host-report.json")
    package = hostile_package(
        tmp_path,
        f"import os\nos.remove('/replay/report.json')\nos.symlink({str(host_file)!r}, '/replay/report.json')\n"
        + LOCK_EXCHANGE,
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 3
    assert result["verdict"] == "failed"
    assert result["cause"] == (
        "kernel died: the sandbox's report was unusable: report.json: a symlink, not a regular file"
    )
    assert HOST_MARK not in record_text(tmp_path / "record") + done.stdout + done.stderr
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_report_replaced_by_a_fifo_does_not_hang_the_host(tmp_path, outside):
    package = hostile_package(
        tmp_path, "import os\nos.remove('/replay/report.json')\nos.mkfifo('/replay/report.json')\n" + LOCK_EXCHANGE
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 3
    assert result["cause"] == "kernel died: the sandbox's report was unusable: report.json: a FIFO, not a regular file"
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_report_flooded_past_its_limit_is_refused_unread(tmp_path, outside):
    package = hostile_package(
        tmp_path,
        "import os\nwith open('/replay/report.json', 'w') as fh:\n    fh.truncate(17 * 2**20)\n" + LOCK_EXCHANGE,
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 3
    assert result["cause"] == (
        f"kernel died: the sandbox's report was unusable: report.json: {17 * 2**20} bytes, "
        f"more than the {16 * 2**20} allowed"
    )
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_report_the_notebook_wrote_that_skips_the_plan_is_a_failure(tmp_path, outside):
    forged = {"environment": {}, "notebooks": [], "running": None, "error": None, "finished": True}
    package = hostile_package(
        tmp_path,
        f"import json, os\nopen('/replay/report.json', 'w').write(json.dumps({forged!r}))\n" + LOCK_EXCHANGE,
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 3
    assert result["cause"] == (
        "kernel died: the sandbox's report was unusable: it says it finished but lists 0 of the plan's 1 notebooks"
    )
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_fifos_and_sockets_left_among_the_outputs_are_removed_unread_and_flagged(tmp_path, outside):
    package = hostile_package(
        tmp_path,
        "import os, socket\nos.makedirs('outputs', exist_ok=True)\nos.mkfifo('outputs/pipe.csv')\n"
        "s = socket.socket(socket.AF_UNIX)\ns.bind('outputs/sock')",
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 0  # outputs nobody recorded: flagged, as planted symlinks are
    flagged = {o["path"]: (o["status"], o["detail"]) for o in result["outputs"] if o["rule"] == "special file"}
    assert flagged == {
        "outputs/pipe.csv": ("unexpected", "the replay produced a FIFO here; removed unread"),
        "outputs/sock": ("unexpected", "the replay produced a socket here; removed unread"),
    }
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_later_notebook_turning_an_executed_notebook_into_a_fifo_fails_the_run_without_a_hang(tmp_path, outside):
    package = hostile_package(
        tmp_path,
        "print('first')",
        notebooks={"b.ipynb": ("import os\nos.remove('analysis.ipynb')\nos.mkfifo('analysis.ipynb')",)},
    )
    outside.__post_init__()
    done, result = replay_json(package, tmp_path / "record")
    assert done.returncode == 3
    assert (
        result["cause"] == "kernel died: analysis.ipynb: the executed notebook cannot be read: analysis.ipynb: missing"
    )
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


# --- a lying sandbox: the runner's report forged after the notebooks ran ---------------------------------


def forging_runner(tmp_path: Path, forge: str) -> Path:
    """The real runner, then ``forge`` (Python run in the sandbox with ``report`` the path of the report)."""
    source = RUNNER.read_text()
    body, marker, _ = source.rpartition('if __name__ == "__main__":')
    assert marker, "the runner's entry point moved"
    forged = tmp_path / "forging-runner.py"
    forged.write_text(
        body
        + "if __name__ == '__main__':\n"
        + "    main(sys.argv[1], sys.argv[2])\n"
        + "    report = sys.argv[2]\n"
        + "".join(f"    {line}\n" for line in forge.splitlines())
    )
    return forged


#: Rewrites the report as a clean run of every notebook of the plan.
ALL_COMPLETED = """\
plan = json.load(open(sys.argv[1]))
outcomes = [{"path": e["path"], "status": "completed", "cell": None, "ename": None, "evalue": None} for e in plan["notebooks"]]
_write(report, {"environment": {}, "notebooks": outcomes, "running": None, "error": None, "finished": True})"""


@pytest.fixture
def lying_sandbox(tmp_path, monkeypatch):
    def use(forge: str) -> None:
        monkeypatch.setattr("repropack.sandbox.docker.backend.RUNNER", forging_runner(tmp_path, forge))

    return use


def test_a_forged_report_cannot_hide_a_cell_error_in_the_executed_notebook(tmp_path, lying_sandbox, outside):
    package = hostile_package(tmp_path, "print('loading')", "import os\nif os.path.isdir('/replay'):\n    1 / 0")
    lying_sandbox(ALL_COMPLETED)
    outside.__post_init__()
    result = replay_package(package, ReplaySettings(record=tmp_path / "record"))
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.CELL_ERROR
    assert (result.cause.notebook, result.cause.cell) == ("analysis.ipynb", 2)
    assert result.cause.detail == (
        "analysis.ipynb cell 2: ZeroDivisionError: division by zero; "
        "an error output in the executed notebook, though the sandbox's report said it completed"
    )
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_forged_ok_report_with_a_non_zero_exit_is_a_failure(tmp_path, lying_sandbox, outside):
    package = hostile_package(tmp_path, "print('fine')")
    lying_sandbox(ALL_COMPLETED + "\nsys.exit(5)")
    outside.__post_init__()
    result = replay_package(package, ReplaySettings(record=tmp_path / "record"))
    assert result.verdict is Verdict.FAILED
    assert str(result.cause) == (
        "kernel died: the sandbox exited with status 5 although its report says every notebook completed"
    )
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_a_fake_python_version_in_the_report_never_reaches_the_drift(tmp_path, lying_sandbox, outside):
    package = hostile_package(tmp_path, "x = 1")
    lying_sandbox(
        "data = json.load(open(report))\n"
        "data['environment'] = {'python_version': '2.7.18', 'distributions': {'nbclient': '0.0.1'}}\n"
        "_write(report, data)"
    )
    outside.__post_init__()
    result = replay_package(package, ReplaySettings(record=tmp_path / "record"))
    assert result.verdict is Verdict.REPRODUCED, result.cause
    said = " ".join((*result.drift, *result.drift_info))
    assert "2.7.18" not in said and "0.0.1" not in said
    # The probe ran the image's own interpreter: the drift names its Python, whatever the report said.
    probed = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", result.image_id]
        + ["-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    recorded = platform.python_version()  # the kernel that ran at export is this interpreter's
    if probed != recorded:
        assert f"Python {probed} (recorded {recorded})" in said
    else:
        assert "Python" not in said
    outside.assert_nothing_new(allowed=(tmp_path / "record",))


def test_outputs_are_compared_from_the_files_never_from_the_report(tmp_path, lying_sandbox, outside):
    package = hostile_package(tmp_path, "print('fine')")
    lying_sandbox(
        "data = json.load(open(report))\ndata['outputs'] = {'outputs/counts.csv': 'identical'}\n_write(report, data)"
    )
    outside.__post_init__()
    result = replay_package(package, ReplaySettings(record=tmp_path / "record"))
    # The notebook wrote no outputs/counts.csv: a report cannot invent one, or its comparison.
    assert "outputs/counts.csv" not in {o.path for o in result.outputs}
    outside.assert_nothing_new(allowed=(tmp_path / "record",))
