"""The probe's answers kept by image id: a warm replay starts no probe container, and a damaged answer is a miss."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from repropack.config import SandboxLimits
from repropack.sandbox.base import PreparedEnvironment
from repropack.sandbox.probe import EnvironmentFacts
from repropack.sandbox.probe_cache import cached_probe, remember_probe

IMAGE = "sha256:" + "ab" * 32
OUTPUT = json.dumps({"python_version": "3.11.2", "distributions": {"nbclient": "0.10.0"}}).encode()


def _folder() -> Path:
    return Path(os.environ["REPROPACK_CACHE_DIR"]) / "probes"


def test_an_answer_is_kept_by_image_id_and_read_back_as_the_same_facts():
    assert cached_probe(IMAGE) is None
    remember_probe(IMAGE, OUTPUT)
    assert cached_probe(IMAGE) == EnvironmentFacts("3.11.2", {"nbclient": "0.10.0"})
    assert [p.name for p in _folder().iterdir()] == [f"{'ab' * 32}.json"]


def test_a_tag_names_no_fixed_content_and_is_never_cached():
    remember_probe("repropack/env:latest", OUTPUT)
    assert cached_probe("repropack/env:latest") is None
    assert not _folder().exists()


@pytest.mark.parametrize(
    "damage",
    [b"{not json", b'{"python_version": "3.11.2"}', json.dumps({"python_version": "x", "distributions": {}}).encode()],
    ids=["truncated", "incomplete", "not-a-version"],
)
def test_a_damaged_answer_is_a_miss(damage):
    remember_probe(IMAGE, OUTPUT)
    (_folder() / f"{'ab' * 32}.json").write_bytes(damage)
    assert cached_probe(IMAGE) is None


def test_an_answer_replaced_by_a_symlink_is_never_followed(tmp_path):
    remember_probe(IMAGE, OUTPUT)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(OUTPUT)
    path = _folder() / f"{'ab' * 32}.json"
    path.unlink()
    path.symlink_to(elsewhere)
    assert cached_probe(IMAGE) is None


def test_the_docker_backend_probes_an_image_once(docker_engine, monkeypatch):
    from repropack.sandbox.docker.backend import DockerBackend

    backend = DockerBackend()
    calls = []

    def probe_container(env, limits):  # fault injection: stands for the probe container, counts its starts
        calls.append(env.reference)
        return OUTPUT

    monkeypatch.setattr(backend, "_run_probe", probe_container)
    env = PreparedEnvironment(reference=IMAGE, name="repropack/env:x", reused=True)
    first = backend.probe(env, SandboxLimits())
    assert backend.probe(env, SandboxLimits()) == first == EnvironmentFacts("3.11.2", {"nbclient": "0.10.0"})
    assert calls == [IMAGE]
    (_folder() / f"{'ab' * 32}.json").write_bytes(b"damaged")
    assert backend.probe(env, SandboxLimits()) == first
    assert calls == [IMAGE, IMAGE]  # a damaged answer: probed again, and kept again
    assert cached_probe(IMAGE) == first
