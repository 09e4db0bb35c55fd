"""Build a package's image through the Docker SDK, reusing it when it exists.

The tag is a hash of everything that defines the environment: the rendered
Dockerfile and lock (the package's environment hash) and the base image's id.
A second replay of the same environment finds the tag and builds nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from repropack.errors import BuildFailed, CannotRun
from repropack.model import RESERVED_DIR, layout
from repropack.sandbox.base import BuildRequest, PreparedEnvironment

IMAGE_REPOSITORY = "repropack/env"
_PIP_REQUIREMENT_ERRORS = (
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Failed to build (\S+)"),
    re.compile(r"Failed building wheel for (\S+)"),
)


def image_tag(environment_hash: str, base_image_id: str) -> str:
    digest = hashlib.sha256(f"{environment_hash}\n{base_image_id}".encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:20]}"


def _base_image_id(client: docker.DockerClient, base_image: str) -> str:
    try:
        return client.images.get(base_image).id
    except ImageNotFound:
        raise CannotRun(
            f"base image {base_image} is not on this engine and cannot be pulled here; "
            f"build it with: repropack base build --tag {base_image}"
        ) from None


def _build_context(package_root: Path, into: Path, ca_bundle: Path | None) -> None:
    """The package's reserved folder only: payload data never enters the build."""
    shutil.copytree(package_root / RESERVED_DIR, into / RESERVED_DIR)
    target = into / layout.CA_BUNDLE
    target.write_bytes(ca_bundle.read_bytes() if ca_bundle else b"")


def _failure_reason(log: list[str]) -> str:
    for pattern in _PIP_REQUIREMENT_ERRORS:
        for line in reversed(log):
            match = pattern.search(line)
            if match:
                return f"cannot install requirement {match.group(1)}"
    meaningful = [line.strip() for line in log if line.strip()]
    return meaningful[-1][:300] if meaningful else "the build stopped without a message"


def build_image(client: docker.DockerClient, request: BuildRequest) -> PreparedEnvironment:
    """Build the image for ``request`` or reuse the one already tagged for it."""
    tag = image_tag(request.environment_hash, _base_image_id(client, request.base_image))
    try:
        image = client.images.get(tag)
        return PreparedEnvironment(reference=image.id, name=tag, reused=True)
    except ImageNotFound:
        pass
    started = time.monotonic()
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="repropack-build-") as context:
        _build_context(request.package_root, Path(context), request.ca_bundle)
        try:
            stream = client.api.build(
                path=context,
                dockerfile=layout.DOCKERFILE,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                network_mode="none" if request.offline else None,
                labels={"org.repropack.environment-hash": request.environment_hash},
            )
            for chunk in stream:
                if "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        log.append(line)
                        if request.on_log:
                            request.on_log(line)
                if "error" in chunk:
                    log.append(chunk["error"])
                    raise BuildFailed(f"build failed: {_failure_reason(log)}")
        except (APIError, BuildError) as exc:
            raise BuildFailed(f"build failed: {_failure_reason(log + [str(exc)])}") from None
    image = client.images.get(tag)
    return PreparedEnvironment(reference=image.id, name=tag, reused=False, build_seconds=time.monotonic() - started)
