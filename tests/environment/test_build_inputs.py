"""What a replay builds from: repropack's rendering of the package's facts, and where the packaged files differ."""

from __future__ import annotations

import json

import pytest

from repropack.crate.reader import open_package
from repropack.environment.build_inputs import DOCKERFILE_DIFFERS, build_inputs
from repropack.environment.dockerfile import environment_hash
from repropack.export import export_project
from repropack.model import layout
from repropack.model.lock import parse_lock
from tests.conftest import forge_recorded_file, make_project


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    package = root / "pkg"
    export_project(make_project(root / "study"), package, {})
    return package


def test_an_honest_package_renders_back_to_its_own_dockerfile_and_lock(honest):
    with open_package(honest) as opened:
        inputs = build_inputs(opened)
        packaged_lock = parse_lock(opened.read_text(layout.LOCK))
        assert inputs.dockerfile_differs is False and inputs.drift == ()
        assert parse_lock(inputs.lock_text) == packaged_lock  # the same entries, rendered by repropack
        assert inputs.environment_hash == environment_hash(opened.read_text(layout.DOCKERFILE), inputs.lock_text)


@pytest.mark.parametrize(
    "forged",
    ["USER root\n", 'ENTRYPOINT ["/bin/sh"]\n', "ADD http://127.0.0.1:9/x /x\n"],
    ids=["user", "entrypoint", "add"],
)
def test_a_forged_dockerfile_is_reported_and_changes_nothing_that_is_built(honest, tmp_path, forged):
    import shutil

    package = tmp_path / "pkg"
    shutil.copytree(honest, package)
    forge_recorded_file(package, layout.DOCKERFILE, (package / layout.DOCKERFILE).read_bytes() + forged.encode())
    with open_package(honest) as opened:
        before = build_inputs(opened)
    with open_package(package) as opened:
        after = build_inputs(opened)
    assert after.drift == (DOCKERFILE_DIFFERS,)
    assert after.environment_hash == before.environment_hash  # what is built does not depend on it
    assert after.lock_text == before.lock_text


def test_a_base_image_setting_that_is_no_reference_is_a_difference_not_an_error(honest, tmp_path):
    import shutil

    package = tmp_path / "pkg"
    shutil.copytree(honest, package)
    settings = json.loads((package / layout.SETTINGS).read_text())
    settings["base_image"] = {"value": "x\nRUN id", "source": "project"}
    forge_recorded_file(package, layout.SETTINGS, json.dumps(settings).encode())
    with open_package(package) as opened:
        assert build_inputs(opened).dockerfile_differs is True


def test_comments_and_spacing_of_the_packaged_lock_never_reach_the_build(honest, tmp_path):
    import shutil

    package = tmp_path / "pkg"
    shutil.copytree(honest, package)
    text = (package / layout.LOCK).read_text()
    forged = text.replace("# Pinned", "#   a comment pip would ignore\r\n# Pinned", 1)
    forge_recorded_file(package, layout.LOCK, forged.encode())
    with open_package(package) as opened, open_package(honest) as clean:
        assert build_inputs(opened).lock_text == build_inputs(clean).lock_text
