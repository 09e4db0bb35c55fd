"""A real ``repropack serve`` (the CLI, a subprocess on a loopback port) over a repository a package was added to
with ``repropack import`` (its governed run through the importer's API: one CLI start less), and the headless
Chromium of the HTML report's tests to look at it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from repropack.export import export_project
from repropack.repository.importer import import_record
from repropack.repository.opened import Repository, init_repository
from tests.conftest import isolate_user_dirs, make_project
from tests.record.conftest import browser  # noqa: F401  (the one headless Chromium fixture, shared)
from tests.repository.builders import signed_record
from tests.repository.web.samples import HOSTILE_TITLE

STARTUP_SECONDS = 20


@dataclass(frozen=True)
class Served:
    url: str  # "http://127.0.0.1:PORT/"
    root: Path  # the repository folder
    public_id: str
    env: dict[str, str]  # what the CLI ran with (isolated user dirs)


def repropack(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    """The real command line, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "repropack", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and done.returncode != 0:
        raise AssertionError(f"repropack {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def hostile_project(root: Path) -> Path:
    """The small test project with a title that is markup and a notebook whose saved outputs are HTML and script."""
    project = make_project(root)
    toml = project / "repropack.toml"
    toml.write_text(toml.read_text().replace('title = "Study"', f"title = {json.dumps(HOSTILE_TITLE)}"))
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML('<b>x</b>')", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="printed <i>text</i>\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<img src=x onerror='window.__pwned=2'>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "window.__pwned=3"}),
    ]
    notebook.cells.append(cell)
    nbformat.write(notebook, project / "evil.ipynb")
    return project


def start_server(root: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """``repropack serve --port 0`` and the URL it announces once it listens."""
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "repropack", "serve", "--repository", str(root), "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        said = log.read_text()
        if "read-only at http://" in said:
            url = said.split("read-only at ", 1)[1].split(";", 1)[0]
            urllib.request.urlopen(url, timeout=5).close()  # it answers
            return server, url
        if server.poll() is not None:
            raise AssertionError(f"repropack serve exited {server.returncode}: {said}")
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"repropack serve did not start in {STARTUP_SECONDS} s: {log.read_text()}")


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """A repository with one imported package (and a governed run) served on loopback, for the session."""
    base = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        export_project(hostile_project(base / "study"), base / "study.crate.zip", {"execute": False})
        env = dict(os.environ)
    root = base / "repo"
    init_repository(root)
    policy = root / "policy.toml"  # profile validation is admission's to test; a few seconds saved here
    policy.write_text(policy.read_text().replace('profiles = "required"', 'profiles = "off"'))
    package = base / "study.crate.zip"
    imported = json.loads(repropack("import", str(package), "--repository", str(root), "--json", env=env).stdout)
    public_id = imported["imports"][0]["id"]
    with zipfile.ZipFile(package) as archive:
        metadata_sha256 = hashlib.sha256(archive.read("ro-crate-metadata.json")).hexdigest()
    record = signed_record(base / "study.crate.replay", metadata_sha256, base / "keys")
    with Repository.open(root) as repository:
        import_record(repository, record, "test")
    server, url = start_server(root, env, base / "serve.log")
    try:
        yield Served(url, root, public_id, env)
    finally:
        server.terminate()
        server.wait(timeout=10)
