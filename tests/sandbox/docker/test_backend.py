"""The docker backend when the engine is not there (fault injection: a socket nobody serves)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repropack.config import ReplaySettings
from repropack.errors import CannotRun
from repropack.export import export_project
from repropack.replay import replay_package


def test_missing_engine_is_cannot_run_with_what_to_do(project, tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    export_project(project, package, {})
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    with pytest.raises(
        CannotRun, match="no Docker engine is reachable .*start one \\(dockerd\\) or replay with --backend local"
    ):
        replay_package(package, ReplaySettings())


def test_missing_engine_exits_3_with_one_line(project, tmp_path):
    package = tmp_path / "pkg"
    export_project(project, package, {})
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("repropack")), "replay", str(package)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("repropack: error: no Docker engine is reachable")
    assert done.stdout == ""
