"""The sandbox's world: restricted inputs supplied and checked, the work dir laid out as the
notebooks expect it, and what the sandbox left there made safe for the host to read."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from repropack.errors import BadInput
from repropack.fs.hashing import sha256_file
from repropack.model import RESERVED_DIR, FileRecord, OutputComparison, OutputStatus, Package
from repropack.model.layout import is_safe_package_path
from repropack.replay.input_hints import missing_input_line

# A project's files as a checkout has them, whatever the replaying user's umask: the owner (the kernel's
# user in the sandbox) may write each one, as the researcher could at export.
_FILE_MODE = 0o644
_FOLDER_MODE = 0o755


def supplied_inputs(
    restricted: Sequence[FileRecord], inputs: Mapping[str, Path], inputs_dir: Path | None
) -> tuple[dict[str, Path], list[str]]:
    """The supplied file for each restricted input, and a line per missing or mismatched one.

    BadInput when ``inputs`` names a path that is no restricted input of the package.
    """
    wanted = {record.path: record for record in restricted}
    unknown = sorted(set(inputs) - set(wanted))
    if unknown:
        raise BadInput(f"--input {unknown[0]}: the package has no restricted input at that path")
    found: dict[str, Path] = {}
    problems = []
    for path, record in sorted(wanted.items()):
        source = inputs.get(path) or (inputs_dir / path if inputs_dir else None)
        if source is None or not source.is_file():
            problems.append(missing_input_line(record, inputs_dir))
            continue
        if sha256_file(source).sha256 != record.sha256:
            problems.append(f"{path}: supplied file {source} does not match the recorded sha256")
            continue
        found[path] = source
    return found, problems


def changed_in_place(package: Package) -> set[str]:
    """Recorded outputs that were project files before the export ran: a run read them first, then wrote them.

    A script that opens its own input with ``r+`` (or rewrites it) makes the input an output too. The
    notebook needs it there at replay as at export, so it is not set aside; what the package holds is its
    state after the run, which is its state before it unless the run really changed it.
    """
    outputs = set(package.recorded_outputs())
    first_seen: dict[str, bool] = {}  # path -> the first run to touch it read it as an existing file
    for run in package.runs:
        for path in (*run.inputs, *run.outputs):
            if path in outputs and path not in first_seen:
                first_seen[path] = path in run.inputs
    return {path for path, existed in first_seen.items() if existed}


def prepare_work_dir(package_root: Path, package: Package, restricted: Mapping[str, Path], work: Path) -> None:
    """The package tree as the notebooks expect it: recorded outputs set aside (except files a run changed
    in place), restricted inputs supplied; every file and folder writable by its owner, as in a project."""
    notebooks = {record.path for record in package.notebooks()}
    set_aside = set(package.recorded_outputs()) - notebooks - changed_in_place(package)
    sources = {
        record.path: package_root / record.path
        for record in package.files
        if not record.restricted and record.path not in set_aside and not record.path.startswith(RESERVED_DIR + "/")
    }
    os.chmod(work, _FOLDER_MODE)
    for path, source in {**sources, **restricted}.items():
        target = work / path
        _make_folder(work, PurePosixPath(path).parent)
        shutil.copyfile(source, target)
        os.chmod(target, _FILE_MODE)
    for folder in package.empty_folders:
        if is_safe_package_path(folder):
            _make_folder(work, PurePosixPath(folder))


def _make_folder(work: Path, relative: PurePosixPath) -> None:
    """``work / relative`` and its missing parents, each with the folder mode (mkdir's mode obeys the umask)."""
    current = work
    for part in relative.parts:
        current = current / part
        if not current.is_dir():
            current.mkdir()
            os.chmod(current, _FOLDER_MODE)


def python_path(package_root: Path, package: Package) -> tuple[str, ...]:
    """Folders to put on the path for editable local packages: each one's ``src/`` layout folder when it
    has one. A non-editable one is installed in the environment from its wheel instead, as it was at export."""
    found = []
    for local in package.local_packages:
        if local.path != "." and not is_safe_package_path(local.path):
            continue
        if not local.editable and local.wheel:
            continue
        src = PurePosixPath(local.path) / "src"
        found.append(src.as_posix() if (package_root / src).is_dir() else local.path)
    return tuple(found)


def flag_symlinks(outputs: Sequence[OutputComparison], planted: Mapping[str, str]) -> list[OutputComparison]:
    """Each symlink the sandbox planted (path -> target) is an output that is not what was recorded,
    whatever the comparison said."""
    return _flag_removed(outputs, {path: (f"a symlink to {target!r}") for path, target in planted.items()}, "symlink")


def flag_special_files(outputs: Sequence[OutputComparison], removed: Mapping[str, str]) -> list[OutputComparison]:
    """Each FIFO, socket or device the sandbox left (path -> what it was) is an output that is not what was
    recorded, whatever the comparison said."""
    return _flag_removed(outputs, removed, "special file")


def _flag_removed(outputs: Sequence[OutputComparison], removed: Mapping[str, str], rule: str) -> list[OutputComparison]:
    if not removed:
        return list(outputs)
    flagged = {o.path: o for o in outputs}
    for path, what in removed.items():
        status = OutputStatus.DIFFERENT if path in flagged else OutputStatus.UNEXPECTED
        flagged[path] = OutputComparison(path, status, rule, f"the replay produced {what} here; removed unread")
    return sorted(flagged.values(), key=lambda o: o.path)
