"""Decrypted inputs into the sandbox: the host's framed stream (sandbox/docker/private_inputs.py), the in-sandbox
runner's reading of it (hostile headers and truncated streams write nothing), and the local backend's files that
exist only while the notebooks run."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from repropack.errors import BadInput
from repropack.sandbox.base import RUNNER, PreparedEnvironment, RunPlan, SandboxLimits
from repropack.sandbox.docker.private_inputs import SLACK_BYTES, private_folders
from repropack.sandbox.local import LocalBackend
from tests.conftest import write_notebook

SECRET = b"id,name\n1,Canary Person 7f3a\n"


def _runner():
    spec = importlib.util.spec_from_file_location("repropack_runner_private_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stream(files: list[dict], body: bytes = b"") -> io.BytesIO:
    return io.BytesIO(json.dumps({"files": files}).encode() + b"\n" + body)


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# --- the host's side -------------------------------------------------------------------------------


def test_the_host_stream_carries_the_private_inputs_and_the_folder_s_other_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "data" / "lookup").mkdir(parents=True)
    (work / "data" / "lookup" / "codes.csv").write_bytes(b"code\n1\n")
    (work / "notes.md").write_text("not in a private folder\n")
    (work / "data" / "link").symlink_to(tmp_path)  # never followed, never sent
    folders = private_folders(work, {"data/raw/secret.csv": SECRET})
    assert folders is not None
    assert folders.folders == ("data",)
    assert set(folders.files) == {"data/lookup/codes.csv", "data/raw/secret.csv"}
    assert folders.sizes == {"data": len(SECRET) + len(b"code\n1\n")}
    options = folders.tmpfs("/work", 1000, 1000)["/work/data"].split(",")
    assert {"nosuid", "nodev", "uid=1000", "gid=1000", f"size={folders.total + SLACK_BYTES}"} <= set(options)

    target = tmp_path / "sandbox"
    (target / "data").mkdir(parents=True)
    stream = io.BytesIO(b"".join(folders.stream()))
    written = _runner().receive_private_inputs(stream, str(target), {"data"}, folders.total)
    assert sorted(written) == ["data/lookup/codes.csv", "data/raw/secret.csv"]
    assert (target / "data" / "raw" / "secret.csv").read_bytes() == SECRET
    assert stat.S_IMODE((target / "data" / "raw" / "secret.csv").stat().st_mode) == 0o600
    assert (target / "data" / "lookup" / "codes.csv").read_bytes() == b"code\n1\n"


def test_no_private_inputs_mean_no_tmpfs(tmp_path: Path) -> None:
    assert private_folders(tmp_path, {}) is None


def test_a_private_input_at_the_top_of_the_package_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"^secret\.csv: an encrypted input at the top of the package .* move it into"):
        private_folders(tmp_path, {"secret.csv": SECRET, "data/ok.csv": SECRET})


# --- the runner's side: every header checked before anything is written ------------------------------


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ([{"path": "data/../escape.txt", "size": 1}], "not a relative package path"),
        ([{"path": "/etc/passwd", "size": 1}], "not a relative package path"),
        ([{"path": "data//x", "size": 1}], "not a relative package path"),
        ([{"path": "data/./x", "size": 1}], "not a relative package path"),
        ([{"path": "data", "size": 1}], "not a relative package path"),
        ([{"path": "outputs/x.csv", "size": 1}], "outside the private folders"),
        ([{"path": "data/x", "size": 10**12}], "more than the"),
        ([{"path": "data/x", "size": 30}, {"path": "data/y", "size": 30}], "more than the"),
        ([{"path": "data/x", "size": -1}], "not a path and a size"),
        ([{"path": "data/x", "size": True}], "not a path and a size"),
        ([{"path": "data/x", "size": "1"}], "not a path and a size"),
        ([{"path": "data/x", "size": 1}, {"path": "data/x", "size": 1}], "twice"),
        ([{"path": "data/x", "size": 1}, {"path": "data/x/y", "size": 1}], "both a file and a folder"),
        (["data/x"], "not a path and a size"),
    ],
)
def test_a_hostile_header_is_refused_and_nothing_is_written(tmp_path: Path, files: list, why: str) -> None:
    runner = _runner()
    (tmp_path / "work" / "data").mkdir(parents=True)
    with pytest.raises(runner.StreamRefused, match=why):
        runner.receive_private_inputs(_stream(files, b"x" * 100), str(tmp_path / "work"), {"data"}, 50)
    assert _tree(tmp_path) == {"work", "work/data"}


@pytest.mark.parametrize(
    "raw",
    [b"", b'{"files": []}', b"not json\n", b'["files"]\n', b'{"files": {"a": 1}}\n', b"\xff\xfe\n", b"{" * 5_000_000],
)
def test_a_header_that_is_no_header_is_refused(tmp_path: Path, raw: bytes) -> None:
    runner = _runner()
    with pytest.raises(runner.StreamRefused):
        runner.receive_private_inputs(io.BytesIO(raw), str(tmp_path), {"data"}, 10**6)
    assert _tree(tmp_path) == set()


def test_a_truncated_stream_leaves_nothing_of_what_it_started_to_write(tmp_path: Path) -> None:
    runner = _runner()
    (tmp_path / "data").mkdir()
    files = [{"path": "data/a.csv", "size": 4}, {"path": "data/b.csv", "size": 100}]
    with pytest.raises(runner.StreamRefused, match="ended inside 'data/b.csv'"):
        runner.receive_private_inputs(_stream(files, b"abcd" + b"short"), str(tmp_path), {"data"}, 1000)
    assert not (tmp_path / "data" / "a.csv").exists()
    assert not (tmp_path / "data" / "b.csv").exists()


def test_a_link_in_the_folder_is_never_written_through(tmp_path: Path) -> None:
    runner = _runner()
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "work" / "data").mkdir(parents=True)
    (tmp_path / "work" / "data" / "sub").symlink_to(outside)
    (tmp_path / "work" / "data" / "file").symlink_to(outside / "planted")
    with pytest.raises(runner.StreamRefused, match="a parent is not a folder"):
        runner.receive_private_inputs(
            _stream([{"path": "data/sub/x", "size": 3}], b"abc"), str(tmp_path / "work"), {"data"}, 10
        )
    with pytest.raises(OSError):
        runner.receive_private_inputs(
            _stream([{"path": "data/file", "size": 3}], b"abc"), str(tmp_path / "work"), {"data"}, 10
        )
    assert list(outside.iterdir()) == []


def test_the_runner_finds_tmpfs_mount_points_in_mountinfo() -> None:
    mountinfo = (
        "92 75 254:0 /tmp/w /work rw,relatime - ext4 /dev/vda rw\n"
        "96 92 0:49 / /work/data rw,nosuid,nodev - tmpfs tmpfs rw,mode=700\n"
        "97 92 0:50 / /work/my\\040data rw - tmpfs tmpfs rw\n"
        "garbage line\n"
    )
    assert _runner().tmpfs_mounts(mountinfo) == {"/work/data", "/work/my data"}


def test_the_runner_refuses_a_private_folder_that_is_no_tmpfs(tmp_path: Path, monkeypatch) -> None:
    """A folder the host's disk backs would put the plaintext on the host: the runner writes nothing there."""
    runner = _runner()
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(runner.sys, "stdin", io.TextIOWrapper(_stream([{"path": "data/x", "size": 3}], b"abc")))
    with pytest.raises(runner.StreamRefused, match="'data' is not a tmpfs"):
        runner._receive_from_stdin({"private_folders": ["data"], "private_bytes": 3}, str(tmp_path))
    assert list((tmp_path / "data").iterdir()) == []


# --- the local backend: in the work dir only while the notebooks run --------------------------------


def _local_run(tmp_path: Path, *cells: str):
    work = tmp_path / "work"
    work.mkdir()
    write_notebook(work / "read.ipynb", *cells)
    plan = RunPlan((("read.ipynb", False),), 60, private_inputs={"data/raw/secret.csv": SECRET})
    env = PreparedEnvironment(reference=sys.executable, name="test", reused=True)
    run = LocalBackend().run(env, work, plan, SandboxLimits(timeout=120), keep=False)
    return work, run


def test_the_local_backend_writes_the_decrypted_input_for_the_run_and_removes_it(tmp_path: Path) -> None:
    work, run = _local_run(
        tmp_path,
        "import os, stat\ndata = open('data/raw/secret.csv', 'rb').read()\n"
        "mode = stat.S_IMODE(os.stat('data/raw/secret.csv').st_mode)\n"
        "open('seen.txt', 'w').write(f'{len(data)} {mode:o}')",
    )
    assert run.exit_code == 0, run.log_tail
    assert (work / "seen.txt").read_text() == f"{len(SECRET)} 600"
    assert not (work / "data" / "raw" / "secret.csv").exists()


def test_the_local_backend_removes_the_decrypted_input_when_the_notebook_fails(tmp_path: Path) -> None:
    work, run = _local_run(tmp_path, "open('data/raw/secret.csv').read()\nraise RuntimeError('boom')")
    assert run.report["notebooks"][0]["status"] == "cell_error"
    assert not (work / "data" / "raw" / "secret.csv").exists()
    assert not any(SECRET in p.read_bytes() for p in work.rglob("*") if p.is_file() and p.suffix != ".ipynb")


def test_the_local_backend_refuses_to_write_over_what_is_there(tmp_path: Path) -> None:
    from repropack.errors import CannotRun

    work = tmp_path / "work"
    (work / "data" / "raw").mkdir(parents=True)
    (work / "data" / "raw" / "secret.csv").symlink_to(tmp_path / "elsewhere")
    plan = RunPlan((("read.ipynb", False),), 60, private_inputs={"data/raw/secret.csv": SECRET})
    env = PreparedEnvironment(reference=sys.executable, name="test", reused=True)
    with pytest.raises(CannotRun, match="cannot put the decrypted input data/raw/secret.csv"):
        LocalBackend().run(env, work, plan, SandboxLimits(timeout=60), keep=False)
    assert not os.path.lexists(tmp_path / "elsewhere")
