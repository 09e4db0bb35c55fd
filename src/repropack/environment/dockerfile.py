"""Render the package's Dockerfile from the Jinja template in ``templates/``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from repropack.errors import BadInput
from repropack.model import RESERVED_DIR, Environment
from repropack.model.lock import is_hashed
from repropack.resources import templates

DOCKERFILE_TEMPLATE = "Dockerfile.j2"
#: The build context's folder for what a replay's build stage only uses: ``uv`` (the installer binary) and
#: ``wheels/`` (what the host fetched for the lock). Not a package path: the package never supplies them.
BUILD_DIR = "repropack-build"
#: A wheel file name as ``environment.localwheel`` makes it: nothing a Dockerfile line could be split at.
_WHEEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.whl")

#: name[:tag][@digest] as Docker accepts it; anything else (a newline, a space)
#: could smuggle instructions into the rendered Dockerfile.
DOCKER_REFERENCE = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
    # or an image id as the engine has it: what a replay builds FROM, so nothing is ever pulled
    r"|sha256:[0-9a-f]{64}"
)


def render_dockerfile(
    environment: Environment, *, wheelhouse: bool, local_wheels: Mapping[str, str] | None = None
) -> str:
    """The Dockerfile text; the same inputs always give the same bytes.

    Only what defines the image goes in (not the host's kernel release, not
    repropack's version), so the environment hash is the same for the same lock
    on any host and with any release. ``local_wheels`` maps the file name of each
    wheel under ``.repropack/local/`` (the project's own non-editable installs)
    to its sha256, which the text names: other wheels, another environment hash.
    Everything comes from the model (``Environment`` and the package's recorded
    wheels), so a replay renders the same text from a package's facts; with
    ``environment.base_image`` an image id (``sha256:...``) the build names the
    engine's local image. The lock is installed with ``uv`` (``BUILD_DIR/uv`` in
    the context) from ``BUILD_DIR/wheels`` and, unless the build argument
    ``REPROPACK_NO_INDEX`` is set, the reviewer's index; a lock whose pins carry
    hashes installs with ``--require-hashes``.
    """
    if not DOCKER_REFERENCE.fullmatch(environment.base_image):
        raise BadInput(f"base image {environment.base_image!r} is not a valid image reference")
    wheels = sorted((local_wheels or {}).items())
    for name, sha256 in wheels:
        if not _WHEEL_NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise BadInput(f"local wheel {name!r} (sha256 {sha256!r}) cannot be named in a Dockerfile")
    template = templates(html=False).get_template(DOCKERFILE_TEMPLATE)
    return template.render(
        base_image=environment.base_image,
        python_version=environment.python_version,
        machine=environment.machine,
        reserved=RESERVED_DIR,
        build_dir=BUILD_DIR,
        wheelhouse=wheelhouse,
        local_wheels=wheels,
        hashed=is_hashed(environment.lock),
    )


def environment_hash(dockerfile: str, lock: str) -> str:
    """Identity of an environment: what an image built from these files is keyed by."""
    digest = hashlib.sha256()
    for part in (dockerfile, lock):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
