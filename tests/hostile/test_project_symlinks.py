"""Symlinks in a project at export: each refused in one line naming the link (exit 2), or never followed.

A project is untrusted input too: a link can lead to a restricted file, out of the project, nowhere, or
back to itself. None may pack bytes it should not, none may end in a traceback, and a refused export
leaves nothing behind (no package, no staging file) beyond what the notebook itself wrote in the project.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.hostile.clikit import assert_refused, repropack


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "study")
    shutil.rmtree(root / "outputs", ignore_errors=True)
    return root


def export(project: Path, out: Path):
    return repropack("export", project, "-o", out, "--restrict", "data/input.csv")


@pytest.mark.parametrize(
    ("link", "target", "reason"),
    [
        ("copy.csv", "data/input.csv", "copy.csv is a symbolic link to restricted input data/input.csv"),
        ("up.csv", "../study/data/input.csv", "up.csv is a symbolic link to restricted input data/input.csv"),
        ("shadow", "/etc/shadow", "shadow: symlink points outside the project (to /etc/shadow)"),
        ("etc", "/etc", "etc: symlink points outside the project (to /etc)"),
        ("dangling.csv", "nowhere.csv", "cannot read"),
    ],
    ids=["to-restricted", "to-restricted-through-parent", "to-outside-file", "to-outside-folder", "dangling"],
)
def test_a_project_symlink_is_refused_naming_it(project, tmp_path, outside, link, target, reason):
    (project / link).symlink_to(target)
    out = tmp_path / "out.zip"
    outside.__post_init__()

    done = export(project, out)

    line = assert_refused(done, reason)
    assert link in line
    # The notebook ran before the packed files were checked: what it wrote in the project is its own.
    outside.assert_nothing_new(allowed=(project / "outputs",))


def test_a_symlink_loop_in_a_project_is_refused_naming_it(project, tmp_path, outside):
    (project / "loop1").symlink_to("loop2")
    (project / "loop2").symlink_to("loop1")
    outside.__post_init__()

    done = export(project, tmp_path / "out.zip")

    assert_refused(done, "symlink loop (it leads back to itself)")
    outside.assert_nothing_new()


def test_a_linked_folder_holding_a_restricted_file_is_not_followed(project, tmp_path):
    (project / "mirror").symlink_to("data")
    out = tmp_path / "out.zip"

    done = export(project, out)

    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    assert not any(name.startswith(("mirror/", "data/")) for name in names), names
