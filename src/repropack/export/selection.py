"""Which project files a package holds, beyond what the tree walk never holds (``fs.tree``, ``fs.products``).

- ``.gitignore``: in a git repository, the files git ignores are left out. git itself is asked, so
  nested ``.gitignore`` files, negations, ``.git/info/exclude`` and the global excludes file count
  exactly as they do for git, and a tracked file is never ignored. A file comes back when
  ``include`` or ``restrict`` names it, when ``--notebook`` names it, or when a notebook read or
  wrote it during the run: a package without the inputs its notebooks read cannot be replayed, and
  one without their outputs has nothing to compare. An input packed that way is named in a warning
  with the ``include``/``restrict`` line that says so in the project.
- A ``restrict`` glob that matches no file is refused: a typo would pack the file it meant in full.
  An ``exclude`` or ``include`` glob that matches nothing is a warning.
- A file a notebook read inside one of repropack's own products (a package, a replay record) is
  never packed; a warning says the replay will miss it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path, PurePosixPath

from repropack.config import ResolvedSettings
from repropack.errors import BadInput
from repropack.fs import products, tree
from repropack.model import NotebookRun

_GIT_TIMEOUT = 120  # seconds: listing the ignored files of a very large tree
_SHOWN = 5  # paths named in a warning before "and N more"
_SUGGESTED = 10  # files named in a suggested include line before their ignored folders are named instead


@dataclass(frozen=True)
class GitIgnored:
    """Project-relative paths git ignores: files, and folders all of whose content is ignored."""

    paths: frozenset[str] = frozenset()

    def __contains__(self, relpath: object) -> bool:
        return isinstance(relpath, str) and self.entry_holding(relpath) is not None

    def entry_holding(self, relpath: str) -> str | None:
        """The ignored file or folder that is or holds ``relpath``, or None when git does not ignore it."""
        parts = PurePosixPath(relpath).parts
        for depth in range(1, len(parts) + 1):
            entry = "/".join(parts[:depth])
            if entry in self.paths:
                return entry
        return None


@dataclass(frozen=True)
class Ignores:
    """What git ignores in the project, and why .gitignore could not be applied (None when it was, or no git)."""

    ignored: GitIgnored
    note: str | None = None


def git_ignored(project: Path) -> Ignores:
    """The files of ``project`` that git ignores, asked of git (``ls-files --others --ignored --exclude-standard``).

    Nothing is ignored outside a repository, without git, or when the project
    folder is itself ignored by its repository (then ``note`` says so). When git
    fails in a repository (a "dubious ownership" refusal, say), nothing is ignored
    and ``note`` gives git's reason: the package is then larger, never short.
    """
    try:
        inside = _git(project, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:  # no git on this machine: no repository to honour
        return Ignores(GitIgnored())
    except subprocess.TimeoutExpired:
        return Ignores(GitIgnored(), f"git did not answer within {_GIT_TIMEOUT} s; .gitignore was not applied")
    if inside.returncode != 0:
        if b"not a git repository" in inside.stderr:
            return Ignores(GitIgnored())
        return Ignores(
            GitIgnored(), f"git could not read the repository ({_first_line(inside)}); .gitignore was not applied"
        )
    if inside.stdout.strip() != b"true":
        return Ignores(GitIgnored())
    if _git(project, "check-ignore", "-q", ".").returncode == 0:
        return Ignores(
            GitIgnored(), f"{project} is itself ignored by its git repository: its .gitignore rules were not applied"
        )
    listed = _git(project, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory")
    if listed.returncode != 0:
        return Ignores(
            GitIgnored(), f"git could not list ignored files ({_first_line(listed)}); .gitignore was not applied"
        )
    entries = (os.fsdecode(raw).rstrip("/") for raw in listed.stdout.split(b"\0"))
    return Ignores(GitIgnored(frozenset(e for e in entries if e and e != ".")))


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    # No fsmonitor hook (a repository's config may name a program), no optional index lock taken.
    command = ["git", "-c", "core.fsmonitor=false", "-C", str(project), *args]
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    return subprocess.run(command, capture_output=True, timeout=_GIT_TIMEOUT, env=env, check=False)


def _first_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = os.fsdecode(done.stderr).strip().splitlines()
    return lines[0].removeprefix("fatal: ") if lines else f"exit {done.returncode}"


def taken_back(relpath: str, settings: ResolvedSettings) -> bool:
    """True when ``include`` or ``restrict`` names ``relpath``: it is packed (or described) whatever git ignores."""
    s = settings.values
    return tree.matches_any(relpath, s.include) or tree.matches_any(relpath, s.restrict)


def visible(snapshot: Mapping[str, tree.FileState], ignores: Ignores, settings: ResolvedSettings) -> dict:
    """``snapshot`` without what git ignores and nothing takes back: where notebooks are discovered."""
    return {p: st for p, st in snapshot.items() if p not in ignores.ignored or taken_back(p, settings)}


def refuse_unmatched_restrict(files: Iterable[str], settings: ResolvedSettings) -> None:
    """BadInput naming the first ``restrict`` glob that matches none of ``files``, and where it was given."""
    paths = list(files)
    for glob in settings.values.restrict:
        if not any(tree.matches_any(p, [glob]) for p in paths):
            raise BadInput(
                f"restrict pattern {glob!r} (from {settings.origin('restrict', glob)}) matches no file in the "
                "project; nothing was written"
            )


@dataclass(frozen=True)
class Chosen:
    """The project files a package holds (notebooks apart), the restricted ones among them, and what to tell."""

    payload: tuple[str, ...]
    restricted: frozenset[str]
    notes: tuple[str, ...]


def choose_files(
    project: Path,
    settings: ResolvedSettings,
    ignores: Ignores,
    before: Mapping[str, tree.FileState],
    after: Mapping[str, tree.FileState],
    notebooks: Collection[str],
    runs: Sequence[NotebookRun],
    reads: Mapping[str, Collection[str]],
    walk_ignore: Collection[Path] = (),
) -> Chosen:
    """Choose from ``after`` (the tree after the run) what the package holds; refuse a ``restrict`` typo.

    ``before`` is the tree before the run (a restricted file may be one a notebook
    writes, or deletes), ``notebooks`` those packed, ``runs`` their recorded runs,
    ``reads`` each notebook's project-relative reads (to name a product it read),
    ``walk_ignore`` what the tree walk skips (the package being written).
    """
    s = settings.values
    refuse_unmatched_restrict(before.keys() | after.keys(), settings)
    inputs = {p for run in runs for p in run.inputs} | (_compiled_sources(reads) & after.keys())
    touched = inputs | {p for run in runs for p in run.outputs}
    ignored = ignores.ignored
    payload = tuple(
        sorted(p for p in after if p not in notebooks and (p not in ignored or p in touched or taken_back(p, settings)))
    )
    notes = [ignores.note] if ignores.note else []
    notes += [
        f"{nb} is ignored by .gitignore but --notebook names it: it is packed and run"
        for nb in notebooks
        if nb in ignored and not taken_back(nb, settings)
    ]
    read_ignored = sorted(p for p in inputs if p in ignored and not taken_back(p, settings))
    if read_ignored:
        notes.append(
            f"the notebooks read {_some(read_ignored)}, which .gitignore leaves out: packed as inputs all the same "
            "(a replay needs them). Add this line to repropack.toml to say so, or list them in `restrict` to "
            f"describe them by hash only: {_include_line(read_ignored, ignored)}"
        )
    if not s.execute:
        left_out = sorted(p for p in after.keys() - set(payload) - set(notebooks) if p in ignored)
        if left_out:
            notes.append(
                f"with --no-execute no notebook is watched reading files, so the {len(left_out)} file(s) .gitignore "
                f"leaves out are not packed ({_some(left_out)}); to pack those the notebooks need: "
                f"{_include_line(left_out, ignored)}"
            )
    notes += [
        f"exclude pattern {glob!r} (from {settings.origin('exclude', glob)}) matches no file in the project"
        for glob in tree.unmatched_excludes(project, exclude=s.exclude, ignore=walk_ignore)
    ]
    files = before.keys() | after.keys()
    notes += [
        f"include pattern {glob!r} (from {settings.origin('include', glob)}) matches no file in the project"
        for glob in s.include
        if not any(tree.matches_any(p, [glob]) for p in files)
    ]
    notes += _product_reads(project, after, reads)
    return Chosen(payload, frozenset(p for p in payload if tree.matches_any(p, s.restrict)), tuple(notes))


def _compiled_sources(reads: Mapping[str, Collection[str]]) -> set[str]:
    """The modules whose cached bytecode the notebooks imported: ``pkg/__pycache__/m.cpython-311.pyc`` -> ``pkg/m.py``.

    Python opens only the ``.pyc`` of a module compiled before, so the source is never seen read; a
    replay needs it all the same.
    """
    found = set()
    for paths in reads.values():
        for path in paths:
            pure = PurePosixPath(path)
            if pure.suffix == ".pyc" and pure.parent.name == "__pycache__":
                found.add(str(pure.parent.parent / f"{pure.name.split('.', 1)[0]}.py"))
    return found


def _product_reads(
    project: Path, after: Mapping[str, tree.FileState], reads: Mapping[str, Collection[str]]
) -> list[str]:
    """Warnings for files the notebooks read inside repropack's own products: never packed, so missing at replay."""
    found = []
    for notebook, paths in reads.items():
        for path in sorted(p for p in paths if p not in after):
            holder = products.product_holding(project, path)
            if holder is not None:
                found.append(
                    f"{notebook} read {path}, which is in {holder.kind} ({holder.path}): repropack never packs its "
                    "own products, so the replay will not find it; copy what the notebook needs out of it"
                )
    return found


def _some(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def _include_line(paths: Sequence[str], ignored: GitIgnored) -> str:
    """The ``include = [...]`` line taking ``paths`` back: the files, or their ignored folders when there are many."""
    globs = [glob_escape(p) for p in paths]  # a name holding "[" or "*" is matched as itself
    if len(globs) > _SUGGESTED:
        entries = {ignored.entry_holding(p) or p for p in paths}
        globs = sorted(glob_escape(e) if e in paths else f"{glob_escape(e)}/*" for e in entries)
    return "include = [" + ", ".join(json.dumps(g, ensure_ascii=False) for g in globs) + "]"
