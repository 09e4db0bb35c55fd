"""Fixtures that build real, small notebook projects in tmp dirs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from repropack.model import layout


def write_notebook(path: Path, *cells: str, kernel: str | None = "python3") -> Path:
    """A notebook of code cells (markdown when a cell starts with '# MD ')."""
    nb = nbformat.v4.new_notebook()
    for src in cells:
        if src.startswith("# MD "):
            nb.cells.append(nbformat.v4.new_markdown_cell(src[5:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(src))
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


ANALYSIS_CELLS = (
    "# MD Count rows per group",
    "import csv, os, collections",
    "rows = list(csv.DictReader(open('data/input.csv')))\ncounts = collections.Counter(r['group'] for r in rows)",
    "os.makedirs('outputs', exist_ok=True)\n"
    "with open('outputs/counts.csv', 'w', newline='') as fh:\n"
    "    w = csv.writer(fh)\n"
    "    w.writerow(['group', 'n'])\n"
    "    for g in sorted(counts): w.writerow([g, counts[g]])",
    "print(dict(sorted(counts.items())))",
)


def make_project(root: Path) -> Path:
    """A small stdlib-only project: one notebook, one input, one untouched file."""
    (root / "data").mkdir(parents=True)
    (root / "data" / "input.csv").write_text("id,group\n1,a\n2,b\n3,a\n")
    (root / "notes.md").write_text("# notes\n")
    (root / "requirements.txt").write_text("# nothing needed\n")
    write_notebook(root / "analysis.ipynb", *ANALYSIS_CELLS)
    (root / "repropack.toml").write_text(
        'title = "Study"\ndescription = "A small study."\nlicense = "MIT"\n'
        '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
        'affiliation = { name = "Example Institute", url = "https://example.org" }\n'
        '[publisher]\nname = "Example Institute"\nurl = "https://example.org"\n'
    )
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "study")


def isolate_user_dirs(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point config and hash cache at ``home``, away from the developer's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("REPROPACK_CACHE_DIR", str(home / "cache"))
    monkeypatch.delenv("REPROPACK_CONFIG", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    isolate_user_dirs(monkeypatch, tmp_path_factory.mktemp("home"))


def forge_recorded_file(package: Path, path: str, data: bytes) -> None:
    """Change a recorded file and update its sha256 and contentSize consistently (a forged result)."""
    (package / path).write_bytes(data)
    meta_path = package / "ro-crate-metadata.json"
    meta = json.loads(meta_path.read_text())
    for entity in meta["@graph"]:
        if entity["@id"] == layout.entity_id(path, False):
            entity["sha256"] = hashlib.sha256(data).hexdigest()
            entity["contentSize"] = str(len(data))
    meta_path.write_text(json.dumps(meta, indent=2))


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture(scope="session")
def docker_engine():
    """The real engine with repropack's base image. In CI its absence fails the test, never skips it."""
    from docker.errors import ImageNotFound

    from repropack.config import DEFAULT_BASE_IMAGE
    from repropack.errors import CannotRun
    from repropack.sandbox.docker.engine import engine_client

    try:
        client = engine_client()
        client.images.get(DEFAULT_BASE_IMAGE)
    except (CannotRun, ImageNotFound) as exc:
        message = f"needs the Docker engine and {DEFAULT_BASE_IMAGE} (bash scripts/engine.sh): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return client


def wait_for(what, seconds: float, step: float = 0.2):
    """``what()``'s first truthy answer within ``seconds`` (asked every ``step``), else its answer at the end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(step)
    return what()
