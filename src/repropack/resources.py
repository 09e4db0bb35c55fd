"""Locate the data files shipped with repropack (schemas, templates, contexts).

In a wheel they live under ``repropack/_data``; in a source checkout (editable
install) they are the top-level ``schemas/`` and ``templates/`` folders, which
stay the single source of truth.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``schemas`` or ``templates``, wherever this install keeps it."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"repropack data folder {name!r} is missing from this installation")


def schema_path(filename: str) -> Path:
    return data_dir("schemas") / filename


def template_dir() -> Path:
    return data_dir("templates")


@cache
def templates(*, html: bool) -> jinja2.Environment:
    """The Jinja environment of the templates in ``templates/``, one per process and kind, so each template is
    compiled at its first use only (compiling them anew took most of a warm replay's host CPU).

    ``html=True``: every value is escaped (the report quotes notebook output: untrusted text). ``html=False``:
    text as given, its trailing newline kept (a Dockerfile). Both refuse an undefined name."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=not html,
    )
