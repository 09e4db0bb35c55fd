"""Media types of packed files, independent of the host's /etc/mime.types.

The table must not vary between machines, or two exports of the same project
would describe the same file differently.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

_BUILTIN = mimetypes.MimeTypes()  # built-in table only: does not read system files

_OVERRIDES = {
    ".ipynb": "application/x-ipynb+json",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".md": "text/markdown",
    ".toml": "application/toml",
    ".yml": "application/yaml",
    ".yaml": "application/yaml",
    ".parquet": "application/vnd.apache.parquet",
    ".py": "text/x-python",
    ".R": "text/plain",
    ".jsonld": "application/ld+json",
    ".lock": "text/plain",
}

_PLAIN_TEXT_NAMES = {"Dockerfile", "Pipfile", "apt.txt", "runtime.txt", "postBuild", "LICENSE", "README"}


def encoding_format(path: str) -> str:
    """A media type for a package path: stable, never empty."""
    pure = PurePosixPath(path)
    if pure.name in _PLAIN_TEXT_NAMES:
        return "text/plain"
    if pure.suffix in _OVERRIDES:
        return _OVERRIDES[pure.suffix]
    guessed, _ = _BUILTIN.guess_type(pure.name, strict=False)
    return guessed or "application/octet-stream"
