"""The no-engine backend: a cached virtualenv built from the lock."""

from __future__ import annotations

from repropack.config import ReplaySettings
from repropack.export import export_project
from repropack.model import OutputStatus, Verdict
from repropack.replay import replay_package
from repropack.sandbox import BACKENDS


def test_local_backend_reproduces_and_reuses_its_virtualenv(project, tmp_path):
    package = tmp_path / "pkg"
    export_project(project, package, {})
    first = replay_package(package, ReplaySettings(backend="local"))
    assert first.verdict is Verdict.REPRODUCED, first.cause
    assert {o.path: o.status for o in first.outputs}["outputs/counts.csv"] is OutputStatus.IDENTICAL
    assert "only the wall-clock timeout is enforced" in first.isolation
    second = replay_package(package, ReplaySettings(backend="local"))
    assert second.image_reused is True and second.image == first.image


def test_registry_names_both_backends_and_refuses_unknown_ones():
    import pytest

    from repropack.errors import BadInput

    assert BACKENDS.names() == ["docker", "local"]
    with pytest.raises(BadInput, match="unknown backend 'podman' \\(known: docker, local\\)"):
        BACKENDS.get("podman")
