"""Render the package's Dockerfile from the Jinja template in ``templates/``."""

from __future__ import annotations

import hashlib

import jinja2

from repropack.model import RESERVED_DIR, Environment
from repropack.resources import template_dir

DOCKERFILE_TEMPLATE = "Dockerfile.j2"


def render_dockerfile(environment: Environment, *, wheelhouse: bool, tool_version: str) -> str:
    """The Dockerfile text; the same inputs always give the same bytes."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # a Dockerfile, not HTML
    )
    return env.get_template(DOCKERFILE_TEMPLATE).render(
        base_image=environment.base_image,
        python_version=environment.python_version,
        platform=environment.platform,
        reserved=RESERVED_DIR,
        wheelhouse=wheelhouse,
        tool_version=tool_version,
    )


def environment_hash(dockerfile: str, lock: str) -> str:
    """Identity of an environment: what an image built from these files is keyed by."""
    digest = hashlib.sha256()
    for part in (dockerfile, lock):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
