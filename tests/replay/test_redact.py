"""What a replay tells, with the supplied restricted inputs' lines and values redacted (replay/redact.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from repropack.model import CauseKind, FailureCause, FileRecord, FileRole, OutputComparison, OutputStatus
from repropack.replay.redact import redact_replay, supplied_plaintext
from tests.samples import sample_replay_result

ROW = "P-20000001,Ada Example,1941-02-03,positive"
OTHER_ROW = "P-20000002,Alan Example,1942-03-04,negative"
REDACTED = "[restricted: data/register.csv]"


@pytest.fixture
def plaintext(tmp_path: Path) -> dict[str, Path]:
    register = tmp_path / "register.csv"
    register.write_text(f"id,name,birth,diagnosis\n{ROW}\n{OTHER_ROW}\n")
    return {"data/register.csv": register}


@pytest.fixture
def kept(tmp_path: Path) -> Path:
    folder = tmp_path / "replayed"
    (folder / "outputs").mkdir(parents=True)
    (folder / "outputs" / "summary.txt").write_text(f"patients: 2\n{ROW}\n")
    (folder / "outputs" / "counts.csv").write_text("diagnosis,patients\nall,2\n")
    return folder


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_every_text_that_quotes_the_sandbox_is_redacted(plaintext, kept):
    result = sample_replay_result(
        cause=FailureCause(CauseKind.CELL_ERROR, f"analysis.ipynb cell 3: ValueError: bad row {ROW}", "a", 3),
        outputs=(
            OutputComparison("outputs/summary.txt", OutputStatus.DIFFERENT, "text", f"line 2: <none> != {ROW!r}"),
            OutputComparison("outputs/P-20000002.txt", OutputStatus.UNEXPECTED, "sha256", "", hint="Ada Example"),
        ),
        rules={"applied": {"outputs/P-20000002.txt": "text"}},
        drift=("Ada Example 1.0 (recorded 2.0)",),
        log_tail=f"Traceback\nValueError: {OTHER_ROW}\n",
        recorded_errors={"analysis.ipynb": ("KeyError: 'P-20000001'",)},
        not_kept=("outputs/big.bin: too large",),
    )
    redacted = redact_replay(result, plaintext, kept)
    assert redacted.cause.detail == f"analysis.ipynb cell 3: ValueError: bad row {REDACTED}"
    assert redacted.outputs[0].detail == f"line 2: <none> != '{REDACTED}'"
    assert redacted.outputs[1].path == f"outputs/{REDACTED}.txt"
    assert redacted.outputs[1].hint == REDACTED
    assert redacted.rules == {"applied": {f"outputs/{REDACTED}.txt": "text"}}
    assert redacted.drift == (f"{REDACTED} 1.0 (recorded 2.0)",)
    assert redacted.log_tail == f"Traceback\nValueError: {REDACTED}\n"
    assert redacted.recorded_errors == {"analysis.ipynb": (f"KeyError: '{REDACTED}'",)}
    text = repr(redacted.as_dict()) + redacted.log_tail
    assert "P-2000000" not in text and "Ada Example" not in text


def test_a_kept_output_holding_a_row_is_deleted_and_named(plaintext, kept):
    result = sample_replay_result(replayed=("outputs/counts.csv", "outputs/summary.txt"), not_kept=())
    redacted = redact_replay(result, plaintext, kept)
    assert redacted.replayed == ("outputs/counts.csv",)
    assert redacted.not_kept == (
        "outputs/summary.txt: holds a line of restricted input data/register.csv; never copied into a record",
    )
    assert not (kept / "outputs" / "summary.txt").exists()
    assert (kept / "outputs" / "counts.csv").exists()  # column names and a count: no restricted data


def test_a_kept_copy_of_a_restricted_input_is_deleted(plaintext, kept):
    (kept / "outputs" / "copy.dat").write_bytes(plaintext["data/register.csv"].read_bytes())
    redacted = redact_replay(sample_replay_result(replayed=("outputs/copy.dat",), not_kept=()), plaintext, kept)
    assert redacted.replayed == ()
    assert redacted.not_kept == (
        "outputs/copy.dat: is a copy of restricted input data/register.csv; never copied into a record",
    )


def test_a_figure_holding_restricted_data_is_left_out_of_the_report(plaintext, kept):
    clean = (_png(b"\x89PNG recorded"), _png(b"\x89PNG replayed"))
    leaking = (_png(b"\x89PNG recorded"), _png(b"\x89PNG <text>" + ROW.encode() + b"</text>"))
    result = sample_replay_result(figures={"fig/a.png": clean, "fig/b.svg": leaking})
    assert redact_replay(result, plaintext, kept).figures == {"fig/a.png": clean}


def test_nothing_changes_without_supplied_restricted_inputs(kept):
    result = sample_replay_result(log_tail=f"ValueError: {ROW}")
    assert redact_replay(result, {}, kept) is result


def test_the_supplied_plaintext_is_found_as_the_work_dir_got_it(tmp_path):
    records = [FileRecord(p, "0" * 64, 1, "text/csv", FileRole.INPUT, True) for p in ("a.csv", "b.csv", "c.csv")]
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "b.csv").write_text("x")
    (tmp_path / "given.csv").write_text("x")
    found = supplied_plaintext(records, {"a.csv": tmp_path / "given.csv"}, tmp_path / "dir")
    assert found == {"a.csv": tmp_path / "given.csv", "b.csv": tmp_path / "dir" / "b.csv"}


def test_a_disclosure_finding_labelled_by_a_restricted_value_is_redacted(plaintext, kept):
    from datetime import datetime, timezone

    from repropack.model.disclosure import (
        CellFinding,
        DisclosureReport,
        DisclosureRules,
        DisclosureStatus,
        FileDisclosure,
    )

    cell = CellFinding("outputs/visits.csv", "", "P-20000001", "visits", "", "threshold", "")
    moment = datetime(2026, 12, 2, tzinfo=timezone.utc)
    report = DisclosureReport(
        DisclosureRules(), (FileDisclosure("outputs/visits.csv", DisclosureStatus.FAIL, (cell,)),), moment, moment
    )
    redacted = redact_replay(sample_replay_result(disclosure=report), plaintext, kept)
    assert redacted.disclosure.files[0].findings[0].row == "[restricted: data/register.csv]"
    assert "P-2000000" not in repr(redacted.as_dict())
