"""`repropack diff`'s differences in full, by kind of file, and a record's result read back (no engine needed)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from repropack.model import (
    CauseKind,
    FailureCause,
    Nondeterminism,
    OutputComparison,
    OutputStatus,
    Person,
    ReplayedPackage,
    ReplayResult,
)
from repropack.record.diff import OutputDiff, full_difference
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import generate_key_pair
from repropack.record.opened import open_record, result_of
from repropack.ui.terminal import diff_text
from tests.samples import sample_replay_result


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png(width: int, height: int, band: tuple[int, int] | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    if band:
        for x in range(width):
            for y in range(*band):
                image.putpixel((x, y), (200, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _notebook(count_line: str, execution_count: int) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Counts"),
        nbformat.v4.new_code_cell("import collections", execution_count=execution_count),
        nbformat.v4.new_code_cell(
            "print(counts)",
            execution_count=execution_count + 1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text=f"header\n{count_line}\n")],
        ),
        nbformat.v4.new_code_cell(
            "figure()",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"image/png": base64.b64encode(_png(4, 3)).decode(), "text/plain": "<Figure>"}
                )
            ],
        ),
    ]
    return nbformat.writes(nb).encode()


def test_a_text_file_is_a_full_unified_diff_recorded_minus_replayed_plus(tmp_path):
    old = _write(tmp_path / "old.csv", b"group,n\na,2\nb,7\nc,3\nd,4\ne,5\nf,6\n")
    new = _write(tmp_path / "new.csv", b"group,n\na,2\nb,1\nc,3\nd,4\ne,5\nf,6\n")
    lines, differs = full_difference("outputs/counts.csv", old, new, context=1)
    assert differs is True
    assert lines == [f"--- recorded: {old}", f"+++ replayed: {new}", "@@ -2,3 +2,3 @@", " a,2", "-b,7", "+b,1", " c,3"]


def test_a_notebook_is_compared_by_cells_and_each_hunk_names_its_cell(tmp_path):
    old = _write(tmp_path / "old.ipynb", _notebook("{'a': 2, 'b': 7}", 1))
    new = _write(tmp_path / "new.ipynb", _notebook("{'a': 2, 'b': 1}", 5))
    lines, differs = full_difference("analysis.ipynb", old, new)
    assert differs is True
    changed = [line for line in lines[2:] if line[:1] in "+-"]
    assert changed == ["-{'a': 2, 'b': 7}", "+{'a': 2, 'b': 1}"]  # execution counts are not differences
    assert lines[2].endswith(" cell 3 (code)") and lines[2].startswith("@@ ")
    assert "   -> output 1: stdout" in lines


def test_a_notebook_differing_only_in_execution_counts_is_not_a_difference(tmp_path):
    old = _write(tmp_path / "old.ipynb", _notebook("{'a': 2}", 1))
    new = _write(tmp_path / "new.ipynb", _notebook("{'a': 2}", 9))
    lines, differs = full_difference("analysis.ipynb", old, new)
    assert differs is False
    assert lines[-1] == "the cells show the same sources and outputs; only execution counts or metadata differ"


def test_an_embedded_figure_that_changed_is_one_line_naming_its_size_and_digest(tmp_path):
    nb = nbformat.reads(_notebook("x", 1).decode(), as_version=4)
    old = _write(tmp_path / "old.ipynb", nbformat.writes(nb).encode())
    nb.cells[3].outputs[0]["data"]["image/png"] = base64.b64encode(_png(4, 3, band=(1, 2))).decode()
    new = _write(tmp_path / "new.ipynb", nbformat.writes(nb).encode())
    lines, _ = full_difference("analysis.ipynb", old, new)
    changed = [line for line in lines[2:] if line[:1] in "+-"]
    assert len(changed) == 2 and all(
        line[1:].startswith("  -> output 1: display_data image/png 4×3 (") for line in changed
    )


def test_an_image_is_summarised_by_how_many_pixels_differ_by_how_much_and_where(tmp_path):
    old = _write(tmp_path / "old.png", _png(20, 10))
    new = _write(tmp_path / "new.png", _png(20, 10, band=(4, 6)))
    lines, differs = full_difference("figures/fig.png", old, new)
    assert differs is True
    assert lines[0] == f"recorded: 20×10 RGB, {old.stat().st_size} bytes"
    assert lines[2] == "pixels differing: 40 of 200 (20.00%); largest change of a channel 255/255"
    assert lines[3] == "where: x 0..19, y 4..5 (the box holding every changed pixel)"
    other_size = _write(tmp_path / "small.png", _png(10, 10))
    assert (
        full_difference("fig.png", old, other_size)[0][-1]
        == "the images differ in size, so their pixels are not compared"
    )


def test_binary_files_and_identical_files(tmp_path):
    old = _write(tmp_path / "a.bin", b"\x00\x01\x02\x03")
    new = _write(tmp_path / "b.bin", b"\x00\x01\xff\x03\x04")
    lines, differs = full_difference("model.bin", old, new)
    assert differs and lines[-1] == "binary files; the first byte that differs is at offset 2"
    same = _write(tmp_path / "c.bin", old.read_bytes())
    assert full_difference("model.bin", old, same) == (["the two files are identical byte for byte"], False)


def test_a_file_named_like_an_image_that_is_not_one_is_compared_as_text(tmp_path):
    old = _write(tmp_path / "a.png", b"not a picture\n")
    new = _write(tmp_path / "b.png", b"not a picture either\n")
    lines, _ = full_difference("fig.png", old, new)
    assert lines[0].startswith("(not readable as an image: ")
    assert "-not a picture" in lines and "+not a picture either" in lines


def test_diff_text_escapes_what_a_hostile_output_holds():
    diff = OutputDiff(
        "evil\x1b]0;x\x07.txt",
        "different",
        "text",
        "'\x1b[2J' != 'y'",
        "/pkg/a",
        "/rec/replayed/a",
        ("-\x1b[31mred", "+ok"),
        True,
    )
    text = diff_text([diff])
    assert "\x1b" not in text and "\x07" not in text
    assert "=== evil\\x1b]0;x\\x07.txt: different (text)" in text
    assert "-\\x1b[31mred" in text.splitlines()


# --- a record's result.json read back --------------------------------------------------------------


def _result(**fields) -> ReplayResult:
    return sample_replay_result(
        package=ReplayedPackage(Path("/data/study.crate.zip"), "Study", "a" * 64),
        cause=FailureCause(CauseKind.NONDETERMINISTIC, "every difference differed at export too"),
        outputs=(
            OutputComparison("analysis.ipynb", OutputStatus.EQUIVALENT, "notebook", "execution counts differ"),
            OutputComparison(
                "fig.png", OutputStatus.DIFFERENT, "image", "3% of pixels differ", Nondeterminism.AT_SOURCE, "seed it"
            ),
            OutputComparison("extra.log", OutputStatus.UNEXPECTED, ""),
        ),
        rules={"declared": {}, "applied": {"fig.png": "image"}},
        drift=("numpy 2.0.0 (recorded 1.26.4)",),
        backend={"backend": "docker", "engine": "docker", "engine_version": "26", "api_version": "1.45"},
        image="repropack/env:abc",
        timings={"integrity": 0.01, "build": 0.2},
        host="lab",
        settings={"compare": {"value": ["*.png=image"], "source": "flag"}},
        notebooks=("analysis.ipynb",),
        drift_info=("Python 3.11.9 (recorded 3.11.2): another micro version of the same Python",),
        base_image="repropack/base:bookworm-py3.11",
        base_image_reason="its Python 3.11 is the recorded one's",
        recorded_errors={"analysis.ipynb": ("cell 3: ZeroDivisionError: division by zero",)},
        replayed=("analysis.ipynb", "fig.png"),
        **fields,
    )


def _signed(tmp_path: Path, result: ReplayResult) -> Path:
    kept = tmp_path / "kept"
    for path in result.replayed:
        (kept / path).parent.mkdir(parents=True, exist_ok=True)
        _write(kept / path, f"replayed {path}".encode())
    pair = generate_key_pair(tmp_path / "keys")
    record = tmp_path / "record"
    write_governed_run(
        dataclasses.replace(result, record=record), record, operator=Person("Ada"), key=pair.private_path, replayed=kept
    )
    return record


def test_a_records_result_reads_back_as_the_result_it_was_written_from(tmp_path):
    result = _result()
    record = _signed(tmp_path, result)
    back = result_of(open_record(record))
    assert back.as_dict() == dataclasses.replace(result, record=record).as_dict()
    assert back.outputs[1].nondeterminism is Nondeterminism.AT_SOURCE and back.cause.kind is CauseKind.NONDETERMINISTIC
    assert json.loads((record / "result.json").read_text())["replayed"]["files"] == ["analysis.ipynb", "fig.png"]


def test_a_result_naming_kept_files_needs_the_folder_holding_them(tmp_path):
    pair = generate_key_pair(tmp_path / "keys")
    with pytest.raises(ValueError, match="no folder holding them"):
        write_governed_run(_result(), tmp_path / "record", operator=Person("Ada"), key=pair.private_path)
    assert not (tmp_path / "record").exists()
