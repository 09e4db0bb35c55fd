"""When each environment image was last used, for ``repropack cache prune``'s least-recently-used order.

One small JSON object (``default_cache_dir()/images/last-used.json``: image tag -> Unix seconds), rewritten
whole through a temporary sibling and a rename, so a reader sees the old object or the new one, never half
of one. Concurrent replays may each read, update and rename: one of their updates can be lost (the image is
then a little older to prune than it should be), the file is never corrupt. A file that cannot be read or
parsed, or entries that are not a tag and a number, count as nothing recorded.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from repropack.fs.hashing import default_cache_dir

LEDGER_FOLDER = "images"
LEDGER_FILE = "last-used.json"
_MAX_BYTES = 4 * 2**20  # far more than any real ledger; a larger file is someone else's, read as empty


def ledger_path(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / LEDGER_FOLDER / LEDGER_FILE


def last_uses(cache_dir: Path | None = None) -> dict[str, float]:
    """Image tag -> when it was last built or reused (Unix seconds); empty when nothing readable is recorded."""
    try:
        with open(ledger_path(cache_dir), "rb") as file:
            raw = file.read(_MAX_BYTES + 1)
        data = json.loads(raw) if len(raw) <= _MAX_BYTES else None
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        tag: float(when)
        for tag, when in data.items()
        if isinstance(tag, str) and isinstance(when, (int, float)) and not isinstance(when, bool)
    }


def record_use(tag: str, when: float | None = None, cache_dir: Path | None = None) -> None:
    """Note that ``tag`` was used now (or at ``when``). Never raises: a ledger that cannot be written only
    makes the image look older to ``cache prune``."""
    uses = last_uses(cache_dir)
    uses[tag] = time.time() if when is None else when
    _write(uses, cache_dir)


def forget(tags: Iterable[str], cache_dir: Path | None = None) -> None:
    """Drop the entries of removed images. Never raises."""
    gone = set(tags)
    uses = last_uses(cache_dir)
    if gone & uses.keys():
        _write({tag: when for tag, when in uses.items() if tag not in gone}, cache_dir)


def _write(uses: dict[str, float], cache_dir: Path | None) -> None:
    path = ledger_path(cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{LEDGER_FILE}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(uses, file, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only or full cache folder must not fail a replay
