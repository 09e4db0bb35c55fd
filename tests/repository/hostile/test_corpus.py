"""Every case of the hostile corpus, refused by ``admit``: BadInput, one line naming the entry and the rule,
nothing written anywhere but admission's own temp folder (gone afterwards), the hostile package unchanged."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from repropack.config import OpeningLimits
from repropack.errors import BadInput
from repropack.repository.admission import admit
from repropack.repository.policy import Policy
from tests.repository.hostile.corpus import CASES


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``path`` (or ``path`` itself): its mode and, for regular files, its sha256."""
    paths = [path] if not path.is_dir() else sorted([path, *path.rglob("*")])
    found = {}
    for item in paths:
        st = os.lstat(item)
        digest = hashlib.sha256(item.read_bytes()).hexdigest() if item.is_file() and not item.is_symlink() else ""
        found[str(item)] = (st.st_mode, digest)
    return found


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_hostile_case_is_refused_with_its_own_line_and_writes_nothing(name, valid_package, tmp_path, outside):
    work = tmp_path / "work"
    work.mkdir()
    try:
        case = CASES[name](valid_package, work)
    except PermissionError as exc:  # device_in_folder, not run as root
        pytest.skip(f"cannot build {name} here: {exc}")
    before = fingerprint(case.path)
    outside.__post_init__()

    with pytest.raises(BadInput) as refused, admit(case.path, Policy(profiles="off"), OpeningLimits()):
        pytest.fail("admitted")

    message = str(refused.value)
    assert case.fragment in message
    assert "\n" not in message
    assert str(tmp_path / "tmp") not in message  # names the package given, never admission's temp copy
    outside.assert_nothing_new()
    assert fingerprint(case.path) == before
