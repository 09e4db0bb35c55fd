"""The line for a restricted input nobody supplied: a better --inputs folder when one fits, and the access note."""

from __future__ import annotations

from pathlib import Path

from repropack.model import FileRecord, FileRole
from repropack.replay.input_hints import missing_input_line


def _restricted(path: str, note: str | None = "Ask the registry.") -> FileRecord:
    return FileRecord(path, "0" * 64, 10, "text/csv", FileRole.INPUT, restricted=True, access_note=note)


def test_a_folder_two_levels_into_the_project_is_walked_back_to_the_project(tmp_path: Path) -> None:
    project = tmp_path / "study"
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "raw" / "claims.csv").write_text("x\n")

    line = missing_input_line(_restricted("data/raw/claims.csv"), project / "data" / "raw")

    assert line == (
        f"data/raw/claims.csv not supplied (--inputs expects the project folder that holds data/raw/claims.csv; "
        f"you gave {project / 'data' / 'raw'}, try --inputs {project}); access: Ask the registry."
    )


def test_no_hint_is_guessed_when_the_folder_names_do_not_fit(tmp_path: Path) -> None:
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    (elsewhere / "claims.csv").write_text("x\n")  # the right file name, but not under a folder named data

    line = missing_input_line(_restricted("data/claims.csv", note=None), elsewhere)

    assert line == "data/claims.csv not supplied (pass --input data/claims.csv=FILE or --inputs DIR)"
