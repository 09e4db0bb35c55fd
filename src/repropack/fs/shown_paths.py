"""How a path the user gave is shown back in messages."""

from __future__ import annotations

import os
from pathlib import Path


def shown_path(path: Path | str) -> str:
    """``path`` absolute and without ``.`` or ``..`` components, so a message says where a file is whatever the
    working folder. Symbolic links are not resolved: the path stays the one the user named."""
    return os.path.normpath(os.path.abspath(path))
