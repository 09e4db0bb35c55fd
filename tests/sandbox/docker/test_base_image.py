"""`repropack base build`: a base image from a Debian mirror, no registry (real debootstrap)."""

from __future__ import annotations

import pytest

from repropack.errors import BadInput
from repropack.sandbox.docker.base_image import base_image_exists, build_base_image

TEST_TAG = "repropack/base:test-build"


@pytest.mark.slow
def test_base_image_is_built_from_the_mirror_with_python_and_venv(docker_engine):
    try:
        image_id = build_base_image(TEST_TAG)
        assert base_image_exists(TEST_TAG)
        assert docker_engine.images.get(TEST_TAG).id == image_id
        out = docker_engine.containers.run(
            TEST_TAG, ["python3", "-c", "import venv, ensurepip, ssl; print('ok')"], remove=True
        )
        assert out.decode().strip() == "ok"
    finally:
        if base_image_exists(TEST_TAG):
            docker_engine.images.remove(TEST_TAG, force=True)


def test_tag_without_a_version_is_refused(docker_engine):
    with pytest.raises(BadInput, match="give NAME:TAG"):
        build_base_image("repropack/base")


@pytest.mark.slow
def test_base_build_python_3_13_makes_a_trixie_image_with_python_3_13(docker_engine):
    """Through the command line, under a throwaway tag (removed after): about 60-90 s of debootstrap."""
    from tests.test_cli import repropack

    tag = "repropack/base:test-trixie-py3.13"
    try:
        done = repropack("base", "build", "--python", "3.13", "--tag", tag)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{tag}: sha256:")
        out = docker_engine.containers.run(
            tag,
            ["python3", "-c", "import platform, venv, ensurepip, ssl; print(platform.python_version())"],
            remove=True,
        )
        assert out.decode().strip().startswith("3.13.")
        again = repropack("base", "build", "--python", "3.13", "--tag", tag, "--if-missing")
        assert again.returncode == 0 and again.stdout.strip() == f"{tag}: already present"
    finally:
        if base_image_exists(tag):
            docker_engine.images.remove(tag, force=True)


def test_base_build_refuses_a_python_it_has_no_base_for():
    from tests.test_cli import repropack

    done = repropack("base", "build", "--python", "3.12")
    assert done.returncode == 2
    assert "Invalid value for '--python': '3.12' is not one of '3.11', '3.13'" in done.stderr
    with pytest.raises(BadInput, match="repropack builds base images for Python 3.11, 3.13"):
        build_base_image(python="3.12")
