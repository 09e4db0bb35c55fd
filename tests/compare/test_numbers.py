"""Numbers compared as numbers, progress reports and random identifiers dropped, figures within noise."""

from __future__ import annotations

import io
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

from repropack.compare.context import NO_CONTEXT
from repropack.compare.numbers import NumberPolicy, Tally, TextComparer
from repropack.compare.rules import RULES, RuleOutcome
from repropack.compare.volatile import PROGRESS_LINES


def differs(recorded: str, produced: str, **policy) -> int | None:
    return TextComparer(NumberPolicy(**policy)).first_difference(recorded, produced, NO_CONTEXT, Tally())


def notebook_pair(tmp_path: Path, recorded: list, produced: list) -> tuple[Path, Path]:
    paths = []
    for side, outputs in (("recorded", recorded), ("produced", produced)):
        path = tmp_path / side / "analysis.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(cells=[new_code_cell("show()", outputs=outputs, execution_count=1)]), path)
        paths.append(path)
    return paths[0], paths[1]


def result(text: str, mime: str = "text/plain") -> nbformat.NotebookNode:
    return new_output("execute_result", data={mime: text}, execution_count=1)


def stdout(text: str) -> nbformat.NotebookNode:
    return new_output("stream", name="stdout", text=text)


def compare_outputs_of(tmp_path: Path, recorded: list, produced: list, **options) -> RuleOutcome:
    return RULES.get("notebook")(**options).compare(*notebook_pair(tmp_path, recorded, produced))


# --- numbers ------------------------------------------------------------------------------------

CPU_A = "array([[ 1.6e+01, -1.3e-15],\n       [ 2.5e+00,  3.0e+00]])"
CPU_B = "array([[ 1.60e+01, -9.76e-16],\n       [ 2.50e+00,  3.00e+00]])"


def test_machine_precision_noise_beside_the_outputs_scale_is_equal_and_reported(tmp_path: Path) -> None:
    outcome = compare_outputs_of(tmp_path, [result(CPU_A)], [result(CPU_B)])

    assert outcome == RuleOutcome(
        equal=True,
        detail="4 numbers differ by at most 3.24e-16 at cell 1 output 1 text/plain line 1 (rtol=1e-09, noise_floor=1e-12)",
    )


def test_strict_comparison_stays_available(tmp_path: Path) -> None:
    outcome = compare_outputs_of(tmp_path, [result(CPU_A)], [result(CPU_B)], numbers="exact")

    assert outcome.detail == (
        "cell 1 output 1 text/plain: line 1: 'array([[ 1.6e+01, -1.3e-15],' != 'array([[ 1.60e+01, -9.76e-16],'"
    )


def test_a_changed_digit_is_different_whatever_the_scale_beside_it(tmp_path: Path) -> None:
    recorded = "   rate  population\n0  0.5213   330000000.0"
    produced = "   rate  population\n0  0.5214   330000000.0"

    outcome = compare_outputs_of(tmp_path, [result(recorded)], [result(produced)])

    assert (
        outcome.detail == "cell 1 output 1 text/plain: line 2: '0  0.5213   330000000.0' != '0  0.5214   330000000.0'"
    )


def test_integers_are_exact() -> None:
    assert differs("n = 100 of 1e20", "n = 101 of 1e20") == 0
    assert differs("32/32", "31/32") == 0


def test_a_sign_flip_of_a_zero_residue_moves_the_padding_not_the_result(tmp_path: Path) -> None:
    # pandas right-aligns columns: -1.3e-15 printed as -1.300000e-15 is one character wider.
    recorded = "      x             y\n0  16.0 -1.300000e-15\n1   2.5  3.000000e+00"
    produced = "      x             y\n0  16.0  9.760000e-16\n1   2.5  3.000000e+00"

    outcome = compare_outputs_of(tmp_path, [result(recorded)], [result(produced)])

    assert outcome.equal and outcome.detail.startswith(
        "1 number differs by at most 2.28e-15 at cell 1 output 1 text/plain line 2"
    )


def test_a_paragraph_is_the_scale_a_number_is_zero_at() -> None:
    assert differs("1.6e+01 -1.3e-15", "1.6e+01 -9.76e-16") is None
    # A blank line apart, the tiny value is its own scale: a 25% change.
    assert differs("1.6e+01\n\n-1.3e-15", "1.6e+01\n\n-9.76e-16") == 2


def test_rtol_bounds_the_relative_change_of_each_number() -> None:
    assert differs("0.30000000000000004", "0.3") is None
    assert differs("mean 1.0000000001", "mean 1.0") is None
    assert differs("mean 1.00001", "mean 1.0") == 0
    assert differs("mean 1.00001", "mean 1.0", rtol=1e-4) is None


def test_text_around_numbers_is_exact() -> None:
    assert differs("loss 0.25", "Loss 0.25") == 0
    assert differs("1.0 kg", "1.0 g") == 0
    assert differs("version 1.2.3", "version 1.2.4") == 0  # a version is no number
    assert differs("x1 = 2.0", "x2 = 2.0") == 0  # nor a name's digits
    assert differs("nan", "NaN") == 0
    assert differs("a  b 1.5", "a b 1.5") == 0  # spaces count, except next to a number


def test_numbers_in_text_files_compare_as_numbers_unless_exact(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("fit done\ncoef [ 1.6e+01 -1.3e-15]\n")
    (tmp_path / "b.log").write_text("fit done\ncoef [ 1.60e+01 -9.76e-16]\n")

    close = RULES.get("text")().compare(tmp_path / "a.log", tmp_path / "b.log")
    exact = RULES.get("text")(numbers="exact").compare(tmp_path / "a.log", tmp_path / "b.log")

    assert close == RuleOutcome(
        equal=True, detail="2 numbers differ by at most 3.24e-16 at line 2 (rtol=1e-09, noise_floor=1e-12)"
    )
    assert not exact.equal and "-coef [ 1.6e+01 -1.3e-15]" in exact.detail


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"numbers": "loose"}, r"option 'numbers': expected one of close, exact, got 'loose'"),
        ({"rtol": -1}, r"option 'rtol': expected a finite number >= 0"),
        ({"noise_floor": "1e-12"}, r"option 'noise_floor': expected a finite number >= 0"),
        ({"clock": "yes"}, r"option 'clock': expected true or false"),
        ({"image_tolerance": 300}, r"option 'image_tolerance': expected a whole number between 0 and 255"),
    ],
)
def test_bad_number_options_are_refused(options: dict, message: str) -> None:
    from repropack.errors import BadInput

    with pytest.raises(BadInput, match=message):
        RULES.get("notebook")(**options)
    if "image_tolerance" not in options:
        with pytest.raises(BadInput, match=message):
            RULES.get("text")(**options)


# --- progress reporters -------------------------------------------------------------------------

PROGRESS = {
    "tqdm": (
        "  0%|          | 0/100 [00:00<?, ?it/s]\r 45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]\r"
        "100%|██████████| 100/100 [00:03<00:00, 30.1it/s]\n",
        "Fitting: 100%|##########| 100/100 [00:02<00:00, 41.7it/s, loss=0.1]\n",
    ),
    "tqdm without total": ("45it [00:01, 30.10it/s]\n", "12.3MB [00:02, 5.10MB/s]\n"),
    "dask": (
        "[########################################] | 100% Completed | 1.2 s\n",
        "[####                                    ] | 10% Completed | 101.47 ms\r"
        "[########################################] | 100% Completed |  1.1s\n",
    ),
    "fastprogress": (
        "100.00% [8000/8000 00:02<00:00 Sampling 4 chains, 0 divergences]\n",
        "100.00% [8000/8000 00:05<00:00 Sampling 4 chains, 0 divergences]\n",
    ),
    "pip": (
        "   ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1.2/1.2 MB 3.4 MB/s eta 0:00:00\n",
        "   ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1.2/1.2 MB 9.9 MB/s eta 0:00:00\n",
    ),
}


@pytest.mark.parametrize("shape", sorted(PROGRESS))
def test_progress_reports_on_stdout_are_dropped_by_shape(tmp_path: Path, shape: str) -> None:
    recorded, produced = PROGRESS[shape]
    assert shape in PROGRESS_LINES

    outcome = compare_outputs_of(
        tmp_path, [stdout(f"start\n{recorded}done 42\n")], [stdout(f"start\n{produced}done 42\n")]
    )
    changed = compare_outputs_of(tmp_path / "c", [stdout(f"{recorded}done 42\n")], [stdout(f"{produced}done 43\n")])

    assert outcome.equal, outcome.detail
    assert changed.detail == "cell 1 output 1: 'done 42' != 'done 43'"  # what follows the progress is compared


def test_keras_fit_lines_keep_their_metrics_and_lose_their_timings(tmp_path: Path) -> None:
    def fit(loss: str, timing: str, eta: str) -> str:
        return (
            f"Epoch 1/2\n 1/32 [..............................] - ETA: {eta} - loss: 0.7012\x08\x08\r"
            f"32/32 [==============================] - {timing} - loss: {loss}\n"
            f"Epoch 2/2\n\x1b[1m32/32\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m{timing}\x1b[0m"
            f" - accuracy: 0.5000 - loss: {loss}\n"
        )

    same = compare_outputs_of(
        tmp_path, [stdout(fit("0.6931", "1s 10ms/step", "3s"))], [stdout(fit("0.6931", "0s 4ms/step", "1s"))]
    )
    changed = compare_outputs_of(
        tmp_path / "c", [stdout(fit("0.6931", "1s 10ms/step", "3s"))], [stdout(fit("0.6932", "1s 10ms/step", "3s"))]
    )
    verbose_two = compare_outputs_of(
        tmp_path / "v",
        [stdout("32/32 - 1s - loss: 0.6931 - 31ms/epoch - 1ms/step\n")],
        [stdout("32/32 - 0s - loss: 0.6931 - 12ms/epoch - 375us/step\n")],
    )

    assert same.equal, same.detail
    assert (
        changed.detail
        == "cell 1 output 1: line 2: '32/32 <progress> - loss: 0.6931' != '32/32 <progress> - loss: 0.6932'"
    )
    assert verbose_two.equal, verbose_two.detail


def test_a_line_that_only_resembles_progress_is_compared(tmp_path: Path) -> None:
    recorded = [stdout("45% of patients | 45/100 enrolled\n")]
    produced = [stdout("46% of patients | 46/100 enrolled\n")]

    assert not compare_outputs_of(tmp_path, recorded, produced).equal


def test_progress_lines_are_dropped_from_text_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("start\n 45%|####5     | 45/100 [00:01<00:02, 30.1it/s]\rdone\n")
    (tmp_path / "b.log").write_text("start\n 12%|#2        | 12/100 [00:00<00:04, 20.5it/s]\rdone\n")

    outcome = RULES.get("text")().compare(tmp_path / "a.log", tmp_path / "b.log")

    assert outcome == RuleOutcome(equal=True, detail="progress reports dropped")


# --- random identifiers in markup ---------------------------------------------------------------

RANDOM_IDS = {
    "plotly": (
        '<div id="3f2c1a8e-9b7d-4c6e-8f0a-1b2c3d4e5f6a" class="plotly-graph-div"></div>'
        '<script>Plotly.newPlot("3f2c1a8e-9b7d-4c6e-8f0a-1b2c3d4e5f6a", [{"y": [1, 2]}])</script>',
        '<div id="0b9e7c44-2d1a-4f0e-9c3b-77a1d2e3f4b5" class="plotly-graph-div"></div>'
        '<script>Plotly.newPlot("0b9e7c44-2d1a-4f0e-9c3b-77a1d2e3f4b5", [{"y": [1, 2]}])</script>',
        '<script>Plotly.newPlot("0b9e7c44-2d1a-4f0e-9c3b-77a1d2e3f4b5", [{"y": [1, 3]}])</script>',
    ),
    "altair": (
        '<div id="altair-viz-3f2c1a8e9b7d4c6e8f0a1b2c3d4e5f6a"></div>',
        '<div id="altair-viz-0b9e7c442d1a4f0e9c3b77a1d2e3f4b5"></div>',
        '<div id="altair-viz-0b9e7c442d1a4f0e9c3b77a1d2e3f4b5" class="wide"></div>',
    ),
    "pandas Styler": (
        '<style>#T_8b3f4_row0_col0 { color: red }</style><table id="T_8b3f4"><td>0.52</td></table>',
        '<style>#T_a91c0_row0_col0 { color: red }</style><table id="T_a91c0"><td>0.52</td></table>',
        '<style>#T_a91c0_row0_col0 { color: red }</style><table id="T_a91c0"><td>0.53</td></table>',
    ),
    "bokeh": (
        '<div id="e1b2c3d4-5f6a-4b7c-8d9e-0f1a2b3c4d5e" data-root-id="p1001"></div>',
        '<div id="9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d" data-root-id="p1001"></div>',
        '<div id="9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d" data-root-id="p1002"></div>',
    ),
}


@pytest.mark.parametrize("library", sorted(RANDOM_IDS))
def test_random_ids_in_html_outputs_are_masked_like_memory_addresses(tmp_path: Path, library: str) -> None:
    recorded, produced, changed = RANDOM_IDS[library]

    assert compare_outputs_of(tmp_path, [result(recorded, "text/html")], [result(produced, "text/html")]).equal
    assert not compare_outputs_of(tmp_path / "c", [result(recorded, "text/html")], [result(changed, "text/html")]).equal


def test_a_uuid_printed_as_text_is_a_result(tmp_path: Path) -> None:
    recorded = [stdout("record 3f2c1a8e-9b7d-4c6e-8f0a-1b2c3d4e5f6a\n")]
    produced = [stdout("record 0b9e7c44-2d1a-4f0e-9c3b-77a1d2e3f4b5\n")]

    assert not compare_outputs_of(tmp_path, recorded, produced).equal


def test_matplotlib_svg_ids_in_an_svg_output_are_masked(tmp_path: Path) -> None:
    def figure(clip: str) -> nbformat.NotebookNode:
        svg = f'<svg><path d="M 0 0 L 1 1" clip-path="url(#p{clip})"/><clipPath id="p{clip}"/></svg>'
        return new_output("display_data", data={"image/svg+xml": svg, "text/plain": "<Figure>"})

    assert compare_outputs_of(tmp_path, [figure("cf746ecc4d")], [figure("147704d3f2")]).equal


# --- images: calibrated on matplotlib figures ------------------------------------------------------


def render(heights: list[float], title: str = "n = 100") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.bar(["a", "b", "c", "d", "e"], heights, color="tab:blue")
    ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


HEIGHTS = [3.0, 4.5, 2.2, 5.1, 3.8]


def compare_pngs(tmp_path: Path, recorded: bytes, produced: bytes, **options) -> RuleOutcome:
    (tmp_path / "a.png").write_bytes(recorded)
    (tmp_path / "b.png").write_bytes(produced)
    return RULES.get("image")(**options).compare(tmp_path / "a.png", tmp_path / "b.png")


def test_the_same_figure_rendered_twice_has_the_same_pixels(tmp_path: Path) -> None:
    first, second = render(HEIGHTS), render(list(np.array(HEIGHTS) * (1 + 1e-12)))

    # Machine-precision noise in the data moves no pixel (measured from 1e-15 to 1e-9: see the image rule).
    assert compare_pngs(tmp_path, first, second) == RuleOutcome(
        equal=True, detail="same pixels; encoding or metadata differ"
    )


def test_anti_aliasing_noise_is_equivalent_and_its_delta_reported(tmp_path: Path) -> None:
    original = np.asarray(Image.open(io.BytesIO(render(HEIGHTS))).convert("RGBA")).copy()
    noisy = original.astype(int)
    chosen = np.random.default_rng(1).random(original.shape[:2]) < 0.009  # 0.9% of pixels
    noisy[chosen, 0] += np.where(noisy[chosen, 0] < 255, 1, -1)  # by 1/255
    buffer = io.BytesIO()
    Image.fromarray(noisy.astype("uint8")).save(buffer, format="PNG")

    outcome = compare_pngs(tmp_path, render(HEIGHTS), buffer.getvalue())
    strict = compare_pngs(tmp_path, render(HEIGHTS), buffer.getvalue(), tolerance=0)

    assert outcome == RuleOutcome(equal=True, detail="0.89% of pixels differ by at most 1/255, within tolerance 4")
    assert strict.detail == "0.89% of pixels differ (max channel delta 1); threshold 0.0%" and not strict.equal


@pytest.mark.parametrize(
    ("change", "heights", "title"),
    [
        ("one bar 5% taller", [3.0, 4.5, 2.2 * 1.05, 5.1, 3.8], "n = 100"),
        ("one character of the title", HEIGHTS, "n = 101"),
    ],
)
def test_a_real_change_to_a_figure_stays_different(tmp_path: Path, change: str, heights: list, title: str) -> None:
    outcome = compare_pngs(tmp_path, render(HEIGHTS), render(heights, title))

    assert not outcome.equal, change
    assert "of pixels differ by more than 4 (max channel delta" in outcome.detail


def test_a_forged_band_of_pixels_stays_different(tmp_path: Path) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(render(HEIGHTS))).convert("RGB")).copy()
    pixels[200:210] = 255 - pixels[200:210]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")

    outcome = compare_pngs(tmp_path, render(HEIGHTS), buffer.getvalue())

    assert outcome == RuleOutcome(
        equal=False, detail="2.1% of pixels differ by more than 4 (max channel delta 255); threshold 0.0%"
    )
