"""The project tree: which files a project has, and what changed between two looks.

A snapshot records (size, mtime_ns, inode) per file, which is cheap (stat only)
and catches writes that no in-kernel hook sees: subprocesses, C libraries.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repropack.errors import BadInput
from repropack.fs import products
from repropack.model import RESERVED_DIR


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    inode: int


Snapshot = Mapping[str, FileState]


def matches_any(relpath: str, globs: Sequence[str]) -> bool:
    """True when a project-relative POSIX path matches one of ``globs``.

    A glob with a slash matches the whole path (``data/raw/*.csv``); one without
    matches the name at any depth (``*.log``), as in .gitignore.
    """
    return first_match(relpath, globs) is not None


def first_match(relpath: str, globs: Sequence[str]) -> str | None:
    """The first of ``globs`` that ``relpath`` matches (as ``matches_any`` says), or None."""
    name = PurePosixPath(relpath).name
    for glob in globs:
        pattern = glob.rstrip("/")
        if fnmatch.fnmatchcase(relpath if "/" in pattern else name, pattern):
            return glob
    return None


def check_reserved(root: Path) -> None:
    if os.path.lexists(root / RESERVED_DIR):
        raise BadInput(
            f"{root / RESERVED_DIR}: the project has a path that collides with the package's reserved "
            f"folder {RESERVED_DIR}/; rename it"
        )


def snapshot(root: Path, *, exclude: Sequence[str] = (), ignore: Collection[Path] = ()) -> dict[str, FileState]:
    """Stat every project file that a package may hold, keyed by POSIX relative path.

    What no package may hold is not walked (``fs.products``): hidden folders,
    ``__pycache__``, ``node_modules``, Python environments, ``.DS_Store``, and
    repropack's own packages, replay records, reports and half-written files;
    nor are ``ignore``d paths (the package being written). A symlink is followed
    when it points inside the project and refused (BadInput) when it points outside.
    """
    return _scan(root, exclude, ignore)[0]


def unmatched_excludes(root: Path, *, exclude: Sequence[str], ignore: Collection[Path] = ()) -> list[str]:
    """The globs of ``exclude`` that leave out nothing a snapshot would hold, in their order (a walk of the tree)."""
    hits: set[str] = set()
    _scan(root, exclude, ignore, hits)
    return [glob for glob in exclude if glob not in hits]


def empty_folders(root: Path, *, exclude: Sequence[str] = (), ignore: Collection[Path] = ()) -> list[str]:
    """Folders a package would not recreate: they hold no file (at any depth) that it may hold.

    A notebook may write into a folder it expects to exist; the replay needs it too.
    """
    return snapshot_with_empty_folders(root, exclude=exclude, ignore=ignore)[1]


def snapshot_with_empty_folders(
    root: Path, *, exclude: Sequence[str] = (), ignore: Collection[Path] = ()
) -> tuple[dict[str, FileState], list[str]]:
    """``snapshot`` and ``empty_folders`` from one walk of the tree."""
    files, folders = _scan(root, exclude, ignore)
    holding = {str(PurePosixPath(path).parent) for path in files}
    holding |= {str(parent) for path in holding for parent in PurePosixPath(path).parents}
    return files, sorted(folder for folder in folders if folder not in holding)


def _scan(
    root: Path, exclude: Sequence[str], ignore: Collection[Path], hits: set[str] | None = None
) -> tuple[dict[str, FileState], set[str]]:
    """The files and folders a package may hold; ``hits`` collects the globs of ``exclude`` that left something out."""
    root = root.resolve()
    ignored = {Path(p).resolve() for p in ignore} | {products.cache_folder().resolve()}
    found: dict[str, FileState] = {}
    folders: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        kept = []
        for d in sorted(dirnames):
            full = here / d
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if products.skipped_folder(d) or full in ignored:
                continue
            if full.is_symlink():
                _check_symlink_target(root, full, rel)
                continue  # its target is inside the project and is walked there
            if products.environment_folder(full) or products.product_folder(full) or _excluded(rel, exclude, hits):
                continue
            kept.append(d)
            folders.add(rel)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = here / name
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if full in ignored or products.skipped_file(name) or _excluded(rel, exclude, hits):
                continue
            if full.is_symlink():
                _check_symlink_target(root, full, rel)
            try:
                st = full.stat()
            except OSError as exc:
                raise BadInput(f"cannot read {full}: {exc.strerror}") from None
            if not stat.S_ISREG(st.st_mode):
                continue  # sockets, fifos: not data a package can hold
            if products.product_file(full, st):
                continue
            found[rel] = FileState(st.st_size, st.st_mtime_ns, st.st_ino)
    return found, folders


def _excluded(rel: str, exclude: Sequence[str], hits: set[str] | None) -> bool:
    glob = first_match(rel, exclude)
    if glob is not None and hits is not None:
        hits.add(glob)
    return glob is not None


def _check_symlink_target(root: Path, link: Path, rel: str) -> None:
    try:
        target = link.resolve()
    except (RuntimeError, OSError):  # a loop of links: RuntimeError before Python 3.13, OSError (ELOOP) from it
        raise BadInput(f"{rel}: symlink loop (it leads back to itself); remove it or exclude it") from None
    if target != root and root not in target.parents:
        raise BadInput(f"{rel}: symlink points outside the project (to {target}); copy the file in or exclude it")


def changed_between(before: Snapshot, after: Snapshot) -> set[str]:
    """Paths created or modified between two snapshots (deleted ones are not outputs)."""
    return {path for path, state in after.items() if before.get(path) != state}


def discover_notebooks(tree: Snapshot) -> list[str]:
    """Every notebook of the project, sorted (checkpoint and hidden folders are never in a snapshot)."""
    return sorted(path for path in tree if path.endswith(".ipynb"))
