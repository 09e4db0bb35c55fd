"""``--keep`` leaves nothing on the host a notebook could turn against it (issue 12, items 1 and 10).

Each case replays a real package in a real container with the real console script, then looks at the
kept copy of the work folder: no setuid bit (a setuid copy of /bin/sh once gave local root), nothing
but regular files and folders, mode 0700, owned by the replaying user, restricted inputs only when asked.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from repropack.export import export_project
from tests.conftest import make_project, write_notebook
from tests.hostile.clikit import repropack

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]

SETUID_SHELL = (
    "import os, shutil\nos.makedirs('outputs', exist_ok=True)\n"
    "shutil.copy('/bin/sh', 'outputs/s')\nos.chmod('outputs/s', 0o4755)\n"
    "os.mkdir('outputs/shared')\nos.chmod('outputs/shared', 0o3777)"
)
SPECIAL_FILES = (
    "import os, socket\nos.makedirs('outputs', exist_ok=True)\nos.mkfifo('outputs/pipe')\n"
    "s = socket.socket(socket.AF_UNIX)\ns.bind('outputs/sock')\nos.symlink('/etc/shadow', 'outputs/shadow')"
)


@pytest.fixture(autouse=True)
def remove_kept_containers(tmp_path, docker_engine):
    """The containers --keep keeps (theirs mount this test's folder), removed afterwards."""
    yield
    for container in docker_engine.containers.list(all=True, filters={"label": "org.repropack.replay"}):
        if any(str(mount.get("Source", "")).startswith(str(tmp_path)) for mount in container.attrs.get("Mounts", ())):
            container.remove(force=True)


def package_of(tmp_path: Path, *cells: str, **flags) -> tuple[Path, Path]:
    project = make_project(tmp_path / "study")
    write_notebook(project / "analysis.ipynb", *cells)
    package = tmp_path / "pkg"
    export_project(project, package, {"execute": False, **flags})
    return project, package


def replay_kept(package: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    done = repropack("replay", str(package), "--record", str(tmp_path / "record"), "--json", "--keep", *args)
    assert "Traceback" not in done.stderr, done.stderr
    (kept,) = (tmp_path / "tmp").glob("repropack-kept-work-*")
    return done, kept


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_setuid_shell_written_by_a_notebook_is_kept_without_its_setuid_bit(tmp_path, outside):
    _, package = package_of(tmp_path, SETUID_SHELL)
    outside.__post_init__()
    done, kept = replay_kept(package, tmp_path)
    assert done.returncode in (0, 1), done.stderr
    shell = kept / "work" / "outputs" / "s"
    assert shell.read_bytes() == Path("/bin/sh").read_bytes()
    assert mode(shell) == 0o700  # no setuid bit; runnable by its owner only
    assert mode(kept / "work" / "outputs" / "shared") == 0o700  # no setgid, no sticky bit
    assert mode(kept) == 0o700 and mode(kept / "work") == 0o700
    for path in (kept, kept / "work", shell):
        assert os.lstat(path).st_uid == os.geteuid()  # the replaying user's, not the sandbox's uid 1000
    everything = [kept, *kept.rglob("*")]
    assert not [p for p in everything if os.lstat(p).st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)]
    assert not [p for p in everything if mode(p) & 0o077]  # nobody but the owner reaches anything
    outside.assert_nothing_new(allowed=(tmp_path / "record", kept))


def test_fifos_sockets_and_symlinks_are_left_out_listed_and_no_traceback(tmp_path, outside):
    _, package = package_of(tmp_path, SPECIAL_FILES)
    outside.__post_init__()
    done, kept = replay_kept(package, tmp_path)
    assert done.returncode == 0, done.stderr  # outputs nobody recorded: flagged, not failed
    assert sorted(os.listdir(kept / "work" / "outputs")) == []
    assert (kept / "left-out.txt").read_text().splitlines() == [
        "outputs/pipe: a FIFO; removed unread",
        "outputs/shadow: a symbolic link to '/etc/shadow'; removed unread",
        "outputs/sock: a socket; removed unread",
    ]
    outside.assert_nothing_new(allowed=(tmp_path / "record", kept))


def test_a_restricted_input_is_left_out_of_the_kept_copy(tmp_path, outside):
    project, package = package_of(tmp_path, "print(open('data/input.csv').read()[:2])", restrict=("data/*.csv",))
    outside.__post_init__()
    done, kept = replay_kept(package, tmp_path, "--inputs", str(project))
    assert done.returncode in (0, 1), done.stderr
    assert not (kept / "work" / "data" / "input.csv").exists()
    assert (kept / "left-out.txt").read_text().splitlines() == [
        "data/input.csv: a restricted input; left out (--keep-restricted keeps it)"
    ]
    settings = json.loads(done.stdout)["settings"]
    assert settings["keep_restricted"] == {"value": False, "source": "default"}
    outside.assert_nothing_new(allowed=(tmp_path / "record", kept))


def test_keep_restricted_keeps_it_owner_only_and_is_recorded(tmp_path, outside):
    project, package = package_of(tmp_path, "print(open('data/input.csv').read()[:2])", restrict=("data/*.csv",))
    outside.__post_init__()
    done, kept = replay_kept(package, tmp_path, "--inputs", str(project), "--keep-restricted")
    assert done.returncode in (0, 1), done.stderr
    copy = kept / "work" / "data" / "input.csv"
    assert copy.read_text() == (project / "data" / "input.csv").read_text()
    assert mode(copy) == 0o600 and mode(kept) == 0o700
    assert json.loads(done.stdout)["settings"]["keep_restricted"] == {"value": True, "source": "flag"}
    outside.assert_nothing_new(allowed=(tmp_path / "record", kept))
