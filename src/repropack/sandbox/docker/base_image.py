"""Build a base image from a Debian mirror, with no container registry.

Air-gapped sites (hospital enclaves, supercomputer centres) cannot pull
images; they can reach a distribution mirror. ``debootstrap`` makes a minimal
root filesystem with Python, and the engine imports it as an image.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.errors import BadInput, CannotRun
from repropack.sandbox.docker.engine import engine_client

DEFAULT_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")


def _run(command: list[str], what: str, on_line: Callable[[str], None] | None) -> None:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip())
        if on_line:
            on_line(line.rstrip())
    if process.wait() != 0:
        last = next((line for line in reversed(lines) if line.strip()), f"exit {process.returncode}")
        raise CannotRun(f"{what} failed: {last}")


def base_image_exists(tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        engine_client().images.get(tag)
        return True
    except ImageNotFound:
        return False


def build_base_image(
    tag: str = DEFAULT_BASE_IMAGE,
    *,
    suite: str = DEFAULT_SUITE,
    mirror: str = DEFAULT_MIRROR,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """debootstrap ``suite`` from ``mirror`` and import it as ``tag``; returns the image id."""
    if shutil.which("debootstrap") is None:
        raise CannotRun("debootstrap is not installed: apt-get install debootstrap")
    if ":" not in tag or tag.endswith(":"):
        raise BadInput(f"--tag {tag!r}: give NAME:TAG, e.g. {DEFAULT_BASE_IMAGE}")
    client = engine_client()
    with tempfile.TemporaryDirectory(prefix="repropack-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs), mirror],
            "debootstrap",
            on_line,
        )
        tarball = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], "packing the root filesystem", on_line)
        repository, _, image_tag = tag.rpartition(":")
        client.api.import_image(src=str(tarball), repository=repository, tag=image_tag)
    return client.images.get(tag).id
