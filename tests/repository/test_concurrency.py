"""Real ``repropack import`` processes: two at once into one repository, and one killed with SIGKILL mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.repository.builders import copied, packages
from tests.repository.cli_runner import fast_repository, repropack
from tests.repository.hostile.corpus import describe

__all__ = ["packages"]  # fixtures

_BIG_FILES = 6
_BIG_FILE_BYTES = 48 * 2**20


def test_two_imports_at_once_both_succeed(tmp_path, packages, catalog_url):
    """On SQLite the two transactions queue; on PostgreSQL the loser of the race for the new package retries."""
    repo = fast_repository(tmp_path / "repo", catalog_url)
    command = [sys.executable, "-m", "repropack", "import", "--repository", str(repo), "--json"]
    running = [
        subprocess.Popen([*command, str(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for source in (packages.zip, packages.second)
    ]
    finished = [process.communicate(timeout=300) for process in running]

    assert [process.returncode for process in running] == [0, 0], [err for _, err in finished]
    outcomes = [json.loads(out)["imports"][0] for out, _ in finished]
    assert len({o["id"] for o in outcomes}) == 1
    assert sorted(o["version"] for o in outcomes) == [1, 2]
    check = repropack("repository", "check", "--repository", repo)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow  # writes and kills an import of ~300 MB
def test_an_import_killed_while_writing_blobs_leaves_a_repository_that_checks_and_imports_again(tmp_path, packages):
    repo = fast_repository(tmp_path / "repo")
    big = copied(packages.folder, tmp_path / "big")
    for n in range(_BIG_FILES):
        describe(big, f"data/big-{n}.bin", os.urandom(_BIG_FILE_BYTES))
    staging = repo / "tmp"

    process = subprocess.Popen(
        [sys.executable, "-m", "repropack", "import", "--repository", str(repo), str(big)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (staging.is_dir() and any(staging.iterdir())):
        assert process.poll() is None, "the import finished before any blob was being written"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    check = repropack("repository", "check", "--repository", repo, "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["ok"] is True
    assert not any(staging.iterdir())  # the dead importer's staging file was swept

    again = repropack("import", "--repository", repo, big, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["imports"][0]["outcome"] == "imported"
    assert repropack("repository", "check", "--repository", repo).returncode == 0
