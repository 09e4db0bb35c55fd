"""What a project tree holds that no package may: repropack's own products, and files that are no sources.

repropack's products are recognised by what repropack writes into them, never by name alone, so a
user's folder called ``x.replay-20261124T101500Z`` or holding a file named ``ro-crate-metadata.json``
stays a project folder:

- a package folder: ``ro-crate-metadata.json`` beside the reserved ``.repropack/`` folder;
- a package zip: a ``.zip`` whose directory lists ``ro-crate-metadata.json`` and ``.repropack/`` members;
- a governed-run record (``replay``, ``rejudge --record``): ``ro-crate-metadata.json`` beside a
  ``signature.json`` that says it signs what repropack's records sign;
- a replay report (``replay --report FILE.html``): an HTML page whose head carries repropack's
  generator tag;
- a half-written one: a temporary sibling ``.NAME.repropack-tmp-...`` (``fs.atomic``);
- its cache folder (``$REPROPACK_CACHE_DIR``), should it lie in the project.

No sources, by name: every hidden folder (``.git/``, ``.ipynb_checkpoints/``, ``.venv/``...),
``__pycache__/``, ``node_modules/``, ``.DS_Store``; by content: a virtualenv (a folder holding
``pyvenv.cfg``) or a conda environment (one holding ``conda-meta/``).
"""

from __future__ import annotations

import functools
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repropack.fs.atomic import TEMP_MARKER
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.fs.hashing import default_cache_dir
from repropack.model import RESERVED_DIR
from repropack.model.layout import METADATA

#: Folder names that never hold sources, besides hidden ones: caches and build clutter.
SKIPPED_FOLDER_NAMES = frozenset({"__pycache__", "node_modules"})
#: File names that never hold sources.
SKIPPED_FILE_NAMES = frozenset({".DS_Store"})

#: What a record's ``signature.json`` says it signs (``record.signing.SIGNED_CONTENT``; a test keeps them equal).
RECORD_SIGNATURE = "signature.json"
RECORD_SIGNED_CONTENT = "canonical-json(metadata+file sha256)"
#: The tag in the head of every report page repropack renders (``templates/report.html.j2``).
REPORT_GENERATOR = '<meta name="generator" content="repropack">'

PACKAGE = "a repropack package"
RECORD = "a repropack replay record"
REPORT = "a repropack replay report"
TEMPORARY = "a file repropack was writing"

_SIGNATURE_LIMIT = 64 * 2**20  # it lists every file of the record: far above any real one
_REPORT_HEAD = 2048  # bytes of a page read to find the generator tag


def skipped_folder(name: str) -> bool:
    """A folder never walked for its name alone: hidden, a cache or build clutter."""
    return name.startswith(".") or name in SKIPPED_FOLDER_NAMES


def skipped_file(name: str) -> bool:
    """A file never packed for its name alone: desktop clutter, or a temporary sibling being written."""
    return name in SKIPPED_FILE_NAMES or (name.startswith(".") and TEMP_MARKER in name)


def environment_folder(path: Path) -> bool:
    """A Python environment someone installed into the project: a virtualenv or a conda environment."""
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def cache_folder() -> Path:
    """repropack's cache (hashes, wheels, interpreter facts, local virtualenvs): never packed, wherever it is."""
    return default_cache_dir()


def product_folder(path: Path) -> str | None:
    """What repropack product the folder at ``path`` is (``PACKAGE`` or ``RECORD``), or None."""
    if not _regular(path / METADATA):
        return None
    if (path / RESERVED_DIR).is_dir() and not (path / RESERVED_DIR).is_symlink():
        return PACKAGE
    if _regular(path / RECORD_SIGNATURE) and _is_record_signature(path / RECORD_SIGNATURE):
        return RECORD
    return None


def product_file(path: Path, state: os.stat_result) -> str | None:
    """What repropack product the regular file at ``path`` (whose stat is ``state``) is, or None.

    Zips and pages are opened only when their name says they may be one; the answer is remembered
    for the same size, mtime and inode, as a project is snapshotted after every notebook.
    """
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return PACKAGE if _is_package_zip(str(path), state.st_size, state.st_mtime_ns, state.st_ino) else None
    if suffix == ".html":
        return REPORT if _is_report(str(path), state.st_size, state.st_mtime_ns, state.st_ino) else None
    return None


@dataclass(frozen=True)
class Holder:
    """The product holding a path: where it is (project-relative) and what it is."""

    path: str
    kind: str


def product_holding(root: Path, relpath: str) -> Holder | None:
    """The repropack product that ``relpath`` is or lies in, or None: names why a file a notebook read is not packed."""
    parts = PurePosixPath(relpath).parts
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        kind = product_folder(root / folder)
        if kind is not None:
            return Holder(folder, kind)
    full = root / relpath
    try:
        state = full.stat()
    except OSError:
        return None
    if skipped_file(full.name):
        return Holder(relpath, TEMPORARY) if TEMP_MARKER in full.name else None
    kind = product_file(full, state) if stat.S_ISREG(state.st_mode) else None
    return Holder(relpath, kind) if kind is not None else None


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_record_signature(path: Path) -> bool:
    try:
        document = json.loads(read_regular_file(path, limit=_SIGNATURE_LIMIT))
    except (UnsafeData, ValueError):  # not JSON, too big, not readable: not repropack's
        return False
    return isinstance(document, dict) and document.get("signed") == RECORD_SIGNED_CONTENT


@functools.lru_cache(maxsize=4096)
def _is_package_zip(path: str, size: int, mtime_ns: int, inode: int) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()  # the central directory only: nothing is extracted
    except (zipfile.BadZipFile, OSError, ValueError):  # not a zip after all: a data file like any other
        return False
    return METADATA in names and any(name.startswith(f"{RESERVED_DIR}/") for name in names)


@functools.lru_cache(maxsize=4096)
def _is_report(path: str, size: int, mtime_ns: int, inode: int) -> bool:
    try:
        with open(path, "rb") as page:
            head = page.read(_REPORT_HEAD)
    except OSError:
        return False
    return REPORT_GENERATOR.encode("ascii") in head
