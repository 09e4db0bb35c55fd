"""Environment files as repo2docker reads them, and the distributions they declare.

Only names are extracted: versions, markers and extras are parsed (so a
malformed file is refused) but not returned, because the lock pins what the
kernel actually had installed, not what a file asked for.
"""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repropack.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Files that describe how to rebuild a project's environment, in the order
#: they are reported. Most are repo2docker's; setup.cfg and environment.yaml
#: are read by the tools repo2docker runs (pip, conda).
ENV_FILE_NAMES: tuple[str, ...] = (
    "requirements.txt",
    "environment.yml",
    "environment.yaml",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "runtime.txt",
    "apt.txt",
    "postBuild",
    "start",
)

#: Folders that, as in repo2docker, hold the environment files instead of the top level.
BINDER_FOLDERS: tuple[str, ...] = ("binder", ".binder")

# Conda entries that are the interpreter and installer themselves, not requirements.
_CONDA_TOOLING = frozenset({"python", "pip"})

# A conda match spec starts with the package name; version and build follow.
_CONDA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

# PEP 508 distribution name.
_DISTRIBUTION_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

# pip's rule: a comment starts at a '#' at the line start or after whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")

# Names pip treats as archive files rather than distribution names.
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")

_INCLUDE_OPTIONS = frozenset({"-r", "--requirement"})


def find_env_files(project: Path) -> list[str]:
    """Project-relative POSIX paths of the environment files present, in ``ENV_FILE_NAMES`` order.

    When the project has a ``binder/`` or ``.binder/`` folder, only files in it
    count and top-level ones are ignored, as in repo2docker. Having both
    folders is refused with ``BadInput``, as repo2docker refuses it.
    """
    folder = _binder_folder(project)
    base = project / folder if folder else project
    return [
        PurePosixPath(folder, name).as_posix() if folder else name for name in ENV_FILE_NAMES if (base / name).is_file()
    ]


def declared_requirements(project: Path, env_files: Sequence[str]) -> list[str]:
    """Sorted, canonicalized distribution names that ``env_files`` declare.

    Read: requirements.txt (with ``-r`` includes), environment.yml/.yaml (conda
    dependencies and the nested ``pip:`` list), Pipfile ``[packages]``,
    pyproject.toml ``[project].dependencies``, setup.cfg ``[options]
    install_requires``. Other files are ignored; setup.py is never executed.
    Editable installs, local paths and URLs without a name declare nothing.
    Raises ``BadInput("cannot parse PATH: reason")`` for a malformed file and
    ``BadInput("cannot read PATH: reason")`` for an unreadable one.
    """
    names: set[str] = set()
    for relpath in env_files:
        reader = _READERS.get(PurePosixPath(relpath).name)
        if reader is not None:
            names |= reader(project, project / relpath)
    return sorted(names)


def _binder_folder(project: Path) -> str:
    present = [name for name in BINDER_FOLDERS if (project / name).is_dir()]
    if len(present) > 1:
        raise BadInput(
            f"{project}: has both a binder/ and a .binder/ folder; repo2docker accepts only one, remove the other"
        )
    return present[0] if present else ""


def _requirements_txt_names(project: Path, path: Path) -> set[str]:
    return _requirements_file_names(project, path, ancestors=frozenset())


def _requirements_file_names(project: Path, path: Path, *, ancestors: frozenset[Path]) -> set[str]:
    text = _read_text(project, path)
    lines = [(f"line {number}", line) for number, line in _logical_lines(text)]
    return _names_from_requirement_lines(project, path, lines, ancestors=ancestors | {path.resolve()})


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Non-empty lines without comments, continuations joined, with their first line number."""
    pending = ""
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if physical.endswith("\\"):
            pending += physical[:-1]
            continue
        line = _COMMENT.sub("", pending + physical).strip()
        pending = ""
        if line:
            yield start, line
    line = _COMMENT.sub("", pending).strip()
    if line:
        yield start, line


def _names_from_requirement_lines(
    project: Path, source: Path, lines: Iterable[tuple[str, str]], *, ancestors: frozenset[Path]
) -> set[str]:
    """Names from pip requirement lines of ``source``; ``-r`` paths are relative to its folder."""
    names: set[str] = set()
    for where, line in lines:
        tokens = line.split()
        if tokens[0].startswith("-"):
            included = _included_file(tokens, source, where, project)
            if included is not None and included.resolve() not in ancestors:
                names |= _requirements_file_names(project, included, ancestors=ancestors)
            continue
        # As pip does: options such as --hash may follow the requirement itself.
        spec_tokens: list[str] = []
        for token in tokens:
            if token.startswith("-"):
                break
            spec_tokens.append(token)
        try:
            name = _requirement_name(" ".join(spec_tokens))
        except InvalidRequirement as error:
            raise _unparsable(project, source, f"{where}: {_one_line(error)}") from error
        if name is not None:
            names.add(name)
    return names


def _included_file(tokens: list[str], source: Path, where: str, project: Path) -> Path | None:
    """The file an option line includes with ``-r``; None for any other option."""
    option = tokens[0]
    if option.startswith("--"):
        flag, equals, value = option.partition("=")
    else:
        flag, equals, value = option[:2], "", option[2:]
    if flag not in _INCLUDE_OPTIONS:
        return None  # index, find-links, constraints, editables: they declare no name
    if not value and not equals and len(tokens) > 1:
        value = tokens[1]
    if not value:
        raise _unparsable(project, source, f"{where}: {flag} needs a file")
    if "://" in value:
        return None  # a remote file: never fetched, so its names stay unknown
    included = source.parent / value
    if not included.is_file():
        raise _unparsable(project, source, f"{where}: included file {value} is not a file")
    return included


def _requirement_name(spec: str) -> str | None:
    """Canonical name of a PEP 508 requirement, None for a local path or URL.

    Raises ``InvalidRequirement`` for text that is neither.
    """
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        if _looks_like_location(spec):
            return None
        raise
    if requirement.url is None and requirement.name.lower().endswith(_ARCHIVE_SUFFIXES):
        return None  # pip reads "pkg-1.0.whl" as a file, not as a distribution name
    return canonicalize_name(requirement.name)


def _looks_like_location(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith(".")


def _conda_environment_names(project: Path, path: Path) -> set[str]:
    try:
        document = yaml.safe_load(_read_text(project, path))
    except yaml.YAMLError as error:
        raise _unparsable(project, path, _one_line(error)) from error
    if document is None:
        return set()
    if not isinstance(document, dict):
        raise _unparsable(project, path, "the top level is not a mapping")
    dependencies = document.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise _unparsable(project, path, "dependencies is not a list")
    names: set[str] = set()
    for entry in dependencies:
        if isinstance(entry, str):
            name = _conda_name(entry)
            if name is None:
                raise _unparsable(project, path, f"not a conda package spec: {entry!r}")
            if name not in _CONDA_TOOLING:
                names.add(name)
        elif isinstance(entry, dict):
            # Only the pip sub-list installs Python distributions; conda ignores
            # other installers' lists it has no plugin for, and so do we.
            pip_lines = entry.get("pip")
            if pip_lines is None:
                continue
            if not isinstance(pip_lines, list) or not all(isinstance(line, str) for line in pip_lines):
                raise _unparsable(project, path, "the pip entry is not a list of strings")
            lines = [(f"pip entry {line!r}", line.strip()) for line in pip_lines if line.strip()]
            names |= _names_from_requirement_lines(project, path, lines, ancestors=frozenset({path.resolve()}))
        else:
            raise _unparsable(project, path, f"not a conda package spec: {entry!r}")
    return names


def _conda_name(spec: str) -> str | None:
    """Canonical name of a conda match spec such as ``conda-forge::numpy=1.26=py311_0``."""
    match = _CONDA_NAME.match(spec.rpartition("::")[2].strip())
    return canonicalize_name(match.group()) if match else None


def _pipfile_names(project: Path, path: Path) -> set[str]:
    packages = _load_toml(project, path).get("packages", {})
    if not isinstance(packages, dict):
        raise _unparsable(project, path, "[packages] is not a table")
    for key in packages:
        if not _DISTRIBUTION_NAME.match(key):
            raise _unparsable(project, path, f"not a distribution name: {key!r}")
    return {canonicalize_name(key) for key in packages}


def _pyproject_names(project: Path, path: Path) -> set[str]:
    table = _load_toml(project, path).get("project", {})
    if not isinstance(table, dict):
        raise _unparsable(project, path, "[project] is not a table")
    dependencies = table.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise _unparsable(project, path, "[project].dependencies is not a list of strings")
    return {_pep508_name(project, path, spec) for spec in dependencies}


def _setup_cfg_names(project: Path, path: Path) -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(_read_text(project, path), source=str(path))
    except configparser.Error as error:
        raise _unparsable(project, path, _one_line(error)) from error
    value = parser.get("options", "install_requires", fallback="")
    if value.strip().startswith("file:"):
        # setuptools' directive: the requirements are the lines of the listed files.
        listed = [name.strip() for name in value.strip()[len("file:") :].split(",") if name.strip()]
        value = "\n".join(_read_text(project, path.parent / name) for name in listed)
    # setuptools splits a multi-line value by line and a one-line value by ';'.
    items = value.splitlines() if "\n" in value.strip() else value.split(";")
    specs = [item.strip() for item in items if item.strip() and not item.strip().startswith("#")]
    return {_pep508_name(project, path, spec) for spec in specs}


def _pep508_name(project: Path, path: Path, spec: str) -> str:
    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement as error:
        raise _unparsable(project, path, f"{spec!r}: {_one_line(error)}") from error


def _load_toml(project: Path, path: Path) -> dict:
    try:
        return tomllib.loads(_read_text(project, path))
    except tomllib.TOMLDecodeError as error:
        raise _unparsable(project, path, _one_line(error)) from error


def _read_text(project: Path, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _unparsable(project, path, "not UTF-8 text") from error
    except OSError as error:
        raise BadInput(f"cannot read {_shown(project, path)}: {error.strerror or error}") from error


def _unparsable(project: Path, path: Path, reason: str) -> BadInput:
    return BadInput(f"cannot parse {_shown(project, path)}: {reason}")


def _one_line(error: Exception) -> str:
    # Parser messages span lines (with a caret diagram); the CLI shows one line.
    return " ".join(str(error).split())


def _shown(project: Path, path: Path) -> str:
    """The path as the user knows it: project-relative when inside the project."""
    try:
        return path.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return str(path)


_READERS: dict[str, Callable[[Path, Path], set[str]]] = {
    "requirements.txt": _requirements_txt_names,
    "environment.yml": _conda_environment_names,
    "environment.yaml": _conda_environment_names,
    "Pipfile": _pipfile_names,
    "pyproject.toml": _pyproject_names,
    "setup.cfg": _setup_cfg_names,
}
