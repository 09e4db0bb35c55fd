"""The HTML replay report as a reviewer sees it: real replays, rendered in headless Chromium.

Assertions are on what the browser displays (visible text, computed colours,
decoded images, layout boxes), not on the HTML source.
"""

from __future__ import annotations

import colorsys
import dataclasses
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from repropack.config import ReplaySettings
from repropack.export import export_project
from repropack.model import OutputComparison, OutputStatus, ReplayResult, Verdict
from repropack.record.report_html import render_html_report
from repropack.replay import replay_package
from tests.conftest import forge_recorded_file, isolate_user_dirs, make_project, write_notebook
from tests.replay.test_pipeline import STOCHASTIC_FIGURE

pytestmark = pytest.mark.usefixtures("docker_engine")

FORGED_CSV = b"group,n\r\na,2\r\nb,7\r\n"
WIDTH = 1280


@dataclass(frozen=True)
class Report:
    result: ReplayResult
    html: Path


@pytest.fixture(scope="module")
def reports(docker_engine, tmp_path_factory) -> dict[str, Report]:
    """One export per project and every replay this module looks at, each report written to a file."""
    base = tmp_path_factory.mktemp("report-html")
    results: dict[str, ReplayResult] = {}
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation fixture is function-scoped
        isolate_user_dirs(mp, base / "home")

        study = make_project(base / "study")
        export_project(study, base / "pkg", {})
        results["reproduced"] = replay_package(base / "pkg", ReplaySettings())
        forge_recorded_file(base / "pkg", "outputs/counts.csv", FORGED_CSV)
        results["forged"] = replay_package(base / "pkg", ReplaySettings())

        figure_study = make_project(base / "figure-study")
        write_notebook(figure_study / "analysis.ipynb", STOCHASTIC_FIGURE)
        export_project(figure_study, base / "figure-pkg", {})
        results["figure"] = replay_package(
            base / "figure-pkg", ReplaySettings(compare=("figure.png=image:threshold=0",))
        )

        failing_study = make_project(base / "failing-study")
        write_notebook(failing_study / "analysis.ipynb", "x = 1\n1 / 0")
        export_project(failing_study, base / "failing-pkg", {"execute": False})
        results["failed"] = replay_package(base / "failing-pkg", ReplaySettings())

    expected = {
        "reproduced": Verdict.REPRODUCED,
        "forged": Verdict.NOT_REPRODUCED,
        "figure": Verdict.NOT_REPRODUCED,
        "failed": Verdict.FAILED,
    }
    for name, verdict in expected.items():
        assert results[name].verdict is verdict, (name, results[name].cause, results[name].outputs)
    assert "figure.png" in results["figure"].figures

    pages = {}
    for name, result in results.items():
        html = base / f"{name}.html"
        html.write_text(render_html_report(result), encoding="utf-8")
        pages[name] = Report(result, html)
    return pages


def _open(browser, report: Report):
    browser.get(report.html.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser


def _rgb(css_colour: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", css_colour)
    assert match, css_colour
    assert match.group(4) in (None, "1"), f"{css_colour}: not opaque"
    return tuple(int(match.group(i)) for i in (1, 2, 3))


def _hue_name(rgb: tuple[int, int, int]) -> str:
    hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    if saturation < 0.3:
        return "grey"
    degrees = hue * 360
    if degrees < 15 or degrees >= 345:
        return "red"
    if 25 <= degrees < 60:
        return "amber"
    if 90 <= degrees < 165:
        return "green"
    return f"hue {degrees:.0f}"


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def luminance(rgb):
        channels = [c / 255 for c in rgb]
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _output_rows(browser) -> dict[str, dict]:
    """Each displayed row of the outputs table: its cells' visible text and elements, by output path."""
    from selenium.webdriver.common.by import By

    rows = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#outputs tbody tr"):
        assert row.is_displayed()
        cells = row.find_elements(By.TAG_NAME, "td")
        rows[cells[0].text] = {"status": cells[1].text, "rule": cells[2].text, "detail": cells[3].text, "cells": cells}
    return rows


@pytest.mark.parametrize(
    "case, words, colour",
    [
        ("reproduced", "reproduced", "green"),
        ("forged", "not reproduced", "red"),
        ("figure", "not reproduced", "red"),
        ("failed", "failed", "amber"),
    ],
)
def test_verdict_is_shown_in_words_on_a_readable_coloured_badge(browser, reports, case, words, colour):
    from selenium.webdriver.common.by import By

    verdict = _open(browser, reports[case]).find_element(By.ID, "verdict")
    assert verdict.is_displayed()
    assert verdict.text == words
    background = _rgb(verdict.value_of_css_property("background-color"))
    assert _hue_name(background) == colour, background
    assert _contrast(background, _rgb(verdict.value_of_css_property("color"))) >= 4.5  # WCAG AA
    assert verdict.size["width"] > 0 and verdict.size["height"] > 0
    assert words in browser.title


@pytest.mark.parametrize("case", ["reproduced", "forged", "figure"])
def test_outputs_table_shows_every_output_with_its_status_and_rule(browser, reports, case):
    rows = _output_rows(_open(browser, reports[case]))
    result = reports[case].result
    assert set(rows) == {o.path for o in result.outputs}
    for o in result.outputs:
        assert rows[o.path]["status"] == o.status.value, o.path
        assert rows[o.path]["rule"] == o.rule, o.path
        assert all(cell.is_displayed() for cell in rows[o.path]["cells"][:3])


def test_forged_csv_row_shows_the_diff_a_reviewer_needs(browser, reports):
    rows = _output_rows(_open(browser, reports["forged"]))
    (counts,) = [o for o in reports["forged"].result.outputs if o.path == "outputs/counts.csv"]
    assert counts.status is OutputStatus.DIFFERENT and counts.detail
    row = rows["outputs/counts.csv"]
    assert row["status"] == "different"
    detail_cell = row["cells"][3]
    assert detail_cell.is_displayed() and detail_cell.size["height"] > 0
    for line in filter(None, (line.strip() for line in counts.detail.splitlines())):
        assert line in row["detail"], f"{line!r} not displayed in {row['detail']!r}"
    assert "7" in row["detail"]
    # The status is coloured as a problem, the matching notebook is not.
    assert _hue_name(_rgb(row["cells"][1].value_of_css_property("color"))) == "red"
    assert _hue_name(_rgb(rows["analysis.ipynb"]["cells"][1].value_of_css_property("color"))) == "green"


def test_different_figure_is_shown_recorded_and_replayed_side_by_side(browser, reports):
    from selenium.webdriver.common.by import By

    _open(browser, reports["figure"])
    assert _output_rows(browser)["figure.png"]["status"] == "different"
    images = browser.find_elements(By.CSS_SELECTOR, ".figures img")
    assert len(images) == 2
    boxes = []
    for image in images:
        assert image.is_displayed()
        decoded = browser.execute_script(
            "const i = arguments[0]; return i.decode().then(() => [i.complete, i.naturalWidth, i.naturalHeight], () => [false, 0, 0]);",
            image,
        )
        assert decoded[0] and decoded[1] > 0 and decoded[2] > 0, decoded
        boxes.append(
            browser.execute_script(
                "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];", image
            )
        )
    (left_a, top_a, width_a, height_a), (left_b, top_b, width_b, height_b) = boxes
    assert abs(top_a - top_b) < 1, boxes  # one row
    assert left_b >= left_a + width_a, boxes  # side by side, not overlapping
    assert width_a == pytest.approx(width_b, abs=1) and height_a == pytest.approx(height_b, abs=1)
    # Large enough to compare by eye (the figure is 40 px: it must be scaled up, not left as a thumbnail).
    assert min(width_a, height_a) >= 200, boxes
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, ".figures figcaption")]
    assert captions[0].startswith("Recorded") and captions[1].startswith("Replayed")


def test_failed_replay_shows_its_cause_and_the_log(browser, reports):
    from selenium.webdriver.common.by import By

    _open(browser, reports["failed"])
    cause = browser.find_element(By.ID, "cause")
    assert cause.is_displayed()
    assert "cell error" in cause.text and "ZeroDivisionError" in cause.text
    assert "did not run to the end" in browser.find_element(By.TAG_NAME, "body").text
    if reports["failed"].result.log_tail.strip():
        log = browser.find_element(By.ID, "log")
        assert log.is_displayed()


@pytest.mark.parametrize("case", ["reproduced", "forged", "figure", "failed"])
def test_environment_timings_and_rules_are_shown(browser, reports, case):
    from selenium.webdriver.common.by import By

    _open(browser, reports[case])
    result = reports[case].result
    environment = browser.find_element(By.ID, "environment")
    assert environment.is_displayed()
    shown = environment.text
    assert result.backend["engine_version"] in shown
    if result.image:
        assert result.image in shown
    if result.image_id:
        assert result.image_id in shown.replace("\n", "")  # the immutable id, not only the tag
    assert "network off" in shown
    for stage in result.timings:
        assert stage in shown, stage
    assert result.started.isoformat() in shown and result.ended.isoformat() in shown
    drift = browser.find_element(By.ID, "drift")
    assert drift.is_displayed()
    for line in result.drift:
        assert line in drift.text
    if case == "figure":
        rules = browser.find_element(By.ID, "rules")
        assert rules.is_displayed()
        assert "figure.png" in rules.text and "image" in rules.text and "threshold" in rules.text


@pytest.mark.parametrize("case", ["reproduced", "forged", "figure", "failed"])
def test_page_fits_1280_px_without_horizontal_scrolling(browser, reports, case):
    _open(browser, reports[case])
    inner, client, scroll = browser.execute_script(
        "return [window.innerWidth, document.documentElement.clientWidth, document.documentElement.scrollWidth]"
    )
    assert inner == WIDTH
    assert scroll <= client, f"{case}: page is {scroll} px wide in a {client} px viewport"


def test_long_unbroken_paths_and_diffs_wrap_instead_of_widening_the_page(browser, reports, tmp_path):
    from selenium.webdriver.common.by import By

    long_path = "outputs/" + "very_long_file_name_without_any_break_" * 6 + ".csv"
    long_detail = "row 2, column 'n': '" + "7" * 400 + "' != '1' (1 cell differs)"
    result = dataclasses.replace(
        reports["forged"].result,
        outputs=[OutputComparison(long_path, OutputStatus.DIFFERENT, "csv", long_detail)],
        drift=["some-distribution-with-a-very-long-name-" * 5 + " 2.0 (recorded 1.0)"],
    )
    html = tmp_path / "long.html"
    html.write_text(render_html_report(result), encoding="utf-8")
    _open(browser, Report(result, html))
    client, scroll = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]"
    )
    assert scroll <= client, f"page is {scroll} px wide in a {client} px viewport"
    rows = _output_rows(browser)
    (shown_path,) = rows
    assert shown_path.replace("\n", "") == long_path
    assert rows[shown_path]["detail"].replace("\n", "") == long_detail
    assert browser.find_element(By.ID, "drift").is_displayed()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("case", ["reproduced", "forged", "figure", "failed"])
def test_screenshot_of_the_whole_report_is_a_real_picture(browser, reports, case, tmp_path):
    from PIL import Image

    _open(browser, reports[case])
    size = browser.get_window_size()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    inner_height = browser.execute_script("return window.innerHeight")
    browser.set_window_size(size["width"], size["height"] + max(0, height - inner_height))
    try:
        shot = tmp_path / f"report-{case}.png"
        assert browser.save_screenshot(str(shot))
    finally:
        browser.set_window_size(size["width"], size["height"])
    data = shot.read_bytes()
    width, shot_height = _png_size(data)
    assert width == WIDTH and shot_height >= height
    assert len(data) > 20_000
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50  # text, badge and tables were painted, not a blank page
    print(f"screenshot of the {case} report: {shot}")
