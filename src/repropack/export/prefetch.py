"""Work the end of the export needs, started early in the background: above all the package index's
artifact hashes for the lock, asked while the notebooks run; also the RO-Crate library's import, and
``in_background`` for the git calls while the files are scanned.

The lock is known only after the runs (it holds what the notebooks imported),
but most of it can be guessed before: the kernel's interpreter is usually this
one, its installed distributions are here to read, and the notebooks' import
lines and the environment files name what they use. ``start_index_prefetch``
computes that guessed lock in a daemon thread, with ``compute_lock`` itself, and
starts its index lookups (``environment.hashes.SHARED_LOOKUPS``); the real lock's
``hash_lock`` then finds them answered or in flight. A wrong guess costs only
network: a pin it missed is asked then, one it added is asked for nothing.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: ``import a.b, c`` and ``from a.b import c`` at the start of a line of a code cell: the top-level names.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([A-Za-z_][\w., \t]*))", re.MULTILINE)


def start_index_prefetch(project: Path, notebooks: Iterable[str], kernel: str, runtime: Iterable[str]) -> None:
    """Start, in the background, the index lookups of the lock the notebooks will likely need, then import the
    RO-Crate library for the metadata; returns at once.

    Does nothing (in the background) when ``kernel`` runs another interpreter
    than this one; never raises, never delays the export or its exit.
    """
    threading.Thread(
        target=_prefetch,
        args=(project, tuple(notebooks), kernel, tuple(runtime)),
        name="repropack-prefetch",
        daemon=True,
    ).start()


def in_background(work: Callable[..., T], *args: object) -> Future[T]:
    """``work(*args)`` started in a daemon thread; the future holds its result or the exception it raised."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="repropack-background", daemon=True).start()
    return future


def _prefetch(project: Path, notebooks: tuple[str, ...], kernel: str, runtime: tuple[str, ...]) -> None:
    _start_lookups(project, notebooks, kernel, runtime)
    try:  # what only the end of the export uses, imported while the kernel runs: rocrate takes about 0.2 s
        import repropack.crate.metadata  # noqa: F401
    except Exception:  # the export's own import says what is wrong, on its path
        return


def _start_lookups(project: Path, notebooks: tuple[str, ...], kernel: str, runtime: tuple[str, ...]) -> None:
    try:
        python = _kernel_python(kernel)
        if python is None:
            return
        from packaging.markers import default_environment

        from repropack.environment.hashes import SHARED_LOOKUPS
        from repropack.environment.pipindex import configured_index
        from repropack.export.envfiles import declared_requirements, find_env_files
        from repropack.export.kernel_side import installed_distributions
        from repropack.export.lock import compute_lock, installed_from_report

        index = configured_index(python)  # pip's own start-up, off the export's path
        lock, _ = compute_lock(
            installed_from_report(installed_distributions()),
            declared=declared_requirements(project, find_env_files(project)),
            imported_modules=sorted(_imported(project, notebooks)),
            runtime=runtime,
            marker_environment=default_environment(),
        )
        SHARED_LOOKUPS.prefetch(index, [(d.name, d.version) for d in lock if not d.local])
    except Exception:  # only a head start: the export asks again and reports what fails
        return


def _kernel_python(kernel: str) -> str | None:
    """``sys.executable`` when the kernel's spec starts this interpreter (same folder), else None."""
    from repropack.export.interpreter_facts import kernel_interpreter

    found = kernel_interpreter(kernel)
    here = os.path.abspath(sys.executable)
    return sys.executable if found and os.path.dirname(found) == os.path.dirname(here) else None


def _imported(project: Path, notebooks: tuple[str, ...]) -> set[str]:
    """The top-level module names the notebooks' code cells import, read from their source lines."""
    import nbformat

    names: set[str] = set()
    for notebook in notebooks:
        cells = nbformat.read(project / notebook, as_version=4).cells
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            for origin, listed in _IMPORT.findall(str(cell.get("source", ""))):
                found = (
                    [origin]
                    if origin
                    else [part.split(".")[0].split()[0] for part in listed.split(",") if part.strip()]
                )
                names.update(name for name in found if name.isidentifier())
    return names
