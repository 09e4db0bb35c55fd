from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from repropack.compare.compare import choose_rule, compare_outputs, parse_rule_flag, rules_from_config
from repropack.errors import BadInput
from repropack.model import OutputComparison, OutputStatus


def put(root: Path, path: str, data: bytes | str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def png(dark_pixels: int) -> bytes:
    """A white 20x20 PNG whose first ``dark_pixels`` pixels on the diagonal are black."""
    image = Image.new("RGB", (20, 20), (255, 255, 255))
    for n in range(dark_pixels):
        image.putpixel((n, n), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- compare_outputs ----------------------------------------------------------------------------


def test_compare_outputs_reports_every_status_sorted_by_path(tmp_path: Path) -> None:
    recorded_root, produced_root = tmp_path / "package", tmp_path / "replay"
    recorded_files = {
        "outputs/counts.csv": "group,n\na,2\nb,1\n",
        "outputs/fig.png": png(0),
        "outputs/summary.json": '{"mean": 0.5, "n": 3}',
        "outputs/gone.txt": "old\n",
        "outputs/listed_but_absent.txt": "x\n",
        "outputs/broken.json": '{"ok": true}',
    }
    produced_files = {
        "outputs/counts.csv": "group,n\na,2\nb,1\n",
        "outputs/fig.png": png(4),
        "outputs/summary.json": '{"mean": 0.75, "n": 3}',
        "outputs/broken.json": '{"ok": tru',
        "outputs/new.txt": "surprise\n",
    }
    for path, data in recorded_files.items():
        put(recorded_root, path, data)
    for path, data in produced_files.items():
        put(produced_root, path, data)
    choices = rules_from_config({"outputs/*.png": {"rule": "image", "threshold": 0.02}})

    results = compare_outputs(
        recorded_root,
        produced_root,
        {path: sha256(data) for path, data in recorded_files.items()},
        [*produced_files, "outputs/listed_but_absent.txt"],
        choices,
    )

    assert results == [
        OutputComparison(
            "outputs/broken.json",
            OutputStatus.DIFFERENT,
            "json",
            "cannot compare as json: Expecting value: line 1 column 8 (char 7)",
        ),
        OutputComparison("outputs/counts.csv", OutputStatus.IDENTICAL, "sha256", ""),
        OutputComparison(
            "outputs/fig.png",
            OutputStatus.EQUIVALENT,
            "image",
            "1.0% of pixels differ by more than 4 (max channel delta 255); threshold 2.0%",
        ),
        OutputComparison("outputs/gone.txt", OutputStatus.MISSING, ""),
        OutputComparison("outputs/listed_but_absent.txt", OutputStatus.MISSING, ""),
        OutputComparison("outputs/new.txt", OutputStatus.UNEXPECTED, ""),
        OutputComparison("outputs/summary.json", OutputStatus.DIFFERENT, "json", "at /mean: 0.5 != 0.75"),
    ]


def test_compare_outputs_unparsable_image_is_different_not_a_crash(tmp_path: Path) -> None:
    put(tmp_path / "package", "fig.png", png(0))
    put(tmp_path / "replay", "fig.png", b"\x89PNG truncated")

    [result] = compare_outputs(tmp_path / "package", tmp_path / "replay", {"fig.png": sha256(png(0))}, ["fig.png"], [])

    assert result.status is OutputStatus.DIFFERENT
    assert result.rule == "image"
    assert result.detail.startswith("cannot compare as image: cannot identify image file")


def test_compare_outputs_without_recorded_bytes_compares_digests_only(tmp_path: Path) -> None:
    # A restricted output: the package records its digest, not its bytes.
    put(tmp_path / "replay", "private/table.csv", "a\n1\n")
    recorded = {"private/table.csv": sha256("a\n1.0\n")}

    [result] = compare_outputs(tmp_path / "package", tmp_path / "replay", recorded, ["private/table.csv"], [])

    assert result == OutputComparison(
        "private/table.csv",
        OutputStatus.DIFFERENT,
        "sha256",
        "sha256 differs; the package does not hold the recorded bytes to compare content",
    )
    put(tmp_path / "replay", "private/table.csv", "a\n1.0\n")
    [same] = compare_outputs(tmp_path / "package", tmp_path / "replay", recorded, ["private/table.csv"], [])
    assert same.status is OutputStatus.IDENTICAL


def test_compare_outputs_falls_back_to_bytes_for_unknown_kinds(tmp_path: Path) -> None:
    put(tmp_path / "package", "model.pkl", b"\x00\x01")
    put(tmp_path / "replay", "model.pkl", b"\x00\x02\x03")

    [result] = compare_outputs(
        tmp_path / "package", tmp_path / "replay", {"model.pkl": sha256(b"\x00\x01")}, ["model.pkl"], []
    )

    assert result == OutputComparison(
        "model.pkl", OutputStatus.DIFFERENT, "bytes", "sha256 differs (recorded 2 B, produced 3 B)"
    )


def test_compare_outputs_caps_long_details(tmp_path: Path) -> None:
    long_line = "x" * 5000
    put(tmp_path / "package", "a.csv", f"h\n{long_line}\n")
    put(tmp_path / "replay", "a.csv", f"h\n{long_line}y\n")

    [result] = compare_outputs(
        tmp_path / "package", tmp_path / "replay", {"a.csv": sha256(f"h\n{long_line}\n")}, ["a.csv"], []
    )

    assert result.status is OutputStatus.DIFFERENT
    assert len(result.detail) <= 600


# --- choosing rules -----------------------------------------------------------------------------


def test_choose_rule_first_declared_glob_wins() -> None:
    loose_everywhere = rules_from_config(
        {"*.csv": {"rule": "csv", "rtol": 0.1}, "outputs/*.csv": {"rule": "csv", "ignore_row_order": True}}
    )
    order_first = rules_from_config(
        {"outputs/*.csv": {"rule": "csv", "ignore_row_order": True}, "*.csv": {"rule": "csv", "rtol": 0.1}}
    )

    assert choose_rule("outputs/a.csv", loose_everywhere).options()["rtol"] == 0.1
    assert choose_rule("outputs/a.csv", order_first).options()["ignore_row_order"] is True
    assert choose_rule("tables/a.csv", order_first).options()["rtol"] == 0.1


def test_choose_rule_glob_semantics() -> None:
    [by_path, by_name] = rules_from_config({"outputs/*.dat": {"rule": "text"}, "*.out": {"rule": "json"}})

    # With a "/": the whole path, where "*" also crosses "/".
    assert choose_rule("outputs/run.dat", [by_path]) is by_path.rule
    assert choose_rule("outputs/deep/run.dat", [by_path]) is by_path.rule
    assert choose_rule("other/outputs/run.dat", [by_path]).name == "bytes"
    # Without a "/": the file name at any depth.
    assert choose_rule("a/b/c/result.out", [by_name]) is by_name.rule
    assert choose_rule("result.OUT", [by_name]).name == "bytes"  # researcher globs are case-sensitive


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("analysis.ipynb", "notebook"),
        ("outputs/t.csv", "csv"),
        ("outputs/t.tsv", "csv"),
        ("map.geojson", "json"),
        ("report.md", "text"),
        ("figs/plot.svg", "text"),
        ("figs/plot.PNG", "image"),
        ("figs/photo.jpeg", "image"),
        ("model.parquet", "bytes"),
        ("Makefile", "bytes"),
    ],
)
def test_choose_rule_defaults_by_file_name(path: str, rule: str) -> None:
    assert choose_rule(path, []).name == rule


# --- configuration and flags --------------------------------------------------------------------


def test_rules_from_config_keeps_declared_order_and_options() -> None:
    config = {
        "outputs/*.png": {"rule": "image", "threshold": 0.02},
        "outputs/*.csv": {"rule": "csv", "rtol": 1e-6, "ignore_row_order": True},
        "*.txt": {"rule": "text", "masks": [r"\d{4}-\d{2}-\d{2}"]},
    }

    choices = rules_from_config(config)

    assert [(choice.glob, choice.rule.name, choice.rule.options()) for choice in choices] == [
        ("outputs/*.png", "image", {"tolerance": 4, "threshold": 0.02}),
        ("outputs/*.csv", "csv", {"rtol": 1e-6, "atol": 0.0, "ignore_row_order": True, "clock": True}),
        (
            "*.txt",
            "text",
            {"masks": [r"\d{4}-\d{2}-\d{2}"], "numbers": "close", "rtol": 1e-9, "noise_floor": 1e-12, "clock": True},
        ),
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (["*.png"], r"^compare: expected entries like"),
        ({"*.png": "image"}, r"^compare: '\*\.png': expected entries like"),
        ({"*.png": {"threshold": 0.1}}, r"^compare: '\*\.png': expected entries like"),
        ({"*.png": {"rule": 3}}, r"^compare: '\*\.png': expected entries like"),
        ({"  ": {"rule": "text"}}, r"^compare: '  ' is not a glob"),
        ({"*.png": {"rule": "pixels"}}, r"^compare: '\*\.png': unknown comparison rule 'pixels' \(known: "),
        (
            {"*.png": {"rule": "image", "threshold": 5}},
            r"^compare: '\*\.png': comparison rule 'image': option 'threshold'",
        ),
    ],
)
def test_rules_from_config_rejects_bad_shapes(config: object, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        rules_from_config(config)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flag", "glob", "entry"),
    [
        (
            "outputs/*.png=image:threshold=0.05,tolerance=8",
            "outputs/*.png",
            {"rule": "image", "threshold": 0.05, "tolerance": 8},
        ),
        ("*.ipynb=notebook", "*.ipynb", {"rule": "notebook"}),
        ("t.csv=csv:ignore_row_order=true,rtol=1e-6", "t.csv", {"rule": "csv", "ignore_row_order": True, "rtol": 1e-6}),
        (
            '*.log=text:masks=["\\\\d+, \\\\d+","pid=\\\\d+"]',
            "*.log",
            {"rule": "text", "masks": [r"\d+, \d+", r"pid=\d+"]},
        ),
        (r"*.log=text:masks=run \w+", "*.log", {"rule": "text", "masks": r"run \w+"}),
        ("a=b.dat=bytes", "a=b.dat", {"rule": "bytes"}),
    ],
)
def test_parse_rule_flag_reads_glob_rule_and_options(flag: str, glob: str, entry: dict) -> None:
    assert parse_rule_flag(flag) == (glob, entry)


def test_parse_rule_flag_round_trips_into_the_same_rule_as_config() -> None:
    glob, entry = parse_rule_flag("outputs/*.png=image:threshold=0.05,tolerance=8")

    [choice] = rules_from_config({glob: entry})

    assert choice.glob == "outputs/*.png"
    assert choice.rule.name == "image"
    assert choice.rule.options() == {"threshold": 0.05, "tolerance": 8}


@pytest.mark.parametrize(
    "flag",
    [
        "",
        "image",
        "*.png",
        "=image",
        "*.png=",
        "*.png=image:",
        "*.png=image:threshold",
        "*.png=image:threshold=0.1,",
        "*.png=image:,threshold=0.1",
        "*.png=image:threshold=0.1,threshold=0.2",
        "*.png=image:rule=csv",
        "*.png=im age",
        "*.png=image:0=1",
    ],
)
def test_parse_rule_flag_rejects_garbage(flag: str) -> None:
    with pytest.raises(BadInput, match=r"^--compare "):
        parse_rule_flag(flag)
