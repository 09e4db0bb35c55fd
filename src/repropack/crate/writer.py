"""Write a package atomically: everything goes to a temporary sibling of the
output, which is renamed into place at the end. An error or Ctrl-C leaves
nothing at the output path (and an existing output untouched unless forced).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from repropack.errors import BadInput
from repropack.fs.archive import write_deterministic_zip, zip_date_time
from repropack.fs.atomic import scratch_folder, staged_file, staged_folder
from repropack.fs.tree import FileState
from repropack.model import layout


@dataclass(frozen=True)
class PackageContent:
    """What goes into a package, by package path."""

    metadata: dict
    disk_files: Mapping[str, tuple[Path, FileState]]  # copied from the project; the state is what was hashed
    memory_files: Mapping[str, bytes] = field(default_factory=dict)
    extra_files: Mapping[str, Path] = field(default_factory=dict)  # e.g. downloaded wheels


def metadata_bytes(metadata: dict) -> bytes:
    return (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def is_zip_output(output: Path) -> bool:
    return output.suffix.lower() == ".zip"


def _place(src: Path, dest: Path, *, link: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(src, dest)  # the staging tree only feeds the zip: sharing the inode is safe and free
            return
        except OSError:
            pass
    shutil.copyfile(src, dest)


def _stage(stage: Path, content: PackageContent, *, link: bool) -> None:
    for rel, (src, hashed_state) in content.disk_files.items():
        _place(src, stage / rel, link=link)
        st = src.stat()
        if FileState(st.st_size, st.st_mtime_ns, st.st_ino) != hashed_state:
            raise BadInput(f"{rel}: the file changed while it was being packaged; export again")
    for rel, data in content.memory_files.items():
        dest = stage / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    for rel, src in content.extra_files.items():
        _place(src, stage / rel, link=link)
    (stage / layout.METADATA).write_bytes(metadata_bytes(content.metadata))


def write_package(output: Path, content: PackageContent, *, force: bool, date_published: datetime | None) -> None:
    """Write a package directory, or a deterministic zip when ``output`` ends in ``.zip``.

    Zip entries carry ``date_published`` (or 1980-01-01 when None) as their
    timestamp, so the same content and date give the same bytes.
    """
    exists = f"{output}: already exists; pass --force to overwrite it"
    if is_zip_output(output):
        epoch = int(date_published.timestamp()) if date_published else None
        with staged_file(output, replace=force, exists_message=exists) as zipped, scratch_folder(output) as stage:
            _stage(stage, content, link=True)
            write_deterministic_zip(stage, zipped, date_time=zip_date_time(epoch))
    else:
        with staged_folder(output, replace=force, exists_message=exists) as stage:
            _stage(stage, content, link=False)
