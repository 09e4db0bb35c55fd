"""The probe's answers, kept by image id: an image id is the sha256 of the image's content, so its facts
never change, and a warm replay need not start a probe container to learn them again.

Kept as the probe printed them under ``$REPROPACK_CACHE_DIR/probes/<id>.json`` (``~/.cache/repropack``
by default) and parsed as strictly as a fresh answer on every read (``probe.parse_probe``): a damaged
or unreadable file is a miss, and the probe runs again. Only the user's own replays write there. Each
file is a few KiB; the folder is safe to delete at any time.
"""

from __future__ import annotations

import re
from pathlib import Path

from repropack.fs.atomic import write_bytes_atomically
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.fs.hashing import default_cache_dir
from repropack.sandbox.probe import PROBE_LIMIT, EnvironmentFacts, ProbeFailed, parse_probe

_IMAGE_ID = re.compile(r"sha256:([0-9a-f]{64})")


def _path(image_id: str) -> Path | None:
    match = _IMAGE_ID.fullmatch(image_id)
    if not match:  # a tag or another backend's reference names no fixed content: never cached
        return None
    folder = default_cache_dir() / "probes"
    return folder / f"{match.group(1)}.json"


def cached_probe(image_id: str) -> EnvironmentFacts | None:
    """The facts the probe printed for ``image_id`` before, or None (never probed, or the file is unusable)."""
    path = _path(image_id)
    if path is None or not path.is_file():
        return None
    try:
        return parse_probe(read_regular_file(path, limit=PROBE_LIMIT, what=str(path)))
    except (UnsafeData, ProbeFailed):
        return None


def remember_probe(image_id: str, output: bytes) -> None:
    """Keep the probe's output (already parsed without fault) for ``image_id``; a write that fails is dropped."""
    path = _path(image_id)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_bytes_atomically(path, output)
    except OSError:
        pass  # an optimisation only: the next replay probes again
