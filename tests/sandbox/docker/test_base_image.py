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
