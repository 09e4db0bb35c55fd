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
from repropack.model import RESERVED_DIR

#: Folders never walked besides hidden ones: caches and build clutter, never inputs.
_SKIPPED_DIR_NAMES = frozenset({"__pycache__", "node_modules"})


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
    name = PurePosixPath(relpath).name
    for glob in globs:
        pattern = glob.rstrip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(relpath, pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def check_reserved(root: Path) -> None:
    if os.path.lexists(root / RESERVED_DIR):
        raise BadInput(
            f"{root / RESERVED_DIR}: the project has a path that collides with the package's reserved "
            f"folder {RESERVED_DIR}/; rename it"
        )


def snapshot(root: Path, *, exclude: Sequence[str] = (), ignore: Collection[Path] = ()) -> dict[str, FileState]:
    """Stat every project file that a package may hold, keyed by POSIX relative path.

    Hidden folders, virtualenvs and ``ignore``d paths (the package being written)
    are not walked. A symlink is followed when it points inside the project and
    refused (BadInput) when it points outside.
    """
    return _scan(root, exclude, ignore)[0]


def empty_folders(root: Path, *, exclude: Sequence[str] = (), ignore: Collection[Path] = ()) -> list[str]:
    """Folders a package would not recreate: they hold no file (at any depth) that it may hold.

    A notebook may write into a folder it expects to exist; the replay needs it too.
    """
    files, folders = _scan(root, exclude, ignore)
    holding = {str(PurePosixPath(path).parent) for path in files}
    holding |= {str(parent) for path in holding for parent in PurePosixPath(path).parents}
    return sorted(folder for folder in folders if folder not in holding)


def _scan(root: Path, exclude: Sequence[str], ignore: Collection[Path]) -> tuple[dict[str, FileState], set[str]]:
    root = root.resolve()
    ignored = {Path(p).resolve() for p in ignore}
    found: dict[str, FileState] = {}
    folders: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        kept = []
        for d in sorted(dirnames):
            full = here / d
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if d.startswith(".") or d in _SKIPPED_DIR_NAMES or full in ignored:
                continue
            if full.is_symlink():
                _check_symlink_target(root, full, rel)
                continue  # its target is inside the project and is walked there
            if _is_virtualenv(full) or matches_any(rel, exclude):
                continue
            kept.append(d)
            folders.add(rel)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = here / name
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if full in ignored or matches_any(rel, exclude):
                continue
            if full.is_symlink():
                _check_symlink_target(root, full, rel)
            try:
                st = full.stat()
            except OSError as exc:
                raise BadInput(f"cannot read {full}: {exc.strerror}") from None
            if not stat.S_ISREG(st.st_mode):
                continue  # sockets, fifos: not data a package can hold
            found[rel] = FileState(st.st_size, st.st_mtime_ns, st.st_ino)
    return found, folders


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
