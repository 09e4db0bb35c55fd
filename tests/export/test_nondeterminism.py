"""``export --runs 2``: every notebook runs twice, with a real kernel, and what differed is recorded.

The second run is in a scratch copy of the project made before the first, so
the project is changed once; outputs are compared under the package's own
rules, so what those rules tolerate (addresses, timings, masked text) does not
count as a difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repropack.config import resolve_settings
from repropack.crate.reader import open_package
from repropack.errors import BadInput, CheckFailed
from repropack.export import export_project
from repropack.export.nondeterminism import RunOutputs, merge_differences, run_differences, scratch_copies
from repropack.fs import tree
from repropack.model import NondeterministicOutput, NotebookRun, RunStatus, layout
from tests.conftest import write_notebook

DRAW = (
    "import random, os\nos.makedirs('results', exist_ok=True)\n"
    "xs = [random.random() for _ in range(5)]\n"
    "open('results/draws.txt', 'w').write(''.join(f'{x:.6f}\\n' for x in xs))"
)
STABLE = "open('results/summary.csv', 'w').write('n,total\\n3,16\\n')\nprint('total', 16)"
SHOW = "print(round(sum(xs) / len(xs), 6))"


def _project(root: Path, *cells: str, toml: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "repropack.toml").write_text(f'title = "{root.name}"\nlicense = "MIT"\n{toml}')
    write_notebook(root / "analysis.ipynb", *cells)
    return root


def _capture(package: Path) -> dict:
    return json.loads((package / layout.CAPTURE).read_text())


def test_runs_2_records_which_outputs_and_cells_differed_and_packs_the_first_run(tmp_path):
    project = _project(tmp_path / "draws", DRAW, STABLE, SHOW)
    result = export_project(project, tmp_path / "pkg", {"runs": 2})
    recorded = _capture(tmp_path / "pkg")["nondeterministic"]
    assert recorded["runs"] == 2
    by_path = {entry["path"]: entry for entry in recorded["outputs"]}
    # The drawn file and cell 3 (which prints the mean) differed; the stable file and cell 2 did not.
    assert set(by_path) == {"results/draws.txt", "analysis.ipynb"}
    assert by_path["analysis.ipynb"]["cells"] == [3]
    assert by_path["analysis.ipynb"]["detail"].startswith("cell 3 output 1:")
    assert by_path["results/draws.txt"]["cells"] == []
    assert by_path["results/draws.txt"]["detail"]
    # The package holds the first run: the project's own output, byte for byte.
    assert (tmp_path / "pkg/results/draws.txt").read_bytes() == (project / "results/draws.txt").read_bytes()
    summary = result.summary()
    assert summary["runs"] == 2
    assert summary["nondeterministic"] == [
        {"path": "analysis.ipynb", "cells": [3]},
        {"path": "results/draws.txt", "cells": []},
    ]
    assert json.loads((tmp_path / "pkg" / layout.SETTINGS).read_text())["runs"] == {"value": 2, "source": "flag"}


def test_the_typed_package_read_back_carries_the_runs_and_what_differed(tmp_path):
    project = _project(tmp_path / "draws", DRAW, STABLE, SHOW)
    export_project(project, tmp_path / "pkg.zip", {"runs": 2})
    with open_package(tmp_path / "pkg.zip") as opened:
        package = opened.package
    assert package.export_runs == 2
    assert [(n.path, n.cells) for n in package.nondeterministic] == [
        ("analysis.ipynb", (3,)),
        ("results/draws.txt", ()),
    ]


def test_seeded_project_run_twice_records_that_nothing_differed(tmp_path):
    project = _project(tmp_path / "seeded", "import random\nrandom.seed(42)\n" + DRAW, STABLE, SHOW)
    export_project(project, tmp_path / "pkg", {"runs": 2})
    assert _capture(tmp_path / "pkg")["nondeterministic"] == {"runs": 2, "outputs": []}
    with open_package(tmp_path / "pkg") as opened:
        assert (opened.package.export_runs, opened.package.nondeterministic) == (2, ())


def test_one_run_records_no_comparison_and_reads_back_as_one_run(tmp_path):
    project = _project(tmp_path / "draws", DRAW)
    export_project(project, tmp_path / "pkg", {})
    assert "nondeterministic" not in _capture(tmp_path / "pkg")
    with open_package(tmp_path / "pkg") as opened:
        assert (opened.package.export_runs, opened.package.nondeterministic) == (1, ())


def test_runs_setting_from_repropack_toml(tmp_path):
    project = _project(tmp_path / "draws", DRAW, toml="runs = 2\n")
    export_project(project, tmp_path / "pkg", {})
    assert _capture(tmp_path / "pkg")["nondeterministic"]["runs"] == 2
    assert json.loads((tmp_path / "pkg" / layout.SETTINGS).read_text())["runs"] == {"value": 2, "source": "project"}


def test_the_project_is_changed_once_and_the_second_run_starts_from_the_same_files(tmp_path):
    # A notebook that appends to a log and counts its own runs: run twice in one tree, it would see the first.
    project = _project(
        tmp_path / "appends",
        "import os\nseen = os.path.exists('results/log.txt')\nos.makedirs('results', exist_ok=True)\n"
        "open('results/log.txt', 'a').write('ran\\n')\nprint('log existed before:', seen)",
    )
    export_project(project, tmp_path / "pkg", {"runs": 2})
    assert (project / "results/log.txt").read_text() == "ran\n"
    assert _capture(tmp_path / "pkg")["nondeterministic"]["outputs"] == []


def test_volatile_text_and_the_scratch_folder_path_do_not_count_as_differences(tmp_path):
    project = _project(
        tmp_path / "volatile",
        "print(object())",  # a memory address: masked by the notebook rule
        "%time total = sum(range(10_000))",
        "import os\nprint(os.getcwd())\nwith open('where.txt', 'w') as fh:\n    fh.write(os.path.abspath('where.txt'))",
    )
    export_project(project, tmp_path / "pkg", {"runs": 2})
    assert _capture(tmp_path / "pkg")["nondeterministic"]["outputs"] == []
    assert (tmp_path / "pkg/where.txt").read_text() == str(project / "where.txt")


def test_a_clock_reading_within_each_run_is_no_difference(tmp_path):
    # Each run prints its own time: within its own run's window, so a clock reading, not a result.
    project = _project(tmp_path / "clock", "import datetime\nprint('finished at', datetime.datetime.now())")
    export_project(project, tmp_path / "pkg", {"runs": 2})
    assert _capture(tmp_path / "pkg")["nondeterministic"]["outputs"] == []


def test_differences_are_judged_by_the_declared_comparison_rules(tmp_path):
    stamp = "import uuid\nopen('stamp.txt', 'w').write(f'run id {uuid.uuid4()}\\ntotal 16\\n')"
    masked = '[compare]\n"stamp.txt" = { rule = "text", masks = ["run id \\\\S+"] }\n'
    strict = _project(tmp_path / "strict", stamp)
    export_project(strict, tmp_path / "strict.pkg", {"runs": 2})
    assert [e["path"] for e in _capture(tmp_path / "strict.pkg")["nondeterministic"]["outputs"]] == ["stamp.txt"]
    tolerant = _project(tmp_path / "tolerant", stamp, toml=masked)
    export_project(tolerant, tmp_path / "tolerant.pkg", {"runs": 2})
    assert _capture(tmp_path / "tolerant.pkg")["nondeterministic"]["outputs"] == []


def test_a_later_run_that_fails_names_the_run(tmp_path):
    # The first run reads a file in a hidden folder, which no package carries: the copy lacks it, as a replay would.
    project = _project(tmp_path / "hidden", "print(open('.cache/token.txt').read())")
    (project / ".cache").mkdir()
    (project / ".cache/token.txt").write_text("abc\n")
    with pytest.raises(CheckFailed, match=r"^run 2 of 2, in a scratch copy of the project, failed: analysis\.ipynb"):
        export_project(project, tmp_path / "pkg", {"runs": 2})
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize(
    "value, fragment",
    [
        (0, "setting 'runs' must be 1 or more"),
        (-1, "setting 'runs' must be 1 or more"),
        (True, "setting 'runs' must be an integer"),
        ("2", "setting 'runs' must be a int"),
        (1.5, "setting 'runs' must be a int"),
    ],
)
def test_bad_runs_setting_is_refused(tmp_path, value, fragment):
    with pytest.raises(BadInput, match=fragment):
        resolve_settings({"runs": value}, tmp_path, user={})


def test_bad_runs_in_repropack_toml_is_refused_naming_the_file(tmp_path):
    project = _project(tmp_path / "bad", DRAW, toml="runs = 0\n")
    with pytest.raises(BadInput, match=r"repropack\.toml: setting 'runs' must be 1 or more"):
        export_project(project, tmp_path / "pkg", {})


def test_runs_2_with_no_execute_is_refused_before_anything_runs(tmp_path):
    project = _project(tmp_path / "noexec", DRAW)
    with pytest.raises(BadInput, match="runs = 2 needs the notebooks executed"):
        export_project(project, tmp_path / "pkg", {"runs": 2, "execute": False})
    assert not (project / "results").exists()


def test_cli_runs_flag(tmp_path):
    project = _project(tmp_path / "draws", DRAW)
    exe = Path(sys.executable).with_name("repropack")
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [str(exe), "export", str(project), "-o", str(tmp_path / "pkg"), "--runs", "2", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    # The notebook shows nothing, so only the drawn file differs.
    assert json.loads(done.stdout)["nondeterministic"] == [{"path": "results/draws.txt", "cells": []}]
    bad = subprocess.run([str(exe), "export", str(project), "--runs", "0"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "setting 'runs' must be 1 or more" in bad.stderr


# --- the comparison itself ------------------------------------------------------------------------


def test_scratch_copies_hold_the_snapshot_and_empty_folders_and_are_removed(tmp_path):
    project = tmp_path / "proj"
    (project / "data").mkdir(parents=True)
    (project / "data/x.csv").write_text("x\n1\n")
    (project / "results").mkdir()
    snapshot = tree.snapshot(project)
    with scratch_copies(project, snapshot, ["results"], 2) as copies:
        assert [c.name for c in copies] == ["proj", "proj"] and copies[0] != copies[1]
        for copy in copies:
            assert (copy / "data/x.csv").read_text() == "x\n1\n" and (copy / "results").is_dir()
            assert not os.path.samefile(copy / "data/x.csv", project / "data/x.csv")  # copied, never linked
    assert not any(c.exists() for c in copies)
    with scratch_copies(project, snapshot, [], 0) as none:
        assert none == []


def test_a_file_only_one_run_wrote_differs(tmp_path):
    first, other = tmp_path / "a", tmp_path / "b"
    for root in (first, other):
        root.mkdir()
        (root / "same.txt").write_text("1\n")
    (first / "only-first.txt").write_text("x")

    def run(*outputs: str) -> tuple[NotebookRun, ...]:
        return (NotebookRun("nb.ipynb", "python3", "Python 3", RunStatus.COMPLETED, outputs=outputs),)

    found = run_differences(
        RunOutputs(first, {}, run("same.txt", "only-first.txt")), RunOutputs(other, {}, run("same.txt")), []
    )
    assert found == [NondeterministicOutput("only-first.txt", (), "written by the first run only")]


def test_merge_unions_cells_and_a_whole_notebook_difference_wins():
    merged = merge_differences(
        [
            [NondeterministicOutput("nb.ipynb", (3,), "cell 3 ..."), NondeterministicOutput("a.png", (), "pixels")],
            [NondeterministicOutput("nb.ipynb", (5,), "cell 5 ..."), NondeterministicOutput("b.ipynb", (), "cells")],
            [NondeterministicOutput("b.ipynb", (2,), "cell 2")],
        ]
    )
    assert merged == (
        NondeterministicOutput("a.png", (), "pixels"),
        NondeterministicOutput("b.ipynb", (), "cells"),
        NondeterministicOutput("nb.ipynb", (3, 5), "cell 3 ..."),
    )
