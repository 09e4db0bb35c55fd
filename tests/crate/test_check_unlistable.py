"""A folder ``check`` cannot list could hide a symlink: it is a problem, never skipped."""

from __future__ import annotations

import errno
import os
import zipfile

from repropack.crate.check import check_files
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.fs import walk
from tests.conftest import make_project


def test_unlistable_folder_in_a_package_is_a_layout_problem(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    export_project(project, tmp_path / "pkg.zip", {})
    folder = tmp_path / "pkg"
    zipfile.ZipFile(tmp_path / "pkg.zip").extractall(folder)
    real_open = os.open

    def open_refusing_outputs(path, flags, *args, **kwargs):
        # What a 0o100 folder does to a non-root reader (root reads through any mode, so inject it).
        if os.fspath(path) == "outputs":
            raise PermissionError(errno.EACCES, "Permission denied", "outputs")
        return real_open(path, flags, *args, **kwargs)

    with open_package(folder) as opened:
        monkeypatch.setattr(walk.os, "open", open_refusing_outputs)
        problems, _ = check_files(opened)
        monkeypatch.undo()
    messages = [p.message for p in problems]
    assert "outputs: folder in the package cannot be listed" in messages
