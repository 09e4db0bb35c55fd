"""Small real packages for govern's end-to-end test and its benchmark, exported with the real `repropack export`.

Every notebook uses the standard library only and declares nothing, so every package's lock is the kernel's
runtime closure and all of them replay on one environment image, built once and then reused: a warm replay
takes a few seconds. ``repropack`` runs as a subprocess of this interpreter, as an operator runs it, with the
caller's environment (its config and cache folders, its TMPDIR).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests.conftest import forge_recorded_file

TAU_FILE = "results/tau.txt"
TOTAL_FILE = "results/total.txt"

#: Prints and writes math.tau: what a changed base image (tests/govern/test_govern_end_to_end.py) changes.
TAU_CELLS = (
    "import math, os\nos.makedirs('results', exist_ok=True)\n"
    "with open('results/tau.txt', 'w') as fh:\n"
    "    fh.write(f'tau = {math.tau:.6f}\\n')",
    "print(f'tau = {math.tau:.6f}')",
)
#: Writes "total = 45": the forged package's record says 46.
TOTAL_CELLS = (
    "import os\nos.makedirs('results', exist_ok=True)\n"
    "with open('results/total.txt', 'w') as fh:\n"
    "    fh.write(f'total = {sum(range(10))}\\n')",
)
#: Opens a socket to a public host: the replay sandbox has no network.
NETWORK_CELLS = ("import socket\nsocket.create_connection(('pypi.org', 443), timeout=5).close()\nprint('connected')",)
#: Unseeded random numbers and a uuid4, in a file and on screen.
RANDOM_CELLS = (
    "import os, random, uuid\nos.makedirs('results', exist_ok=True)\n"
    "with open('results/draw.txt', 'w') as fh:\n"
    "    fh.write(f'{random.random()} {uuid.uuid4()}\\n')",
    "print(random.random())",
)


@dataclass(frozen=True)
class Gallery:
    """Four exported package folders, each its own work (its own title), and the verdict each replay gives."""

    reproducing: Path  # reproduced; prints math.tau
    forged: Path  # its recorded total was changed after export, every hash updated: not reproduced
    network: Path  # exported without running: failed, "network needed"
    nondeterministic: Path  # exported with --runs 2: not reproduced, "nondeterministic"

    @property
    def packages(self) -> tuple[Path, ...]:
        return (self.reproducing, self.forged, self.network, self.nondeterministic)


def repropack(
    *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``repropack ARGS`` run to its end, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "repropack", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def checked(done: subprocess.CompletedProcess, *codes: int) -> subprocess.CompletedProcess:
    """``done``, when its exit code is one of ``codes`` (0 when none is given); else an AssertionError with its stderr."""
    assert done.returncode in (codes or (0,)), (done.args, done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return done


def write_project(root: Path, title: str, cells: Sequence[str], notebook: str = "analysis.ipynb") -> Path:
    """A project folder: one notebook of ``cells`` and a repropack.toml naming ``title`` and an author."""
    root.mkdir(parents=True)
    (root / "repropack.toml").write_text(
        f'title = "{title}"\ndescription = "A small study for govern."\nlicense = "MIT"\n'
        '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    nbformat.write(nb, root / notebook)
    return root


def export(project: Path, out: Path, *flags: str) -> Path:
    """``repropack export PROJECT -o OUT FLAGS``: the package folder ``out``."""
    checked(repropack("export", project, "-o", out, *flags))
    return out


def build_gallery(base: Path) -> Gallery:
    """The four packages, exported under ``base``."""
    reproducing = export(write_project(base / "tau", "Tau study", TAU_CELLS), base / "tau.crate")
    forged = export(write_project(base / "total", "Forged total", TOTAL_CELLS), base / "total.crate")
    forge_recorded_file(forged, TOTAL_FILE, b"total = 46\n")
    network = export(
        write_project(base / "remote", "Remote lookup", NETWORK_CELLS), base / "remote.crate", "--no-execute"
    )
    nondeterministic = export(
        write_project(base / "draw", "Random draw", RANDOM_CELLS), base / "draw.crate", "--runs", "2"
    )
    return Gallery(reproducing, forged, network, nondeterministic)


def retitled(package: Path, target: Path, title: str) -> Path:
    """A copy of ``package`` as another work: its title changed in the metadata (no recorded file changes)."""
    import shutil

    shutil.copytree(package, target)
    metadata = target / "ro-crate-metadata.json"
    graph = json.loads(metadata.read_text())
    for entity in graph["@graph"]:
        if entity.get("@id") == "./":
            entity["name"] = title
    metadata.write_text(json.dumps(graph, indent=2))
    return target


def new_repository(root: Path, packages: Sequence[Path], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A repository at ``root`` (SQLite catalog; no profile validation) holding ``packages``: title -> public id."""
    checked(repropack("repository", "init", "--repository", root, env=env))
    (root / "policy.toml").write_text('profiles = "off"\n')  # a second a package; admission's own tests cover it
    done = checked(repropack("import", *packages, "--repository", root, "--json", env=env))
    imported = json.loads(done.stdout)["imports"]
    assert [i["outcome"] for i in imported] == ["imported"] * len(packages), imported
    return {i["title"]: i["id"] for i in imported}
