"""What to tell a reviewer whose restricted input was not found where the package expects it."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from repropack.fs.shown_paths import shown_path
from repropack.model import FileRecord


def missing_input_line(record: FileRecord, inputs_dir: Path | None) -> str:
    """One line for a restricted input nobody supplied: how to pass it, a better ``--inputs`` folder when the one
    given is a subfolder of the project (``--inputs study/data`` for ``data/raw.csv``), and the file's access note,
    which says how to request it."""
    hint = _inputs_dir_hint(record.path, inputs_dir) if inputs_dir is not None else None
    how = hint or f"pass --input {record.path}=FILE or --inputs DIR"
    note = f"; access: {record.access_note}" if record.access_note else ""
    return f"{record.path} not supplied ({how}){note}"


def _inputs_dir_hint(path: str, inputs_dir: Path) -> str | None:
    """The hint when ``inputs_dir`` holds ``path`` less its first folders, and ends with those folders' names."""
    parts = PurePosixPath(path).parts
    given = Path(shown_path(inputs_dir))
    for depth in range(1, len(parts)):
        leading, rest = parts[:depth], parts[depth:]
        if given.parts[-depth:] == leading and (given / PurePosixPath(*rest)).is_file():
            expected = given.parents[depth - 1]
            return f"--inputs expects the project folder that holds {path}; you gave {given}, try --inputs {expected}"
    return None
