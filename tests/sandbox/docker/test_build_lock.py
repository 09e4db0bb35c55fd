"""Replays sharing an environment build it once: a second builder waits for the first, then reuses its image."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from repropack.model.lock import render_lock
from repropack.sandbox.docker.image import BUILD_LOCKS, ENVIRONMENT_LABEL, build_lock


def test_a_second_holder_of_a_tags_build_lock_waits_for_the_first():
    order: list[str] = []
    held = threading.Event()

    def first():
        with build_lock("repropack/env:aaaa"):
            held.set()
            time.sleep(0.5)
            order.append("first done")

    def second():
        held.wait()
        with build_lock("repropack/env:aaaa"):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first done", "second in"]


def test_other_tags_do_not_wait():
    done = threading.Event()

    def other():
        with build_lock("repropack/env:bbbb"):
            done.set()

    with build_lock("repropack/env:aaaa"):
        thread = threading.Thread(target=other)
        thread.start()
        assert done.wait(5)
    thread.join(5)


def test_a_link_planted_as_the_lock_is_never_followed(tmp_path):
    import hashlib

    from repropack.fs.hashing import default_cache_dir

    folder = default_cache_dir() / BUILD_LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "victim"
    target.write_text("keep me")
    name = hashlib.sha256(b"repropack/env:cccc").hexdigest()[:32]
    (folder / f"{name}.lock").symlink_to(target)
    with build_lock("repropack/env:cccc"):  # held without a lock file: a duplicate build at worst
        pass
    assert target.read_text() == "keep me"


@pytest.mark.slow  # one image build of its own
def test_two_replays_of_one_environment_at_once_build_it_once(docker_engine, tmp_path):
    from repropack.config import DEFAULT_BASE_IMAGE
    from repropack.crate.reader import open_package
    from repropack.environment.build_inputs import build_inputs
    from repropack.environment.pipindex import configured_index
    from repropack.export import export_project
    from repropack.sandbox.base import BuildRequest
    from repropack.sandbox.docker.image import build_image
    from tests.conftest import make_project

    export_project(make_project(tmp_path / "study"), tmp_path / "pkg", {})
    with open_package(tmp_path / "pkg") as opened:
        inputs = build_inputs(opened)
        header = f"test_build_lock: a build of its own {os.getpid()} {time.time()}"
        inputs = replace(inputs, lock_text=render_lock(inputs.environment.lock, header=header))
        ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
        request = BuildRequest(
            opened.root, inputs.environment_hash, DEFAULT_BASE_IMAGE, inputs, ca_bundle=ca, index=configured_index()
        )
        with ThreadPoolExecutor(2) as pool:
            built = list(pool.map(lambda _: build_image(docker_engine, request), range(2)))
    try:
        assert sorted(env.reused for env in built) == [False, True]
        assert built[0].reference == built[1].reference and built[0].name == built[1].name
        labelled = docker_engine.images.list(all=True, filters={"label": ENVIRONMENT_LABEL})
        copies = [
            image
            for image in labelled
            if image.id != built[0].reference and image.attrs["Config"]["Labels"] == _labels(docker_engine, built[0])
        ]
        assert copies == []  # no second copy of the environment left dangling
    finally:
        docker_engine.images.remove(built[0].reference, force=True)


def _labels(client, env) -> dict:
    return client.images.get(env.reference).attrs["Config"]["Labels"]
