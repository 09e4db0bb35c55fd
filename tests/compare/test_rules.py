from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from repropack.compare.options import non_negative_number, option
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.errors import BadInput
from repropack.plugins import Registry


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def pair(tmp_path: Path, name: str, recorded: str, produced: str) -> tuple[Path, Path]:
    (tmp_path / "recorded").mkdir(exist_ok=True)
    (tmp_path / "produced").mkdir(exist_ok=True)
    return write(tmp_path / "recorded" / name, recorded), write(tmp_path / "produced" / name, produced)


def compare(rule_name: str, tmp_path: Path, name: str, recorded: str, produced: str, **options) -> RuleOutcome:
    return RULES.get(rule_name)(**options).compare(*pair(tmp_path, name, recorded, produced))


# --- registry and options ---------------------------------------------------------------------


def test_registry_knows_the_built_in_rules() -> None:
    assert set(RULES.names()) == {"notebook", "csv", "json", "text", "image", "bytes"}
    assert RULES.get("csv").default_globs == ("*.csv", "*.tsv")


def test_unknown_rule_is_bad_input_listing_known_names() -> None:
    with pytest.raises(
        BadInput, match=r"unknown comparison rule 'pixels' \(known: bytes, csv, image, json, notebook, text\)"
    ):
        RULES.get("pixels")


def test_register_as_decorator_makes_the_rule_available_and_refuses_a_name_clash() -> None:
    registry: Registry[type[ComparisonRule]] = Registry(kind="comparison rule")

    @dataclass(frozen=True)
    class LengthOptions:
        slack: float = option(0.0, non_negative_number)

    @registry.register
    class LengthRule(ComparisonRule):
        name = "length"
        default_globs: ClassVar[tuple[str, ...]] = ("*.dat",)
        Options = LengthOptions

        def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
            delta = abs(recorded.stat().st_size - produced.stat().st_size)
            return RuleOutcome(equal=delta <= self.settings.slack, detail=f"sizes differ by {delta} B")

    assert registry.get("length") is LengthRule
    assert registry.names() == ["length"]
    assert LengthRule(slack=2).options() == {"slack": 2.0}

    class Impostor(LengthRule):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)


@pytest.mark.parametrize(
    ("rule", "options", "message"),
    [
        (
            "csv",
            {"rtoll": 1e-6},
            r"comparison rule 'csv': unknown option 'rtoll' \(accepted: rtol, atol, ignore_row_order, clock\)",
        ),
        ("csv", {"rtol": "1e-6"}, r"comparison rule 'csv': option 'rtol': expected a finite number >= 0, got '1e-6'"),
        ("json", {"atol": -1}, r"comparison rule 'json': option 'atol'"),
        ("csv", {"ignore_row_order": 1}, r"comparison rule 'csv': option 'ignore_row_order': expected true or false"),
        ("image", {"threshold": 2}, r"comparison rule 'image': option 'threshold': expected a fraction"),
        ("image", {"tolerance": 256}, r"comparison rule 'image': option 'tolerance'"),
        ("image", {"tolerance": True}, r"comparison rule 'image': option 'tolerance'"),
        (
            "text",
            {"masks": ["(unclosed"]},
            r"comparison rule 'text': option 'masks': '\(unclosed' is not a regular expression",
        ),
        (
            "notebook",
            {"masks": [1]},
            r"comparison rule 'notebook': option 'masks': expected a list of regular expressions",
        ),
        ("bytes", {"anything": 1}, r"comparison rule 'bytes': unknown option 'anything' \(accepted: none\)"),
    ],
)
def test_unknown_or_invalid_options_are_bad_input_naming_rule_and_option(
    rule: str, options: dict, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        RULES.get(rule)(**options)


def test_options_are_the_effective_values_and_json_able() -> None:
    effective = {name: RULES.get(name)().options() for name in RULES.names()}

    assert json.loads(json.dumps(effective)) == effective
    assert effective["notebook"] == {
        "masks": [],
        "ignore_stderr": False,
        "image_threshold": 0.0,
        "image_tolerance": 4,
        "numbers": "close",
        "rtol": 1e-9,
        "noise_floor": 1e-12,
        "clock": True,
    }
    assert effective["image"] == {"tolerance": 4, "threshold": 0.0}
    assert effective["bytes"] == {}
    assert RULES.get("text")(masks=r"\d+", numbers="exact").options() == {
        "masks": [r"\d+"],
        "numbers": "exact",
        "rtol": 1e-9,
        "noise_floor": 1e-12,
        "clock": True,
    }
    assert RULES.get("csv")(rtol=1e-6, ignore_row_order=True).options() == {
        "rtol": 1e-6,
        "atol": 0.0,
        "ignore_row_order": True,
        "clock": True,
    }


# --- bytes --------------------------------------------------------------------------------------


def test_bytes_rule_compares_digests_and_reports_sizes(tmp_path: Path) -> None:
    assert compare("bytes", tmp_path, "a.bin", "same", "same") == RuleOutcome(equal=True, detail="")
    assert compare("bytes", tmp_path, "a.bin", "1234", "123456") == RuleOutcome(
        equal=False, detail="sha256 differs (recorded 4 B, produced 6 B)"
    )


# --- text ---------------------------------------------------------------------------------------


def test_text_rule_ignores_line_endings(tmp_path: Path) -> None:
    outcome = compare("text", tmp_path, "log.txt", "a\nb\n", "a\r\nb\r\n")

    assert outcome == RuleOutcome(equal=True, detail="same lines; line endings differ")


def test_text_rule_masks_then_compares(tmp_path: Path) -> None:
    recorded, produced = "run on 2024-01-02\nresult 42\n", "run on 2025-03-04\nresult 42\n"

    assert not compare("text", tmp_path, "log.txt", recorded, produced).equal
    outcome = compare("text", tmp_path, "log.txt", recorded, produced, masks=[r"\d{4}-\d{2}-\d{2}"])
    assert outcome == RuleOutcome(equal=True, detail="only masked text differs, on 1 line")


def test_text_rule_detail_is_a_short_unified_diff(tmp_path: Path) -> None:
    outcome = compare("text", tmp_path, "report.md", "title\nresult 42\nend\n", "title\nresult 43\nend\n")

    assert not outcome.equal
    assert outcome.detail.splitlines() == ["@@ -1,3 +1,3 @@", " title", "-result 42", "+result 43", " end"]


def test_text_rule_cuts_a_long_diff(tmp_path: Path) -> None:
    recorded = "".join(f"line {n}\n" for n in range(100))
    produced = "".join(f"line {n}!\n" for n in range(100))

    detail = compare("text", tmp_path, "big.log", recorded, produced).detail

    lines = detail.splitlines()
    assert len(lines) == 11
    assert lines[-1] == "… 191 more diff lines"
    assert len(detail) < 600


def test_text_rule_compares_non_utf8_bytes_exactly(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "b.txt").write_bytes(b"caf\xe8\n")

    outcome = RULES.get("text")().compare(tmp_path / "a.txt", tmp_path / "b.txt")

    assert not outcome.equal
    assert "-caf\\xe9" in outcome.detail and "+caf\\xe8" in outcome.detail


# --- csv ----------------------------------------------------------------------------------------

COUNTS = "group,n,mean\na,2,0.5\nb,1,0.25\nc,3,1.0\n"


def test_csv_rule_equal_tables(tmp_path: Path) -> None:
    outcome = compare("csv", tmp_path, "t.csv", COUNTS, COUNTS.replace("\n", "\r\n"))

    assert outcome == RuleOutcome(equal=True, detail="same cells; formatting differs")


def test_csv_rule_reordered_rows_are_equal_only_when_order_is_ignored(tmp_path: Path) -> None:
    reordered = "group,n,mean\nc,3,1.0\na,2,0.5\nb,1,0.25\n"

    strict = compare("csv", tmp_path, "t.csv", COUNTS, reordered)
    loose = compare("csv", tmp_path, "t.csv", COUNTS, reordered, ignore_row_order=True)

    assert not strict.equal
    assert strict.detail == "row 1, column 'group': 'a' != 'c' (9 cells differ)"
    assert loose == RuleOutcome(equal=True, detail="rows compared in sorted order")


def test_csv_rule_tolerates_drift_within_rtol(tmp_path: Path) -> None:
    drifted = "group,n,mean\na,2,0.500000001\nb,1,0.25\nc,3,1.0000000005\n"

    exact = compare("csv", tmp_path, "t.csv", COUNTS, drifted)
    loose = compare("csv", tmp_path, "t.csv", COUNTS, drifted, rtol=1e-6)

    assert not exact.equal
    assert exact.detail == "row 1, column 'mean': '0.5' != '0.500000001' (2 cells differ)"
    assert loose == RuleOutcome(equal=True, detail="2 numeric cells differ by at most 1e-09 (rtol=1e-06, atol=0)")


def test_csv_rule_atol_bounds_the_absolute_difference(tmp_path: Path) -> None:
    assert compare("csv", tmp_path, "t.csv", "x\n0.0\n", "x\n0.001\n", atol=0.01).equal
    assert not compare("csv", tmp_path, "t.csv", "x\n0.0\n", "x\n0.1\n", atol=0.01).equal


def test_csv_rule_header_change_is_different(tmp_path: Path) -> None:
    outcome = compare("csv", tmp_path, "t.csv", COUNTS, COUNTS.replace("mean", "average"), rtol=1.0)

    assert outcome == RuleOutcome(
        equal=False, detail="header differs: ['group', 'n', 'mean'] != ['group', 'n', 'average']"
    )


def test_csv_rule_nan_equals_nan_and_empty_equals_empty(tmp_path: Path) -> None:
    table = "id,score,note\n1,nan,\n2,,x\n"

    assert compare("csv", tmp_path, "t.csv", table, table.replace("nan", "NaN")).equal
    empty_vs_zero = compare("csv", tmp_path, "t.csv", table, "id,score,note\n1,nan,\n2,0,x\n")
    assert empty_vs_zero.detail == "row 2, column 'score': '' != '0' (1 cell differs)"


def test_csv_rule_text_cells_are_exact_even_with_tolerance(tmp_path: Path) -> None:
    outcome = compare("csv", tmp_path, "t.csv", "id,label\n1,alpha\n", "id,label\n1,Alpha\n", rtol=0.5)

    assert outcome == RuleOutcome(equal=False, detail="row 1, column 'label': 'alpha' != 'Alpha' (1 cell differs)")


def test_csv_rule_extra_rows_are_different_and_counted(tmp_path: Path) -> None:
    outcome = compare("csv", tmp_path, "t.csv", COUNTS, COUNTS + "d,4,2.0\n")

    assert outcome.detail == "3 rows != 4 rows; row 4, column 'group': <none> != 'd' (3 cells differ)"


def test_csv_rule_reads_tsv_by_suffix(tmp_path: Path) -> None:
    recorded = "a\tb\n1\t2.0\n"

    assert compare("csv", tmp_path, "t.tsv", recorded, "a\tb\n1\t2.0000001\n", rtol=1e-6).equal
    # Read as comma-separated, each line is one cell, so the drift would be a text difference.
    assert not compare("csv", tmp_path, "t.csv", recorded, "a\tb\n1\t2.0000001\n", rtol=1e-6).equal


# --- json ---------------------------------------------------------------------------------------


def test_json_rule_ignores_key_order_and_formatting(tmp_path: Path) -> None:
    outcome = compare("json", tmp_path, "m.json", '{"a": 1, "b": [1, 2]}', '{\n  "b": [1, 2],\n  "a": 1\n}')

    assert outcome == RuleOutcome(equal=True, detail="same data; key order or formatting differ")


def test_json_rule_tolerates_numbers_within_rtol(tmp_path: Path) -> None:
    recorded, produced = '{"fit": {"r2": 0.93, "n": 100}}', '{"fit": {"r2": 0.9300000001, "n": 100}}'

    assert compare("json", tmp_path, "m.json", recorded, produced, rtol=1e-6) == RuleOutcome(
        equal=True, detail="1 number differs by at most 1e-10 (rtol=1e-06, atol=0)"
    )
    assert compare("json", tmp_path, "m.json", recorded, produced).detail == "at /fit/r2: 0.93 != 0.9300000001"


def test_json_rule_names_the_pointer_of_the_first_difference(tmp_path: Path) -> None:
    recorded = '{"features": [{"properties": {"a/b": "x"}}, {"properties": {"a/b": "y"}}]}'
    produced = '{"features": [{"properties": {"a/b": "x"}}, {"properties": {"a/b": "z"}}]}'

    outcome = compare("json", tmp_path, "m.geojson", recorded, produced)

    assert outcome == RuleOutcome(equal=False, detail="at /features/1/properties/a~1b: 'y' != 'z'")


@pytest.mark.parametrize(
    ("recorded", "produced", "detail"),
    [
        ('{"a": 1}', '{"a": "1"}', "at /a: 1 != '1'"),
        ('{"a": 1}', '{"a": true}', "at /a: 1 != True"),
        ('{"a": 1, "b": 2}', '{"a": 1}', "at /b: missing in produced"),
        ('{"a": 1}', '{"a": 1, "c": 2}', "at /c: not in recorded"),
        ("[1, 2]", "[1, 2, 3]", "at the root: 2 items != 3 items"),
    ],
)
def test_json_rule_type_and_shape_changes_are_different(
    tmp_path: Path, recorded: str, produced: str, detail: str
) -> None:
    assert compare("json", tmp_path, "m.json", recorded, produced, rtol=1e-9) == RuleOutcome(equal=False, detail=detail)


def test_json_rule_compares_large_integers_exactly(tmp_path: Path) -> None:
    # As floats both would be 9007199254740992.0 and compare equal.
    outcome = compare("json", tmp_path, "m.json", "[9007199254740993]", "[9007199254740992]")

    assert outcome == RuleOutcome(equal=False, detail="at /0: 9007199254740993 != 9007199254740992")


# --- image --------------------------------------------------------------------------------------


def png_bytes(
    size: tuple[int, int] = (20, 20), changed: dict[tuple[int, int], tuple[int, int, int]] | None = None, **save
) -> bytes:
    """A white RGB PNG with some pixels set to other colours."""
    image = Image.new("RGB", size, (255, 255, 255))
    for xy, colour in (changed or {}).items():
        image.putpixel(xy, colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def image_pair(tmp_path: Path, recorded: bytes, produced: bytes, name: str = "fig.png") -> tuple[Path, Path]:
    (tmp_path / "recorded").mkdir(exist_ok=True)
    (tmp_path / "produced").mkdir(exist_ok=True)
    (tmp_path / "recorded" / name).write_bytes(recorded)
    (tmp_path / "produced" / name).write_bytes(produced)
    return tmp_path / "recorded" / name, tmp_path / "produced" / name


FOUR_PIXELS = {(1, 1): (0, 0, 0), (2, 2): (0, 0, 0), (3, 3): (200, 255, 255), (4, 4): (250, 255, 255)}


def test_image_rule_same_pixels_in_another_encoding_are_equal(tmp_path: Path) -> None:
    recorded, produced = image_pair(tmp_path, png_bytes(compress_level=0), png_bytes(compress_level=9))
    assert recorded.read_bytes() != produced.read_bytes()

    outcome = RULES.get("image")().compare(recorded, produced)

    assert outcome == RuleOutcome(equal=True, detail="same pixels; encoding or metadata differ")


def test_image_rule_a_few_differing_pixels(tmp_path: Path) -> None:
    recorded, produced = image_pair(tmp_path, png_bytes(), png_bytes(changed=FOUR_PIXELS))

    exact = RULES.get("image")().compare(recorded, produced)
    loose = RULES.get("image")(threshold=0.01).compare(recorded, produced)
    tolerant = RULES.get("image")(tolerance=60).compare(recorded, produced)

    assert exact == RuleOutcome(
        equal=False, detail="1.0% of pixels differ by more than 4 (max channel delta 255); threshold 0.0%"
    )
    assert loose == RuleOutcome(
        equal=True, detail="1.0% of pixels differ by more than 4 (max channel delta 255); threshold 1.0%"
    )
    assert tolerant == RuleOutcome(
        equal=False, detail="0.5% of pixels differ by more than 60 (max channel delta 255); threshold 0.0%"
    )


def test_image_rule_small_deltas_within_tolerance_are_equal(tmp_path: Path) -> None:
    recorded, produced = image_pair(tmp_path, png_bytes(), png_bytes(changed={(3, 3): (250, 255, 255)}))

    outcome = RULES.get("image")(tolerance=8).compare(recorded, produced)

    assert outcome == RuleOutcome(equal=True, detail="0.25% of pixels differ by at most 5/255, within tolerance 8")


def test_image_rule_different_sizes_are_different_whatever_the_threshold(tmp_path: Path) -> None:
    recorded, produced = image_pair(tmp_path, png_bytes((20, 20)), png_bytes((20, 21)))

    outcome = RULES.get("image")(threshold=1.0).compare(recorded, produced)

    assert outcome == RuleOutcome(equal=False, detail="size differs: 20x20 != 20x21")


def test_image_rule_compares_across_formats_and_modes(tmp_path: Path) -> None:
    gif = io.BytesIO()
    Image.new("P", (20, 20), 0).save(gif, format="GIF")
    palette_black = gif.getvalue()
    rgb_black = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 0, 0)).save(rgb_black, format="PNG")
    recorded, produced = image_pair(tmp_path, palette_black, rgb_black.getvalue(), name="fig.gif")

    assert RULES.get("image")().compare(recorded, produced).equal


def test_image_rule_a_shortest_share_is_never_shown_as_zero(tmp_path: Path) -> None:
    recorded, produced = image_pair(tmp_path, png_bytes((200, 200)), png_bytes((200, 200), changed={(0, 0): (0, 0, 0)}))

    outcome = RULES.get("image")(threshold=0.001).compare(recorded, produced)

    assert outcome == RuleOutcome(
        equal=True, detail="0.0025% of pixels differ by more than 4 (max channel delta 255); threshold 0.1%"
    )


# --- notebook -----------------------------------------------------------------------------------


def stream(text: str, name: str = "stdout") -> nbformat.NotebookNode:
    return new_output("stream", name=name, text=text)


def result(text: str, count: int = 1) -> nbformat.NotebookNode:
    return new_output("execute_result", data={"text/plain": text}, execution_count=count)


def picture(png: bytes) -> nbformat.NotebookNode:
    return new_output(
        "display_data",
        data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure size 640x480 with 1 Axes>"},
    )


def code(
    source: str, *outputs: nbformat.NotebookNode, count: int | None = 1, tags: tuple[str, ...] = ()
) -> nbformat.NotebookNode:
    cell = new_code_cell(source, outputs=list(outputs), execution_count=count)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def notebooks(tmp_path: Path, recorded: list, produced: list) -> tuple[Path, Path]:
    paths = []
    for side, cells in (("recorded", recorded), ("produced", produced)):
        nb = new_notebook(cells=cells)
        path = tmp_path / side / "analysis.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths[0], paths[1]


def compare_notebooks(tmp_path: Path, recorded: list, produced: list, **options) -> RuleOutcome:
    return RULES.get("notebook")(**options).compare(*notebooks(tmp_path, recorded, produced))


def test_notebook_rule_ignores_execution_counts_ids_and_timings(tmp_path: Path) -> None:
    recorded = [new_markdown_cell("# Title"), code("x = 41 + 1\nx", result("42", 1), count=1)]
    produced = [new_markdown_cell("# Title"), code("x = 41 + 1\nx", result("42", 7), count=7)]
    produced[1].metadata["execution"] = {"iopub.execute_input": "2025-01-02T03:04:05.678Z"}
    produced[1].metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert recorded[1].id != produced[1].id

    outcome = compare_notebooks(tmp_path, recorded, produced)

    assert outcome == RuleOutcome(
        equal=True, detail="same outputs once execution counts, metadata and volatile text are ignored"
    )


def test_notebook_rule_ignores_widget_outputs(tmp_path: Path) -> None:
    widget = new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
            "text/plain": "HBox(children=(FloatProgress(value=0.0),))",
        },
    )

    assert compare_notebooks(tmp_path, [code("show()", widget)], [code("show()")]).equal


def test_notebook_rule_masks_memory_addresses_timeit_and_time(tmp_path: Path) -> None:
    recorded = [
        code("model", result("<Model object at 0x7f3a2c1d9e50>")),
        code("%timeit f()", stream("123 ms ± 4.5 ms per loop (mean ± std. dev. of 7 runs, 1 loop each)\n")),
        code("%time f()", stream("CPU times: user 1.2 s, sys: 40 ms, total: 1.24 s\nWall time: 1.3 s\n")),
    ]
    produced = [
        code("model", result("<Model object at 0x55d0c0ffee10>")),
        code(
            "%timeit f()",
            stream(
                "The slowest run took 5.21 times longer than the fastest. This could mean that an intermediate result is being cached.\n"
            ),
            stream("98.7 ms ± 12 ms per loop (mean ± std. dev. of 7 runs, 10 loops each)\n"),
        ),
        code("%time f()", stream("CPU times: user 3 s, sys: 1 ms, total: 3 s\nWall time: 3.5 s\n")),
    ]

    assert compare_notebooks(tmp_path, recorded, produced).equal


def test_notebook_rule_drops_progress_bars_from_stderr(tmp_path: Path) -> None:
    recorded = [
        code(
            "fit()",
            stream(
                "  0%|          | 0/10 [00:00<?, ?it/s]\r100%|##########| 10/10 [00:01<00:00, 9.81it/s]\n", "stderr"
            ),
            stream("loss 0.25\n"),
        )
    ]
    produced = [
        code(
            "fit()",
            stream("loss 0.25\n"),
            stream(" 50%|#####     | 5/10 [00:00<00:00, 12.0it/s]\n", "stderr"),
            stream("100%|##########| 10/10 [00:02<00:00,  4.2s/it]\n", "stderr"),
        )
    ]

    assert compare_notebooks(tmp_path, recorded, produced).equal


def test_notebook_rule_compares_stderr_after_masking(tmp_path: Path) -> None:
    recorded = [code("run()", stream("/tmp/ipykernel_101/2718281828.py:1: UserWarning: few samples\n", "stderr"))]
    masked_equal = [code("run()", stream("/tmp/ipykernel_202/3141592653.py:1: UserWarning: few samples\n", "stderr"))]
    changed = [code("run()", stream("/tmp/ipykernel_202/3141592653.py:1: UserWarning: no samples\n", "stderr"))]

    assert compare_notebooks(tmp_path, recorded, masked_equal).equal
    outcome = compare_notebooks(tmp_path, recorded, changed)
    assert outcome == RuleOutcome(
        equal=False,
        detail="cell 1 output 1: '<masked>:1: UserWarning: few samples' != '<masked>:1: UserWarning: no samples'",
    )
    assert compare_notebooks(tmp_path, recorded, changed, ignore_stderr=True).equal


def test_notebook_rule_joins_stream_chunks_however_the_kernel_split_them(tmp_path: Path) -> None:
    recorded = [code("report()", stream("a = 1\nb = 2\n"))]
    produced = [code("report()", stream("a = 1\n"), stream("b"), stream(" = 2\n"))]

    assert compare_notebooks(tmp_path, recorded, produced).equal


def test_notebook_rule_changed_number_in_a_stream_names_the_cell(tmp_path: Path) -> None:
    recorded = [
        code("import x"),
        new_markdown_cell("text"),
        code("a"),
        code("b"),
        code("print(answer)", stream("42\n")),
    ]
    produced = [
        code("import x"),
        new_markdown_cell("text"),
        code("a"),
        code("b"),
        code("print(answer)", stream("43\n")),
    ]

    outcome = compare_notebooks(tmp_path, recorded, produced)

    assert outcome == RuleOutcome(equal=False, detail="cell 5 output 1: '42' != '43'")


def test_notebook_rule_names_line_and_mime_type_of_a_rich_output_change(tmp_path: Path) -> None:
    recorded = [code("df", result("   n\n0  1\n1  2"))]
    produced = [code("df", result("   n\n0  1\n1  3"))]

    outcome = compare_notebooks(tmp_path, recorded, produced)

    assert outcome == RuleOutcome(equal=False, detail="cell 1 output 1 text/plain: line 3: '1  2' != '1  3'")


def test_notebook_rule_reports_source_changes_and_missing_outputs(tmp_path: Path) -> None:
    source_changed = compare_notebooks(tmp_path, [code("x = 1")], [code("x = 2")])
    output_missing = compare_notebooks(
        tmp_path, [code("f()", stream("done\n"), result("3"))], [code("f()", stream("done\n"))]
    )
    error_raised = compare_notebooks(
        tmp_path,
        [code("f()", stream("ok\n"))],
        [code("f()", new_output("error", ename="ValueError", evalue="bad x", traceback=["..."]))],
    )
    fewer_cells = compare_notebooks(tmp_path, [code("a"), code("b")], [code("a")])

    assert source_changed.detail == "cell 1: source differs: 'x = 1' != 'x = 2'"
    assert output_missing.detail == "cell 1 output 2: recorded execute_result not produced: '3'"
    assert error_raised.detail == "cell 1 output 1: stdout != error"
    assert fewer_cells.detail == "2 cells != 1 cell"


def test_notebook_rule_compares_errors_by_name_and_value_not_traceback(tmp_path: Path) -> None:
    def failing(evalue: str, traceback: str) -> list:
        return [code("1/0", new_output("error", ename="ZeroDivisionError", evalue=evalue, traceback=[traceback]))]

    assert compare_notebooks(
        tmp_path, failing("division by zero", "File /home/a/x.py"), failing("division by zero", "File /root/y.py")
    ).equal
    changed = compare_notebooks(tmp_path, failing("division by zero", "t"), failing("float division by zero", "t"))
    assert changed.detail == "cell 1 output 1 evalue: 'division by zero' != 'float division by zero'"


def test_notebook_rule_honours_nbval_markers(tmp_path: Path) -> None:
    recorded = [
        code("# NBVAL_IGNORE_OUTPUT\nprint(time.time())", stream("1700000000.1\n")),
        code("print(random.random())", stream("0.1\n"), tags=("nbval-ignore-output",)),
        code("# NBVAL_SKIP\nprint(os.getpid())", stream("123\n")),
        code("download()", stream("fetched\n"), tags=("nbval-skip",)),
        code("print(1 + 1)", stream("2\n")),
    ]
    produced = [
        code("# NBVAL_IGNORE_OUTPUT\nprint(time.time())", stream("1800000000.9\n")),
        code("print(random.random())", stream("0.7\n"), tags=("nbval-ignore-output",)),
        code("# NBVAL_SKIP\nprint(os.getpid())", stream("456\n"), stream("Traceback\n", "stderr")),
        code("download()", tags=("nbval-skip",)),
        code("print(1 + 1)", stream("2\n")),
    ]

    outcome = compare_notebooks(tmp_path, recorded, produced)

    assert outcome == RuleOutcome(
        equal=True, detail="outputs ignored by nbval marker: cells 1, 2; skipped by nbval marker: cells 3, 4"
    )
    # The markers cover only the cells they are on.
    produced[4] = code("print(1 + 1)", stream("3\n"))
    assert compare_notebooks(tmp_path, recorded, produced).detail == "cell 5 output 1: '2' != '3'"


def test_notebook_rule_ignore_output_still_checks_the_source(tmp_path: Path) -> None:
    outcome = compare_notebooks(
        tmp_path, [code("# NBVAL_IGNORE_OUTPUT\nx = 1")], [code("# NBVAL_IGNORE_OUTPUT\nx = 2")]
    )

    assert outcome.detail == "cell 1: source differs: line 2: 'x = 1' != 'x = 2'"


def test_notebook_rule_stochastic_embedded_png_depends_on_image_threshold(tmp_path: Path) -> None:
    recorded = [code("plot()", picture(png_bytes()))]
    produced = [code("plot()", picture(png_bytes(changed=FOUR_PIXELS)))]

    exact = compare_notebooks(tmp_path, recorded, produced)
    loose = compare_notebooks(tmp_path, recorded, produced, image_threshold=0.05)

    assert exact == RuleOutcome(
        equal=False,
        detail="cell 1 output 1 image/png: 1.0% of pixels differ by more than 4 (max channel delta 255); threshold 0.0%",
    )
    assert loose == RuleOutcome(
        equal=True,
        detail="cell 1 output 1 image/png: 1.0% of pixels differ by more than 4 (max channel delta 255); threshold 5.0%",
    )


def test_notebook_rule_extra_masks_apply_to_outputs(tmp_path: Path) -> None:
    recorded = [code("print(run_id)", stream("run 7f2c\n"))]
    produced = [code("print(run_id)", stream("run 9a0b\n"))]

    assert not compare_notebooks(tmp_path, recorded, produced).equal
    assert compare_notebooks(tmp_path, recorded, produced, masks=[r"run \w+"]).equal


def test_notebook_rule_ignores_where_libraries_are_installed_in_warnings(tmp_path):
    import nbformat

    from repropack.compare.rules import RULES

    def notebook(path, prefix):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("import pandas")
        cell.outputs = [
            nbformat.v4.new_output(
                "stream", name="stderr", text=f"{prefix}/site-packages/pandas/io.py:3: FutureWarning: old\n"
            )
        ]
        nb.cells = [cell]
        nbformat.write(nb, path)
        return path

    recorded = notebook(tmp_path / "a.ipynb", "/root/.venv/lib/python3.11")
    replayed = notebook(tmp_path / "b.ipynb", "/opt/repropack/venv/lib/python3.11")
    assert RULES.get("notebook")().compare(recorded, replayed).equal
    moved = notebook(tmp_path / "c.ipynb", "/opt/repropack/venv/lib/python3.11")
    text = moved.read_text().replace("FutureWarning: old", "FutureWarning: new")
    moved.write_text(text)
    assert not RULES.get("notebook")().compare(recorded, moved).equal
