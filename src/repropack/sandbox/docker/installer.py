"""What a build installs the lock with: the host's ``uv`` binary, and the wheels the host fetched for the image.

The build stage runs ``uv`` (a static-enough ELF: it needs only glibc) copied
from the ``uv`` wheel installed beside repropack, its bytes checked against
that wheel's RECORD, so the build downloads no installer and runs no installer
the package could name. It is copied into the build stage only: the final image
has the virtualenv and nothing else of the build.

The wheels come from ``environment.wheelcache`` for the platform of the base
image, as a short container of it (no network, nothing mounted) reports it:
its Python's PEP 508 marker values and glibc version, asked once per base image
id per process, within ``TARGET_TIMEOUT`` seconds (a base that cannot say gets
no host-fetched wheels: its build asks the index).
"""

from __future__ import annotations

import base64
import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

from repropack.environment.wheelcache import Target
from repropack.errors import CannotRun
from repropack.fs.bounded import UnsafeData, loads_bounded
from repropack.fs.hashing import sha256_file
from repropack.sandbox.docker.stale import replay_labels

#: Seconds the base image's python3 may take to print its platform (it starts and exits at once).
TARGET_TIMEOUT = 20
_TARGET_LIMIT = 64 * 2**10

#: Printed by the base image's python3 (standard library only): what wheel tags and markers are computed from.
_TARGET_SCRIPT = r"""
import json, os, platform, sys
def v(info):
    text = f"{info.major}.{info.minor}.{info.micro}"
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)
print(json.dumps({"glibc": platform.libc_ver()[1], "markers": {
    "implementation_name": sys.implementation.name,
    "implementation_version": v(sys.implementation.version),
    "os_name": os.name, "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform}}))
"""


@dataclass(frozen=True)
class Installer:
    """The uv binary a build copies, and its sha256 (hex) as its wheel's RECORD states it."""

    path: Path
    sha256: str


def installer() -> Installer:
    """The host's uv, checked against its wheel's RECORD; CannotRun when it is missing, changed or cannot run
    in a Linux image of this host's machine."""
    if platform.system() != "Linux":
        raise CannotRun(
            f"the uv binary of this {platform.system()} host cannot run in a Linux image; replay on a Linux host"
        )
    try:
        import importlib.metadata

        import uv

        binary = Path(os.path.realpath(uv.find_uv_bin()))
        files = importlib.metadata.distribution("uv").files or []
    except (ImportError, FileNotFoundError, importlib.metadata.PackageNotFoundError):
        raise CannotRun("uv is not installed beside repropack: pip install uv") from None
    recorded = next((f.hash for f in files if f.hash and os.path.realpath(f.locate()) == str(binary)), None)
    if recorded is None or recorded.mode != "sha256":
        raise CannotRun(f"{binary}: the uv wheel's RECORD has no sha256 for it; reinstall uv")
    expected = base64.urlsafe_b64decode(recorded.value + "=" * (-len(recorded.value) % 4)).hex()
    actual = sha256_file(binary).sha256
    if actual != expected:
        raise CannotRun(f"{binary}: sha256 {actual} is not the uv wheel's recorded {expected}; reinstall uv")
    return Installer(binary, expected)


def image_target(client: docker.DockerClient, image_id: str) -> Target | None:
    """The platform that image ``image_id`` installs wheels for; None when it cannot say (the build's
    installer then asks the index for every wheel)."""
    return _image_target(client, image_id)


@functools.lru_cache(maxsize=8)
def _image_target(client: docker.DockerClient, image_id: str) -> Target | None:
    try:
        container = client.containers.run(
            image_id,
            ["python3", "-I", "-S", "-c", _TARGET_SCRIPT],
            detach=True,
            network_mode="none",
            user="1000:1000",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            labels=replay_labels(TARGET_TIMEOUT),  # removed by the next replay if this process dies
        )
    except DockerException:
        return None
    try:
        if container.wait(timeout=TARGET_TIMEOUT).get("StatusCode") != 0:
            return None
        out = container.logs(stdout=True, stderr=False)
        facts = loads_bounded(out.strip()[:_TARGET_LIMIT], max_depth=2, what="the base image's platform")
        return Target.of_image(facts["markers"], facts["glibc"])
    except (DockerException, RequestException, UnsafeData, AttributeError, KeyError, TypeError, ValueError):
        return None
    finally:
        try:
            container.remove(force=True)
        except DockerException:
            pass  # the stale sweep removes it
