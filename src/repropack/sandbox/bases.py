"""The base images repropack builds, one per Python minor version, and which one a replay builds on.

``repropack base build --python 3.11|3.13`` debootstraps the Debian suite whose
``python3`` is that version (``sandbox.docker.base_image``). A replay builds on
the base whose Python minor version is the recorded one when the engine has it,
so the notebooks meet the Python they were recorded with; it says which base it
chose and why. Pure functions: whether an image is present is asked of the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from repropack.config import DEFAULT_BASE_IMAGE
from repropack.errors import BadInput


@dataclass(frozen=True)
class KnownBase:
    """A base image repropack knows how to build: Debian ``suite``, whose python3 is ``python`` (a minor version)."""

    python: str
    suite: str
    tag: str


KNOWN_BASES = (
    KnownBase("3.11", "bookworm", DEFAULT_BASE_IMAGE),
    KnownBase("3.13", "trixie", "repropack/base:trixie-py3.13"),
)
#: The Python versions ``base build --python`` accepts.
KNOWN_PYTHONS = tuple(base.python for base in KNOWN_BASES)


def minor_version(version: str | None) -> str | None:
    """``"3.13"`` for ``"3.13.1"`` (or ``"3.13"``); None when ``version`` does not start with two numbers."""
    parts = (version or "").strip().split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]):
        return None
    return f"{int(parts[0])}.{int(parts[1])}"


def known_base(python: str) -> KnownBase:
    """The base for a Python minor version ("3.13"); BadInput naming the known ones otherwise."""
    for base in KNOWN_BASES:
        if base.python == python:
            return base
    raise BadInput(f"--python {python!r}: repropack builds base images for Python {', '.join(KNOWN_PYTHONS)}")


def base_for_python(version: str | None) -> KnownBase | None:
    """The known base whose Python has the minor version of ``version`` ("3.13.1"), or None."""
    minor = minor_version(version)
    return next((base for base in KNOWN_BASES if base.python == minor), None)


def python_of_base(tag: str) -> str | None:
    """The Python minor version of a known base image, None for any other image."""
    return next((base.python for base in KNOWN_BASES if base.tag == tag), None)


@dataclass(frozen=True)
class BaseChoice:
    """The base image a replay builds on, and one line saying why that one."""

    image: str
    reason: str


def choose_base_image(
    *,
    chosen: str | None,
    recorded: str | None,
    recorded_chosen: bool,
    recorded_python: str | None,
    present: Callable[[str], bool],
) -> BaseChoice:
    """Which base image to build on.

    ``chosen`` is the replay's own setting (``--base-image`` or the user
    config) and always wins. ``recorded`` is the base the package names;
    ``recorded_chosen`` says the researcher set it at export (rather than it
    being export's default), and then it wins over the Python match. Otherwise
    the known base whose Python minor version is ``recorded_python``'s is used
    when ``present(tag)`` says the engine has it; else the package's base.
    """
    if chosen:
        return BaseChoice(chosen, "set by the replay's settings (--base-image or the user config)")
    fallback = recorded or DEFAULT_BASE_IMAGE
    if recorded and recorded_chosen:
        return BaseChoice(recorded, "the base image the package was exported with (set by its researcher)")
    fallback_python = python_of_base(fallback)
    fallback_said = f"{fallback} (Python {fallback_python})" if fallback_python else fallback
    if not recorded_python:
        return BaseChoice(fallback, "the package's base image: it records no Python version to match")
    match = base_for_python(recorded_python)
    if match is None:
        return BaseChoice(
            fallback,
            f"repropack has no base image for the recorded Python {recorded_python} "
            f"(it builds Python {', '.join(KNOWN_PYTHONS)}); building on the package's base image {fallback_said}",
        )
    if match.tag == fallback or present(match.tag):
        return BaseChoice(
            match.tag, f"its Python {match.python} is the recorded Python's minor version ({recorded_python})"
        )
    return BaseChoice(
        fallback,
        f"the base image for the recorded Python {recorded_python}, {match.tag}, is not on this engine "
        f"(make it with: repropack base build --python {match.python}); building on {fallback_said}",
    )
