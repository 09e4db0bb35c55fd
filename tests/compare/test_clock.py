"""Clock readings: dates and times an output printed while its run ran are not results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from repropack.compare.clock import is_clock_reading, readings
from repropack.compare.compare import compare_outputs
from repropack.compare.context import ComparisonContext, RunWindows, Window, cell_windows, run_windows
from repropack.compare.rules import RULES
from repropack.model import NotebookRun, OutputStatus, RunStatus

UTC = timezone.utc
# A run from 14:03:26 to 14:03:29 UTC on Tuesday 1 December 2026, and a replay years later.
RUN = Window(datetime(2026, 12, 1, 14, 3, 26, tzinfo=UTC), datetime(2026, 12, 1, 14, 3, 29, tzinfo=UTC))
REPLAY = Window(datetime(2031, 5, 6, 9, 41, 0, tzinfo=UTC), datetime(2031, 5, 6, 9, 41, 4, tzinfo=UTC))
BOTH = ComparisonContext(RUN, REPLAY)


def within(text: str, window: Window = RUN) -> list[tuple[str, bool]]:
    return [(reading.text, reading.within(window)) for _, _, reading in readings(text)]


# --- recognising readings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("Date:                Tue, 01 Dec 2026", "Tue, 01 Dec 2026"),  # statsmodels summary
        ("Time:                        14:03:27", "14:03:27"),
        ("<dc:date>2026-12-01T14:03:27.123456</dc:date>", "2026-12-01T14:03:27.123456"),  # matplotlib SVG
        ("2026-12-01 14:03:27.123456", "2026-12-01 14:03:27.123456"),  # print(datetime.now())
        ("2026-12-01 14:03:27,123 INFO fitting", "2026-12-01 14:03:27,123"),  # logging's asctime
        ("started 2026-12-01T14:03:27Z", "2026-12-01T14:03:27Z"),
        ("started 2026-12-01T15:03:27+01:00", "2026-12-01T15:03:27+01:00"),
        ("started 2026-12-01T09:03:27-0500", "2026-12-01T09:03:27-0500"),
        ("Tue Dec  1 14:03:27 2026", "Tue Dec  1 14:03:27 2026"),  # time.ctime()
        ("report of Dec 1, 2026", "Dec 1, 2026"),
        ("report of December 1 2026 14:03", "December 1 2026 14:03"),
        ("01 Dec 2026 14:03:27 +0000", "01 Dec 2026 14:03:27 +0000"),  # RFC 2822
        ("on 01/12/2026", "01/12/2026"),
        ("finished at 14:03", "14:03"),
    ],
)
def test_every_shape_printed_within_its_run_is_a_clock_reading(text: str, reading: str) -> None:
    assert within(text) == [(reading, True)]
    assert within(text, REPLAY) == [(reading, False)]


@pytest.mark.parametrize(
    "text",
    [
        "made on 2019-03-07",  # a date in the data
        "2026-11-28",  # three days before the run: no time zone makes it that day
        "finished at 14:05",  # a minute after the window, at minute precision
        "2026-12-01T14:03:31.5",  # two seconds too late, whatever the zone (offsets are whole quarter hours)
        "2026-12-01T15:03:27+00:00",  # a zone is named: exactly one moment, an hour after the run
        "Wed, 02 Dec 2026 14:03:27 +0000",
    ],
)
def test_a_date_or_time_outside_its_run_is_not_a_clock_reading(text: str) -> None:
    [(_, is_clock)] = within(text)
    assert not is_clock


def test_precision_is_what_was_printed() -> None:
    # 14:03 covers the whole minute: the window 14:03:26-14:03:29, cut to minutes, contains it.
    assert within("14:03") == [("14:03", True)]
    assert within("14:02") == [("14:02", False)]
    # A date alone covers its day; a tenth of a second covers a tenth.
    assert within("2026-12-01") == [("2026-12-01", True)]
    assert within("14:03:28.9") == [("14:03:28.9", True)]
    assert within("14:03:29.1") == [("14:03:29.1", False)]
    assert within("14:03:29") == [("14:03:29", True)]  # the second 14:03:29-14:03:30 starts at the window's end


def test_naive_times_may_be_in_any_zone_but_named_zones_are_exact() -> None:
    # The kernel printed local time at +05:30 (India) or -08:00; the window is in UTC.
    assert within("2026-12-01 19:33:27") == [("2026-12-01 19:33:27", True)]
    assert within("2026-12-01 06:03:27") == [("2026-12-01 06:03:27", True)]
    # Half past the hour is no UTC offset of a bare HH:MM, the weakest shape: whole hours only.
    assert within("19:33") == [("19:33", False)]
    assert within("2026-12-01T19:33:27+00:00") == [("2026-12-01T19:33:27+00:00", False)]


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "31/31/2026", "25:03:27", "v1.2026-12-01", "1214:03:27"])
def test_shapes_that_name_no_real_moment_are_not_readings(text: str) -> None:
    assert within(text) == []


def test_is_clock_reading_takes_a_whole_cell() -> None:
    assert is_clock_reading(" 2026-12-01 14:03:27 ", RUN)
    assert not is_clock_reading("2026-12-01 14:03:27 start", RUN)
    assert not is_clock_reading("2026-12-01 14:03:27", None)


def test_windows_need_aware_moments_in_order() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        Window(datetime(2026, 12, 1), datetime(2026, 12, 2))
    with pytest.raises(ValueError, match="before it starts"):
        Window(RUN.end, RUN.start)


# --- where windows come from --------------------------------------------------------------------


def timed_cell(source: str, *outputs, started: str | None = None, ended: str | None = None):
    cell = new_code_cell(source, outputs=list(outputs), execution_count=1)
    if started and ended:
        cell.metadata["execution"] = {
            "iopub.status.busy": started,
            "iopub.execute_input": started,
            "shell.execute_reply": ended,
            "iopub.status.idle": ended,
        }
    return cell


def test_a_cells_window_runs_from_the_notebooks_first_timestamp_to_the_cells_end() -> None:
    cells = [
        new_code_cell("import x"),  # no timestamps: the run's window
        timed_cell("t0 = now()", started="2026-12-01T14:03:26.100000Z", ended="2026-12-01T14:03:26.200000Z"),
        timed_cell("fit()", started="2026-12-01T14:03:26.300000Z", ended="2026-12-01T14:03:28.000000Z"),
    ]

    windows = cell_windows(cells, fallback=REPLAY)

    second = timedelta(seconds=1)
    assert windows[0] is REPLAY
    assert windows[1] == Window(datetime(2026, 12, 1, 14, 3, 26, 100000, tzinfo=UTC) - second, windows[1].end)
    assert windows[2].start == windows[1].start  # a cell may print a moment an earlier cell took
    assert windows[2].end == datetime(2026, 12, 1, 14, 3, 28, tzinfo=UTC) + second


def test_run_windows_come_from_the_package_and_the_replayed_notebooks(tmp_path: Path) -> None:
    replayed = new_notebook(
        cells=[timed_cell("x", started="2031-05-06T09:41:01.000000Z", ended="2031-05-06T09:41:02.500000Z")]
    )
    nbformat.write(replayed, tmp_path / "a.ipynb")
    runs = (
        NotebookRun("a.ipynb", "python3", "Python 3", RunStatus.COMPLETED, RUN.start, RUN.end, (), ("out/a.svg",)),
        NotebookRun("b.ipynb", "python3", "Python 3", RunStatus.COMPLETED, RUN.end, RUN.end + timedelta(seconds=5)),
    )

    windows = run_windows(runs, tmp_path, REPLAY)

    second = timedelta(seconds=1)
    a = windows.context("out/a.svg")
    assert a.recorded == Window(RUN.start - second, RUN.end + second)
    assert a.replayed == Window(
        datetime(2031, 5, 6, 9, 41, 0, tzinfo=UTC), datetime(2031, 5, 6, 9, 41, 3, 500000, tzinfo=UTC)
    )
    # b.ipynb was not replayed (no notebook in the work dir): the whole replay's window.
    assert windows.context("b.ipynb").replayed == REPLAY
    # A path no run names: the span of every run.
    assert windows.context("elsewhere.txt").recorded == Window(RUN.start - second, RUN.end + 6 * second)


# --- the rules ------------------------------------------------------------------------------------

SUMMARY = """                            OLS Regression Results
==============================================================================
Dep. Variable:                 claims   R-squared:                       0.912
Model:                            OLS   Adj. R-squared:                  0.901
Date:                {date}   Prob (F-statistic):           2.35e-05
Time:                        {time}   Log-Likelihood:                -12.702
No. Observations:                  10   AIC:                             29.40
==============================================================================
                 coef    std err          t      P>|t|      [0.025      0.975]
------------------------------------------------------------------------------
const          {const}      0.409      5.111      0.001       1.147       3.033
x              0.5213      0.057      9.146      0.000       0.390       0.653
=============================================================================="""


def summary(date: str, time: str, const: str = "2.0899") -> str:
    return SUMMARY.format(date=date, time=time, const=const)


def summary_notebooks(tmp_path: Path, recorded: str, produced: str, timed: bool = True) -> tuple[Path, Path]:
    paths = []
    for side, text, (start, end) in (
        ("recorded", recorded, ("2026-12-01T14:03:26.5Z", "2026-12-01T14:03:27.5Z")),
        ("produced", produced, ("2031-05-06T09:41:01.5Z", "2031-05-06T09:41:02.5Z")),
    ):
        result = new_output("execute_result", data={"text/plain": text}, execution_count=1)
        cell = timed_cell("model.fit().summary()", result, started=start, ended=end) if timed else None
        nb = new_notebook(cells=[cell or new_code_cell("model.fit().summary()", outputs=[result])])
        path = tmp_path / side / "fit.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths[0], paths[1]


def test_notebook_rule_masks_a_summarys_date_and_time_by_each_cells_own_timestamps(tmp_path: Path) -> None:
    recorded, produced = summary_notebooks(
        tmp_path, summary("Tue, 01 Dec 2026", "14:03:27"), summary("Tue, 06 May 2031", "09:41:02")
    )

    outcome = RULES.get("notebook")().compare(recorded, produced)

    assert outcome.equal, outcome.detail
    assert "2 clock readings within each run's window masked" in outcome.detail


def test_notebook_rule_compares_a_date_outside_the_run_and_a_changed_coefficient(tmp_path: Path) -> None:
    forged_date = summary_notebooks(
        tmp_path / "date", summary("Mon, 07 Mar 2019", "14:03:27"), summary("Tue, 06 May 2031", "09:41:02")
    )
    forged_coefficient = summary_notebooks(
        tmp_path / "coef",
        summary("Tue, 01 Dec 2026", "14:03:27", const="2.0899"),
        summary("Tue, 06 May 2031", "09:41:02", const="2.0900"),
    )

    date = RULES.get("notebook")().compare(*forged_date)
    coefficient = RULES.get("notebook")().compare(*forged_coefficient)

    assert not date.equal
    assert date.detail.startswith("cell 1 output 1 text/plain: line 5: 'Date:                Mon, 07 Mar 2019")
    assert not coefficient.equal
    assert coefficient.detail.startswith("cell 1 output 1 text/plain: line 11: 'const          2.0899")


def test_notebook_rule_without_timestamps_or_windows_recognises_no_clock_reading(tmp_path: Path) -> None:
    pair = summary_notebooks(
        tmp_path, summary("Tue, 01 Dec 2026", "14:03:27"), summary("Tue, 06 May 2031", "09:41:02"), timed=False
    )

    assert not RULES.get("notebook")().compare(*pair).equal
    # The run windows compare_outputs passes stand in for the cells' own timestamps.
    assert RULES.get("notebook")().compare_in(*pair, BOTH).equal
    assert not RULES.get("notebook")(clock=False).compare_in(*pair, BOTH).equal


SVG = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="460.8pt" height="345.6pt" version="1.1">
 <metadata>
  <rdf:RDF xmlns:dc="http://purl.org/dc/elements/1.1/">
   <cc:Work>
    <dc:date>{date}</dc:date>
    <dc:creator><cc:Agent><dc:title>Matplotlib v3.11.2, https://matplotlib.org/</dc:title></cc:Agent></dc:creator>
   </cc:Work>
  </rdf:RDF>
 </metadata>
 <path d="M 57.6 307.584 L 414.72 307.584 L 414.72 41.472 z" clip-path="url(#p{clip})" style="fill: #1f77b4"/>
 <defs><path id="m{marker}" d="M 0 0 L 0 3.5" style="stroke: #000000"/></defs>
 <use xlink:href="#m{marker}" x="{x}" y="307.584" style="stroke: #000000"/>
</svg>
"""


def svg(date: str, clip: str, marker: str, x: str = "73.832727") -> str:
    return SVG.format(date=date, clip=clip, marker=marker, x=x)


def put_pair(tmp_path: Path, name: str, recorded: str, produced: str) -> tuple[Path, Path]:
    for side, text in (("recorded", recorded), ("produced", produced)):
        (tmp_path / side).mkdir(parents=True, exist_ok=True)
        (tmp_path / side / name).write_text(text)
    return tmp_path / "recorded" / name, tmp_path / "produced" / name


def test_text_rule_masks_an_svgs_dc_date_and_matplotlibs_random_ids(tmp_path: Path) -> None:
    recorded, produced = put_pair(
        tmp_path,
        "fig.svg",
        svg("2026-12-01T14:03:27.123456", "cf746ecc4d", "12182799ac"),
        svg("2031-05-06T09:41:02.654321", "147704d3f2", "978c9f4ffd"),
    )

    outcome = RULES.get("text")().compare_in(recorded, produced, BOTH)

    assert outcome.equal, outcome.detail
    assert "1 clock reading within each run's window masked" in outcome.detail
    assert "only masked text differs, on 3 lines" in outcome.detail
    # The ids are masked in markup only; the date needs the windows.
    assert not RULES.get("text")().compare(recorded, produced).equal


def test_text_rule_compares_an_svg_dated_outside_its_run_and_a_moved_mark(tmp_path: Path) -> None:
    old = svg("2026-12-01T14:03:27.123456", "cf746ecc4d", "12182799ac")
    forged = put_pair(tmp_path / "d", "fig.svg", old, svg("2030-01-01T00:00:00", "147704d3f2", "978c9f4ffd"))
    moved = put_pair(tmp_path / "m", "fig.svg", old, svg("2031-05-06T09:41:02.6", "147704d3f2", "978c9f4ffd", x="75.1"))

    date = RULES.get("text")().compare_in(*forged, BOTH)
    mark = RULES.get("text")().compare_in(*moved, BOTH)

    assert not date.equal and "+    <dc:date>2030-01-01T00:00:00</dc:date>" in date.detail
    assert not mark.equal and 'x="75.1"' in mark.detail
    assert "dc:date" not in mark.detail  # the tolerated date line is shown as recorded, not as a change


def test_text_rule_masks_log_timestamps_of_datetime_now(tmp_path: Path) -> None:
    recorded, produced = put_pair(
        tmp_path,
        "run.log",
        "2026-12-01 14:03:27,101 INFO start\n2026-12-01 14:03:28,733 INFO rows=120 mean=0.5213\n",
        "2031-05-06 09:41:01,002 INFO start\n2031-05-06 09:41:03,950 INFO rows=120 mean=0.5213\n",
    )

    assert RULES.get("text")().compare_in(recorded, produced, BOTH).equal
    changed = put_pair(
        tmp_path / "changed",
        "run.log",
        "2026-12-01 14:03:27,101 INFO rows=120\n",
        "2031-05-06 09:41:01,002 INFO rows=121\n",
    )
    assert RULES.get("text")().compare_in(*changed, BOTH).detail.splitlines()[1:] == [
        "-2026-12-01 14:03:27,101 INFO rows=120",
        "+2031-05-06 09:41:01,002 INFO rows=121",
    ]


def test_csv_rule_masks_timestamp_cells_within_each_run(tmp_path: Path) -> None:
    recorded, produced = put_pair(
        tmp_path, "t.csv", "id,made\n1,2026-12-01 14:03:27\n", "id,made\n1,2031-05-06T09:41:02+00:00\n"
    )

    masked = RULES.get("csv")().compare_in(recorded, produced, BOTH)

    assert masked.equal and masked.detail == "1 clock reading within each run's window masked"
    assert not RULES.get("csv")().compare(recorded, produced).equal
    assert not RULES.get("csv")(clock=False).compare_in(recorded, produced, BOTH).equal
    data = put_pair(tmp_path / "data", "t.csv", "id,made\n1,2019-03-07\n", "id,made\n1,2031-05-06\n")
    assert RULES.get("csv")().compare_in(*data, BOTH).detail == (
        "row 1, column 'made': '2019-03-07' != '2031-05-06' (1 cell differs)"
    )


def test_compare_outputs_gives_each_file_the_window_of_the_run_that_wrote_it(tmp_path: Path) -> None:
    import hashlib

    recorded, produced = put_pair(tmp_path, "stamp.txt", "made 2026-12-01 14:03:27\n", "made 2031-05-06 09:41:02\n")
    digest = hashlib.sha256(recorded.read_bytes()).hexdigest()
    windows = RunWindows(recorded={"stamp.txt": RUN}, replayed={"stamp.txt": REPLAY})

    [masked] = compare_outputs(
        tmp_path / "recorded", tmp_path / "produced", {"stamp.txt": digest}, ["stamp.txt"], [], windows
    )
    [strict] = compare_outputs(tmp_path / "recorded", tmp_path / "produced", {"stamp.txt": digest}, ["stamp.txt"], [])
    swapped = RunWindows(recorded={"stamp.txt": REPLAY}, replayed={"stamp.txt": RUN})
    [crossed] = compare_outputs(
        tmp_path / "recorded", tmp_path / "produced", {"stamp.txt": digest}, ["stamp.txt"], [], swapped
    )

    assert masked.status is OutputStatus.EQUIVALENT
    assert strict.status is OutputStatus.DIFFERENT
    assert crossed.status is OutputStatus.DIFFERENT  # each side's reading must be within its own run
