"""The hostile suite's watch on what is written (tests/hostile/conftest.py), and one valid package per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import isolate_user_dirs
from tests.hostile.conftest import outside, private_temp  # noqa: F401 (fixtures for this folder's tests)
from tests.repository.hostile.corpus import export_valid_package


@pytest.fixture(scope="session")
def valid_package(tmp_path_factory) -> Path:
    """A valid package folder, exported once per session: cases copy it, never change it."""
    base = tmp_path_factory.mktemp("admission-valid")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")
        return export_valid_package(base)
