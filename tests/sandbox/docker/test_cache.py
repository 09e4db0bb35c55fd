"""Environment images and on-disk caches: build stages removed, last uses noted, least recently used pruned first.

The engine tests work on images of their own (a repository no replay uses), made by committing a container
from the base image: no build. The two builds at the end are the smallest an environment can be (an empty
lock, no network), to show the build stage's images go, after a success and after a failure.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from docker.errors import ImageNotFound

from repropack.config import DEFAULT_BASE_IMAGE, duration_in_seconds
from repropack.sandbox.docker.cache import CachedImage, choose_evictions, disk_caches, list_images, prune
from repropack.sandbox.docker.image import BUILD_STAGE_LABEL, ENVIRONMENT_LABEL
from repropack.sandbox.docker.ledger import last_uses, ledger_path, record_use

DAY = 86400
MIB = 2**20


def _image(tag: str, last_used: float, size: int = 100, in_use: bool = False) -> CachedImage:
    return CachedImage(tag, "sha256:" + tag, size * 2, size, 0.0, last_used, in_use)


# --- pure: the order, the ages, the sizes ------------------------------------------------------------------


def test_keep_size_removes_the_least_recently_used_until_the_rest_fit():
    images = [_image("new", 300), _image("old", 100), _image("mid", 200)]
    chosen = choose_evictions(images, keep_size=150, now=400)
    assert [image.tag for image in chosen] == ["old", "mid"]  # 300 -> 200 -> 100 bytes kept
    assert choose_evictions(images, keep_size=300, now=400) == []


def test_older_than_removes_each_image_unused_that_long_and_never_one_in_use():
    images = [_image("a", 10 * DAY), _image("b", 25 * DAY), _image("busy", 0, in_use=True)]
    chosen = choose_evictions(images, older_than=30 * DAY - 1, now=40 * DAY)
    assert [image.tag for image in chosen] == ["a"]
    assert [i.tag for i in choose_evictions(images, keep_size=0, older_than=1, now=40 * DAY)] == ["a", "b"]


def test_an_age_is_a_number_and_a_unit():
    assert duration_in_seconds("30d") == 30 * DAY and duration_in_seconds("12h") == 43200
    assert duration_in_seconds(" 2W ") == 14 * DAY and duration_in_seconds("45s") == 45
    for bad in ("30", "d", "0d", "-1d", "1.5d", "30 days", "1d2h", "", "9999999999d"):
        with pytest.raises(ValueError, match="is not an age"):
            duration_in_seconds(bad)


# --- the ledger: atomic, tolerant ----------------------------------------------------------------------------


def test_an_unreadable_or_foreign_ledger_counts_as_empty_and_is_replaced_whole(tmp_path):
    path = ledger_path(tmp_path)
    path.parent.mkdir(parents=True)
    for text in ("{not json", "[1, 2]", '{"a": "yesterday", "b": true}', "\xff"):
        path.write_text(text, encoding="latin-1")
        assert last_uses(tmp_path) == {}
    record_use("repropack/env:x", when=5.0, cache_dir=tmp_path)
    assert json.loads(path.read_text()) == {"repropack/env:x": 5.0}
    assert os.listdir(path.parent) == [path.name]  # no temporary left beside it


def test_concurrent_uses_may_lose_an_update_but_never_corrupt_the_ledger(tmp_path):
    def use(n: int) -> None:
        for i in range(40):
            record_use(f"repropack/env:{n}-{i}", cache_dir=tmp_path)

    threads = [threading.Thread(target=use, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = json.loads(ledger_path(tmp_path).read_text())  # parses: never half a file
    assert recorded and all(isinstance(when, float) for when in recorded.values())


# --- on disk ----------------------------------------------------------------------------------------------------


def _aged(path: Path, days: float) -> Path:
    when = time.time() - days * DAY
    os.utime(path, (when, when), follow_symlinks=False)
    return path


def test_older_than_prunes_old_venvs_and_wheels_only_and_never_follows_a_link(tmp_path):
    cache = tmp_path / "cache"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    old_venv = cache / "venvs" / "0123456789abcdef0123"
    (old_venv / "bin").mkdir(parents=True)
    (old_venv / "bin" / "python").write_text("x" * 1000)
    _aged(old_venv, 40)
    new_venv = cache / "venvs" / "fedcba9876543210fedc"
    new_venv.mkdir()
    link = cache / "venvs" / "link"
    link.symlink_to(outside)
    _aged(link, 40)
    old_wheel = _aged(_write(cache / "wheels" / ("a" * 64), 500), 40)
    new_wheel = _write(cache / "wheels" / ("b" * 64), 500)
    old_hashes = _aged(_write(cache / "hashes.sqlite", 10), 40)  # listed, never pruned

    dry = prune(None, older_than=30 * DAY, dry_run=True, cache_dir=cache)
    assert {(r.kind, r.name) for r in dry.removed} == {("venv", old_venv.name), ("venv", "link"), ("wheel", "a" * 64)}
    assert old_venv.exists() and old_wheel.exists() and link.is_symlink()

    done = prune(None, older_than=30 * DAY, cache_dir=cache)
    assert done.freed == 1000 + 500 + len(str(outside))  # the link counts as itself
    assert not old_venv.exists() and not old_wheel.exists() and not link.is_symlink()
    assert new_venv.is_dir() and new_wheel.exists() and old_hashes.exists()
    assert (outside / "precious").read_text() == "keep"
    assert {entry.name: entry.files for entry in disk_caches(cache)} == {"hashes.sqlite": 1, "venvs": 0, "wheels": 1}


def _write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w" * size)
    return path


# --- the engine: images of the test's own repository ---------------------------------------------------------


@pytest.fixture
def two_images(docker_engine):
    """Two environment images of 1 MiB each beyond the base, in a repository of this test's own."""
    repository = f"repropack-test/cache-{uuid.uuid4().hex[:12]}"
    tags = []
    for name in ("old", "new"):
        container = docker_engine.containers.run(
            DEFAULT_BASE_IMAGE, ["sh", "-c", "head -c 1048576 /dev/urandom > /blob"], detach=True
        )
        try:
            container.wait(timeout=60)
            container.commit(repository=repository, tag=name, conf={"Labels": {ENVIRONMENT_LABEL: "test-" + name}})
        finally:
            container.remove(force=True)
        tags.append(f"{repository}:{name}")
    now = time.time()
    record_use(tags[0], when=now - 10 * DAY)
    record_use(tags[1], when=now - 1 * DAY)
    try:
        yield repository, tags
    finally:
        for tag in tags:
            try:
                docker_engine.images.remove(tag, force=True)
            except ImageNotFound:
                pass


def _exists(client, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


@pytest.mark.slow
def test_prune_removes_the_least_recently_used_first_and_a_dry_run_nothing(docker_engine, two_images):
    repository, (old, new) = two_images
    listed = list_images(docker_engine, repository)
    assert [image.tag for image in listed] == [old, new]
    assert all(MIB <= image.unique_size < 2 * MIB and image.size > image.unique_size for image in listed)

    dry = prune(docker_engine, older_than=5 * DAY, dry_run=True, repository=repository)
    assert [r.name for r in dry.removed] == [old] and dry.freed == listed[0].unique_size
    assert _exists(docker_engine, old) and _exists(docker_engine, new)

    kept_size = prune(docker_engine, keep_size=int(1.5 * MIB), repository=repository)
    assert [r.name for r in kept_size.removed] == [old]
    assert not _exists(docker_engine, old) and _exists(docker_engine, new)
    assert old not in last_uses() and new in last_uses()  # the ledger forgets what is gone

    assert prune(docker_engine, older_than=5 * DAY, repository=repository).removed == ()  # new is 1 day old
    assert [r.name for r in prune(docker_engine, older_than=12 * 3600, repository=repository).removed] == [new]
    assert not _exists(docker_engine, new)


@pytest.mark.slow
def test_an_image_a_running_container_uses_is_never_removed(docker_engine, two_images):
    repository, (old, new) = two_images
    container = docker_engine.containers.run(old, ["sleep", "60"], detach=True)
    try:
        assert [image.in_use for image in list_images(docker_engine, repository)] == [True, False]
        result = prune(docker_engine, keep_size=0, older_than=1, repository=repository)
        assert [r.name for r in result.removed] == [new]
        assert _exists(docker_engine, old) and not _exists(docker_engine, new)
    finally:
        container.remove(force=True)


# --- builds leave no build stage behind --------------------------------------------------------------------


def _tiny_request(tmp_path: Path, header: str, lock=()):
    from repropack.environment.build_inputs import BuildInputs
    from repropack.model import Environment
    from repropack.model.lock import render_lock
    from repropack.sandbox.base import BuildRequest

    environment = Environment(
        python_version="3.11.2",
        implementation="CPython",
        platform="Linux",
        machine="x86_64",
        lock=tuple(lock),
        base_image=DEFAULT_BASE_IMAGE,
    )
    inputs = BuildInputs(environment, render_lock(environment.lock, header=header))
    root = tmp_path / "pkg"
    root.mkdir(exist_ok=True)
    return BuildRequest(root, inputs.environment_hash, DEFAULT_BASE_IMAGE, inputs, offline=True)


def _printed_ids(lines: list[str]) -> list[str]:
    """The image ids a classic build printed, one per step (" ---> ID"), in order."""
    ids = [line.split()[-1] for line in lines if line.startswith(" ---> ") and "Running in" not in line]
    return [i for i in ids if i != "cache"]  # " ---> Using cache" comes before the step's id


def _stage_images(client, log: list[str]) -> list[str]:
    """The ids the build's first stage printed (its steps before the second FROM), the base's left out."""
    froms = [i for i, line in enumerate(log) if line.startswith("Step ") and " : FROM " in line]
    base = client.images.get(DEFAULT_BASE_IMAGE).id
    ids = _printed_ids(log[froms[0] : froms[1] if len(froms) > 1 else None])
    return [i for i in ids if not base.startswith("sha256:" + i)]


def _marked_from(log: list[str]) -> int:
    """How many of ``_stage_images`` come before the stage's LABEL step, the first image with the build's mark."""
    label = next(
        i for i, line in enumerate(log) if line.startswith("Step ") and f" : LABEL {BUILD_STAGE_LABEL}=" in line
    )
    return len(_printed_ids(log[:label])) - 1  # the FROM step printed the base's id


def _gone(client, image_id: str) -> bool:
    try:
        client.images.get(image_id)
    except ImageNotFound:
        return True
    return False


def _gone_unless_built_on(client, image_id: str) -> bool:
    """Gone, or kept only because another image builds on it."""
    if _gone(client, image_id):
        return True
    children = [
        image
        for image in client.images.list(all=True)
        if (image.attrs.get("ParentId") or image.attrs.get("Parent") or "").startswith("sha256:" + image_id)
    ]
    return bool(children) or _gone(client, image_id)  # the other build may have just removed its stage


def _left_behind(client, log: list[str]) -> list[str]:
    """The build's first-stage images still there: any carrying its mark, and any before its LABEL step that no
    other image builds on. Those carry no mark, so the build cache shares them with every build of the same
    base: while another build (a test running beside this one) stands on one, the engine keeps it, and removes
    it with that build's stage."""
    stage, marked = _stage_images(client, log), _marked_from(log)
    shared = [image_id for image_id in stage[:marked] if not _gone_unless_built_on(client, image_id)]
    return shared + [image_id for image_id in stage[marked:] if not _gone(client, image_id)]


@pytest.mark.slow  # two builds of the smallest environment: an empty lock, then one that cannot install
def test_a_build_success_or_failure_leaves_no_build_stage_image(docker_engine, tmp_path):
    from dataclasses import replace

    from repropack.errors import BuildFailed
    from repropack.model import LockedDistribution
    from repropack.sandbox.docker.image import build_image

    logs: list[str] = []
    request = _tiny_request(tmp_path, f"test_cache {uuid.uuid4().hex}")
    env = build_image(docker_engine, replace(request, on_log=logs.append))
    try:
        assert not env.reused
        assert len(_stage_images(docker_engine, logs)) >= 4  # ARG, LABEL, the COPYs, the RUN: each made an image
        assert _marked_from(logs) == 1  # the ARG step's, before the mark
        assert _left_behind(docker_engine, logs) == []
        final = docker_engine.images.get(env.reference)
        assert BUILD_STAGE_LABEL not in (final.labels or {})  # the final stage starts afresh from the base
        assert env.name in last_uses()
        assert build_image(docker_engine, request).reused
    finally:
        docker_engine.images.remove(env.reference, force=True)

    failed: list[str] = []
    broken = _tiny_request(
        tmp_path, f"test_cache {uuid.uuid4().hex}", lock=[LockedDistribution("six", "1.16.0", ("dependency",))]
    )
    with pytest.raises(BuildFailed):  # offline, with no wheel: the install step fails
        build_image(docker_engine, replace(broken, on_log=failed.append))
    assert _stage_images(docker_engine, failed)
    assert _left_behind(docker_engine, failed) == []
