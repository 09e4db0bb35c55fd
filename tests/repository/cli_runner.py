"""Running ``repropack`` in a subprocess against a repository, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from repropack.repository.opened import init_repository

#: A repository's policy without profile validation (a second a package; admission's own tests cover it).
FAST_POLICY_TOML = 'profiles = "off"\n'


def repropack(*args: str | Path, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repropack", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=300,
    )


def fast_repository(root: Path, catalog_url: str | None = None) -> Path:
    """A new repository at ``root`` whose policy skips profile validation."""
    init_repository(root, catalog_url)
    (root / "policy.toml").write_text(FAST_POLICY_TOML)
    return root
