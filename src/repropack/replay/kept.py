"""The replayed outputs a governed-run record keeps, copied out of the work dir before it is deleted.

A reviewer opens them from the record (``replayed/<package path>``), and
``repropack diff`` and ``repropack rejudge`` read them. Only recorded outputs
and executed notebooks are kept, never an input: a restricted input supplied to
the replay stays on the machine that supplied it. The work dir was written by
the sandbox, so nothing in it is trusted: a link anywhere on the way is refused
(never followed), so is anything but a regular file, and the total is capped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repropack.model.layout import is_safe_package_path

#: Most bytes of replayed outputs one record keeps; outputs past it are named as not kept.
KEPT_LIMIT = 256 * 2**20


@dataclass(frozen=True)
class KeptOutputs:
    """What was copied to ``folder`` (package paths, sorted), and one line per produced output that was not."""

    folder: Path
    files: tuple[str, ...] = ()
    not_kept: tuple[str, ...] = ()


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def keep_outputs(
    work: Path, paths: Iterable[str], folder: Path, *, never: Collection[str] = (), limit: int = KEPT_LIMIT
) -> KeptOutputs:
    """Copy each of ``paths`` (package paths of outputs the replay produced under ``work``) into ``folder``.

    ``never`` lists paths that must not leave the machine whatever they are
    (restricted files): they are skipped and named. Files are kept in path
    order until ``limit`` bytes; the rest are named with their size. Never
    raises for what the sandbox left: an unreadable or unsafe file is named.
    """
    kept: list[str] = []
    not_kept: list[str] = []
    total = 0
    for path in sorted(set(paths)):
        if path in never:
            not_kept.append(f"{path}: restricted; never copied into a record")
            continue
        if not is_safe_package_path(path):
            not_kept.append(f"{path}: not a package path")
            continue
        problem = _unsafe_parents(work, path)
        if problem:
            not_kept.append(f"{path}: {problem}")
            continue
        try:
            fd = os.open(work / path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            reason = "a symbolic link; never followed" if os.path.islink(work / path) else error.strerror or error
            not_kept.append(f"{path}: {reason}")
            continue
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode):
                not_kept.append(f"{path}: not a regular file")
                continue
            if total + info.st_size > limit:
                not_kept.append(
                    f"{path}: {_mib(info.st_size)} would pass the record's limit of {_mib(limit)} of replayed outputs"
                )
                continue
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:
                copied = _copy(source, out, info.st_size)
            total += copied
        kept.append(path)
    return KeptOutputs(folder, tuple(kept), tuple(not_kept))


def _copy(source, out, size: int) -> int:
    """Copy at most ``size`` bytes (what fstat said), so a file still growing cannot pass the limit."""
    remaining, copied = size, 0
    while remaining > 0:
        chunk = source.read(min(remaining, 2**20))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
        remaining -= len(chunk)
    return copied


def _unsafe_parents(work: Path, path: str) -> str:
    """Why a folder on the way to ``path`` must not be walked ("" when every one is a real folder)."""
    here = work
    for part in PurePosixPath(path).parts[:-1]:
        here = here / part
        try:
            info = os.lstat(here)
        except OSError as error:
            return f"cannot read {part}/: {error.strerror or error}"
        if stat.S_ISLNK(info.st_mode):
            return f"{part}/ is a symbolic link; never followed"
        if not stat.S_ISDIR(info.st_mode):
            return f"{part}/ is not a folder"
    return ""
