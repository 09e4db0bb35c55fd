"""Write a package atomically: everything goes to a temporary sibling of the
output, which is renamed into place at the end. An error or Ctrl-C leaves
nothing at the output path (and an existing output untouched unless forced).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from repropack.errors import BadInput
from repropack.fs.archive import write_deterministic_zip, zip_date_time
from repropack.fs.atomic import StagingFolder, scratch_folder, staged_file, staged_folder, staging_folder
from repropack.fs.hashing import HashCache, ProgressCallback, copy_and_hash, default_cache_dir
from repropack.fs.tree import FileState
from repropack.model import Digest, layout


@dataclass(frozen=True)
class PackageContent:
    """What goes into a package, by package path."""

    metadata: dict
    disk_files: Mapping[str, tuple[Path, FileState]]  # copied from the project; the state is what was hashed
    memory_files: Mapping[str, bytes] = field(default_factory=dict)
    extra_files: Mapping[str, Path] = field(default_factory=dict)  # e.g. downloaded wheels


#: The user cache's folder of zip manifests (``fs.archive``: where each entry of a written package lies).
ZIP_MANIFESTS = "zips"


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


class PackageStaging:
    """A package folder being built beside its output, its project files copied in (and hashed) before the
    rest of the package is known: each project file is read once. ``write_package(..., staging=)`` completes
    and commits it; leaving ``package_staging`` any other way removes it."""

    def __init__(self, folder: StagingFolder) -> None:
        self.folder = folder
        self.disk_files: frozenset[str] = frozenset()
        self._cache: HashCache | None = None
        self._digests: dict[str, Digest] = {}

    def add_project_files(
        self,
        files: Mapping[str, tuple[Path, FileState]],
        *,
        cache: HashCache | None,
        on_bytes: ProgressCallback | None = None,
    ) -> dict[Path, Digest]:
        """Copy ``files`` (package path -> source, state when listed) into the package; their sources' digests.

        A file the package being replaced (``--force``) holds already, as the cache
        says, is hard-linked from it rather than copied: the old package is removed
        once the new one is in place, so nothing stays shared.
        Raises BadInput naming the package path when a file changed since it was listed, or while copied.
        """
        shown = {src: rel for rel, (src, _) in files.items()}
        replaced = self.folder.destination
        previous = {src: replaced / rel for rel, (src, _) in files.items()} if _is_real_dir(replaced) else None
        digests = copy_and_hash(
            {src: (self.folder.path / rel, state) for rel, (src, state) in files.items()},
            cache=cache,
            on_bytes=on_bytes,
            label=lambda src: shown[src],
            previous=previous,
        )
        self.disk_files = frozenset(files)
        self._cache = cache
        self._digests = {rel: digests[src] for rel, (src, _) in files.items()}
        return digests

    def remember_written(self) -> None:
        """Cache the digests of the committed package's files, so the next export over it can link them."""
        if self._cache is None:
            return
        destination = self.folder.destination
        entries = []
        for rel, digest in self._digests.items():
            try:
                entries.append((destination / rel, os.lstat(destination / rel), digest))
            except OSError:
                continue
        self._cache.store_many(entries)


@contextmanager
def package_staging(output: Path, *, force: bool) -> Iterator[PackageStaging | None]:
    """A staging for a package folder at ``output``; None for a zip (written from its files at the end)."""
    if is_zip_output(output):
        yield None
        return
    with staging_folder(output, replace=force, exists_message=_exists(output)) as folder:
        yield PackageStaging(folder)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _exists(output: Path) -> str:
    return f"{output}: already exists; pass --force to overwrite it"


def write_package(
    output: Path,
    content: PackageContent,
    *,
    force: bool,
    date_published: datetime | None,
    staging: PackageStaging | None = None,
) -> None:
    """Write a package directory, or a deterministic zip when ``output`` ends in ``.zip``.

    Zip entries carry ``date_published`` (or 1980-01-01 when None) as their
    timestamp, so the same content and date give the same bytes. With
    ``staging`` (a folder output), the disk files it already holds are not copied again.
    """
    exists = _exists(output)
    if staging is not None:
        missing = set(content.disk_files) - staging.disk_files
        _stage(
            staging.folder.path, replace(content, disk_files={p: content.disk_files[p] for p in missing}), link=False
        )
        staging.folder.commit()
        staging.remember_written()
        return
    if is_zip_output(output):
        epoch = int(date_published.timestamp()) if date_published else None
        with staged_file(output, replace=force, exists_message=exists) as zipped, scratch_folder(output) as stage:
            _stage(stage, content, link=True)
            # The zip it replaces is reused entry by entry where the user cache's manifest vouches for it.
            manifests = default_cache_dir() / ZIP_MANIFESTS
            write_deterministic_zip(
                stage, zipped, date_time=zip_date_time(epoch), manifest_dir=manifests, replaces=output
            )
    else:
        with staged_folder(output, replace=force, exists_message=exists) as stage:
            _stage(stage, content, link=False)
