"""Build a base image from a Debian mirror, with no container registry.

Air-gapped sites (hospital enclaves, supercomputer centres) cannot pull
images; they can reach a distribution mirror. ``debootstrap`` makes a minimal
root filesystem with Python, and the engine imports it as an image. Which
suite gives which Python is ``sandbox.bases.KNOWN_BASES``: bookworm 3.11,
trixie 3.13.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.errors import BadInput, CannotRun
from repropack.sandbox.bases import KNOWN_BASES, known_base, minor_version
from repropack.sandbox.docker.engine import engine_client

DEFAULT_PYTHON = KNOWN_BASES[0].python
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
    tag: str | None = None,
    *,
    python: str = DEFAULT_PYTHON,
    suite: str | None = None,
    mirror: str = DEFAULT_MIRROR,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """debootstrap the Debian suite whose python3 is ``python`` ("3.11", "3.13") from ``mirror`` and
    import it as ``tag`` (default: that Python's known tag); returns the image id.

    ``suite`` overrides the suite; the image's Python must still be ``python``, or
    the image is removed and CannotRun says which Python the suite has.
    """
    base = known_base(python)
    tag = tag or base.tag
    suite = suite or base.suite
    if ":" not in tag or tag.endswith(":"):
        raise BadInput(f"--tag {tag!r}: give NAME:TAG, e.g. {DEFAULT_BASE_IMAGE}")
    if shutil.which("debootstrap") is None:
        raise CannotRun("debootstrap is not installed: apt-get install debootstrap")
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
    found = image_python(tag)
    if minor_version(found) != python:
        client.images.remove(tag, force=True)
        raise CannotRun(f"{suite} has Python {found}, not {python}; {tag} was not kept (drop --suite or pick another)")
    return client.images.get(tag).id


def image_python(tag: str) -> str:
    """The version of ``python3`` in image ``tag`` ("3.13.5"), asked of a throwaway container with no network."""
    out = engine_client().containers.run(
        tag,
        ["python3", "-c", "import platform; print(platform.python_version())"],
        remove=True,
        network_disabled=True,
    )
    return out.decode().strip()
