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

    # Built-ins are in the order their modules were first imported, which the tests run before decide.
    assert sorted(BACKENDS.names()) == ["docker", "local"]
    with pytest.raises(BadInput, match="unknown backend 'podman' \\(known: docker, local\\)"):
        BACKENDS.get("podman")


def test_scripts_pip_wrote_in_the_staging_venv_are_pointed_at_where_the_venv_will_be(tmp_path):
    from repropack.sandbox.local import _point_scripts_at

    staging, target = tmp_path / ".venv.tmp", tmp_path / "venv"
    (staging / "bin").mkdir(parents=True)
    short = staging / "bin" / "claims-report"
    short.write_text(f"#!{staging}/bin/python\nimport sys\nprint('{staging}/bin/ stays in the body')\n")
    long_form = staging / "bin" / "jupyter"
    long_form.write_text(f"#!/bin/sh\n'''exec' {staging}/bin/python \"$0\" \"$@\"\n' '''\nimport sys\n")
    (staging / "bin" / "python").symlink_to("/usr/bin/python3")
    _point_scripts_at(staging, target)
    assert short.read_text().splitlines()[0] == f"#!{target}/bin/python"
    assert f"{staging}/bin/ stays in the body" in short.read_text()  # only the first lines name the interpreter
    assert long_form.read_text().splitlines()[1] == f"'''exec' {target}/bin/python \"$0\" \"$@\""
    assert (staging / "bin" / "python").is_symlink()
