"""An encrypted restricted input replayed in a real container leaves nothing of itself on the host.

The input holds a canary unique to the run. The package is exported with the real ``--encrypt-to``, replayed
with the Docker backend, ``--identity`` and ``--keep`` (so the container and a copy of the work dir stay, to be
searched too); while it runs, and after, the canary's bytes are sought in the host's temp folders (the work and
replay-io folders repropack uses among them), the record, the kept work dir, the command's stdout and stderr and
the container's logs: they are nowhere. The project is the stdlib-only one other container tests share, so
its image is reused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from repropack.encryption.age import new_identity
from repropack.sandbox.docker.stale import KEEP_LABEL, REPLAY_LABEL
from tests.conftest import make_project
from tests.hostile.clikit import repropack

PATH = "data/input.csv"
_SCAN_LIMIT = 64 * 2**20  # bytes of one file read; the canary would be in a small file


def _holders(roots: list[Path], canary: bytes, skip: Path) -> list[Path]:
    """Regular files under ``roots`` (links never followed, ``skip`` left out) whose bytes hold ``canary``."""
    found = []
    for root in roots:
        for current, folders, files in os.walk(root, onerror=lambda _: None):
            if Path(current) == skip or Path(current).is_relative_to(skip):
                folders[:] = []
                continue
            for name in files:
                file = Path(current) / name
                try:
                    small = not file.is_symlink() and file.is_file() and file.stat().st_size <= _SCAN_LIMIT
                    if small and canary in file.read_bytes():
                        found.append(file)
                except OSError:
                    continue  # gone meanwhile, or a socket
    return found


@pytest.mark.slow
def test_canary_bytes_of_an_encrypted_input_appear_nowhere_on_the_host(docker_engine, tmp_path: Path) -> None:
    canary = f"Canary-{os.urandom(8).hex()}".encode()
    study = tmp_path / "secret-study"
    project = make_project(study)
    (project / PATH).write_bytes(b"id,name,group\n1,%s One,a\n2,%s Two,b\n3,%s Three,a\n" % ((canary,) * 3))
    secret, recipient = new_identity()
    key = tmp_path / "keys" / "me.age"
    key.parent.mkdir()
    key.write_text(secret + "\n")
    key.chmod(0o600)
    exported = repropack("export", project, "-o", tmp_path / "pkg", "--restrict", PATH, "--encrypt-to", recipient)
    assert exported.returncode == 0, exported.stderr
    assert not _holders([tmp_path / "pkg"], canary, study)

    roots = [Path(tempfile.gettempdir()), Path("/var/tmp")]
    seen_during: list[Path] = []
    done_event = threading.Event()

    def watch() -> None:  # the folders a replay uses exist only while it runs: look while they do
        while not done_event.is_set():
            seen_during.extend(_holders([p for p in roots[0].glob("repropack-*") if p.is_dir()], canary, study))
            done_event.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    before = {c.id for c in docker_engine.containers.list(all=True, filters={"label": REPLAY_LABEL})}
    watcher.start()
    try:
        done = repropack(
            "replay", tmp_path / "pkg", "--identity", key, "--keep", "--record", tmp_path / "record", "--json",
            timeout=900,
        )  # fmt: skip
    finally:
        done_event.set()
        watcher.join()
    kept = [
        c for c in docker_engine.containers.list(all=True, filters={"label": f"{KEEP_LABEL}=1"}) if c.id not in before
    ]
    try:
        assert done.returncode == 0, done.stderr + done.stdout
        assert '"verdict": "reproduced"' in done.stdout
        assert canary not in (done.stdout + done.stderr).encode()
        assert len(kept) == 1
        assert canary not in kept[0].logs(stdout=True, stderr=True)
        assert seen_during == []
        assert _holders([*roots, tmp_path / "record"], canary, study) == []
    finally:
        for container in kept:
            container.remove(force=True)
        for folder in re.findall(r"work dir kept at (\S+)", done.stderr):
            shutil.rmtree(folder, ignore_errors=True)
