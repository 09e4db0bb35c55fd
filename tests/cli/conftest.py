"""Fixtures the command-line tests share with govern's: real exported packages and the replays' shared cache."""

from tests.govern.conftest import govern_packages, replay_cache  # noqa: F401  (fixtures, shared)
