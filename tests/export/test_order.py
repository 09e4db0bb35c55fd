"""The run order from the files notebooks read and write: a pure function over the observed sets."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from repropack.errors import BadInput, CheckFailed
from repropack.export import export_project
from repropack.export.order import Misread, confirm, dependencies, misreads, refuse_contradicted_order, run_order
from tests.conftest import write_notebook

NAMES = ["01_analyse.ipynb", "02_prepare.ipynb"]
READS = {"01_analyse.ipynb": {"interim/clean.csv"}, "02_prepare.ipynb": {"data/raw.csv"}}
WRITES = {"01_analyse.ipynb": {"results/summary.csv"}, "02_prepare.ipynb": {"interim/clean.csv"}}


def test_the_writer_of_a_file_runs_before_its_reader_whatever_their_names():
    assert run_order(NAMES, READS, WRITES) == ["02_prepare.ipynb", "01_analyse.ipynb"]
    assert dependencies(NAMES, READS, WRITES) == {("02_prepare.ipynb", "01_analyse.ipynb"): ("interim/clean.csv",)}


def test_notebooks_the_data_does_not_order_run_by_name_whatever_order_they_come_in():
    notebooks = ["c.ipynb", "a.ipynb", "d.ipynb", "b.ipynb"]
    # d writes what a reads; nothing else is shared.
    reads = {"a.ipynb": {"x.csv"}, "b.ipynb": {"raw.csv"}}
    writes = {"d.ipynb": {"x.csv"}, "c.ipynb": {"c.txt"}}
    assert run_order(notebooks, reads, writes) == ["b.ipynb", "c.ipynb", "d.ipynb", "a.ipynb"]
    assert run_order(notebooks, {}, {}) == ["a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb"]


def test_a_chain_is_followed_through_every_step():
    notebooks = ["a.ipynb", "b.ipynb", "c.ipynb"]
    reads = {"a.ipynb": {"2.csv"}, "b.ipynb": {"1.csv"}}
    writes = {"c.ipynb": {"1.csv"}, "b.ipynb": {"2.csv"}}
    assert run_order(notebooks, reads, writes) == ["c.ipynb", "b.ipynb", "a.ipynb"]


def test_reading_ones_own_output_orders_nothing():
    notebooks = ["a.ipynb", "b.ipynb"]
    assert run_order(notebooks, {"b.ipynb": {"b.csv"}}, {"b.ipynb": {"b.csv"}}) == notebooks


def test_a_cycle_is_refused_naming_each_notebook_and_file():
    notebooks = ["a.ipynb", "b.ipynb", "c.ipynb", "z.ipynb"]
    reads = {"a.ipynb": {"from_b.csv"}, "b.ipynb": {"from_a.csv"}, "c.ipynb": {"from_a.csv"}}
    writes = {"a.ipynb": {"from_a.csv"}, "b.ipynb": {"from_b.csv"}}
    with pytest.raises(BadInput) as refused:
        run_order(notebooks, reads, writes)
    message = str(refused.value)
    assert "in a cycle" in message
    assert "a.ipynb writes from_a.csv, which b.ipynb reads" in message
    assert "b.ipynb writes from_b.csv, which a.ipynb reads" in message
    assert "z.ipynb" not in message and "c.ipynb" not in message  # downstream of the cycle, not in it


def test_a_three_notebook_cycle_is_named_in_its_reading_order():
    notebooks = ["a.ipynb", "b.ipynb", "c.ipynb"]
    reads = {"a.ipynb": {"c.csv"}, "b.ipynb": {"a.csv"}, "c.ipynb": {"b.csv"}}
    writes = {"a.ipynb": {"a.csv"}, "b.ipynb": {"b.csv"}, "c.ipynb": {"c.csv"}}
    with pytest.raises(BadInput, match="cycle") as refused:
        run_order(notebooks, reads, writes)
    steps = str(refused.value).split(": ", 1)[1].split("; ")[:3]
    assert sorted(steps) == [
        "a.ipynb writes a.csv, which b.ipynb reads",
        "b.ipynb writes b.csv, which c.ipynb reads",
        "c.ipynb writes c.csv, which a.ipynb reads",
    ]


def test_misreads_name_the_reader_the_file_and_the_later_writer():
    assert misreads(NAMES, READS, WRITES) == [Misread("01_analyse.ipynb", "interim/clean.csv", "02_prepare.ipynb")]
    assert misreads(list(reversed(NAMES)), READS, WRITES) == []
    assert (
        Misread("a.ipynb", "x.csv", "b.ipynb").describe()
        == "a.ipynb read x.csv before b.ipynb, which writes it, had run"
    )


def test_a_given_order_the_data_agrees_with_is_kept_even_when_names_would_differ():
    given = ["prepare.ipynb", "z_extra.ipynb", "analyse.ipynb"]
    reads = {"analyse.ipynb": {"interim/clean.csv"}}
    writes = {"prepare.ipynb": {"interim/clean.csv"}}
    refuse_contradicted_order(given, reads, writes)  # no error


def test_a_given_order_the_data_contradicts_is_refused_with_an_order_that_works():
    given = ["analyse.ipynb", "extra.ipynb", "prepare.ipynb"]
    reads = {"analyse.ipynb": {"interim/clean.csv"}}
    writes = {"prepare.ipynb": {"interim/clean.csv"}}
    with pytest.raises(BadInput) as refused:
        refuse_contradicted_order(given, reads, writes)
    assert str(refused.value) == (
        "the notebook order given contradicts the files the notebooks use: analyse.ipynb reads interim/clean.csv, "
        "which prepare.ipynb (given after it) writes; give "
        "--notebook extra.ipynb --notebook prepare.ipynb --notebook analyse.ipynb"
    )


def test_a_given_order_over_a_cycle_is_refused_as_a_cycle():
    reads = {"a.ipynb": {"b.csv"}, "b.ipynb": {"a.csv"}}
    writes = {"a.ipynb": {"a.csv"}, "b.ipynb": {"b.csv"}}
    with pytest.raises(BadInput, match="in a cycle"):
        refuse_contradicted_order(["a.ipynb", "b.ipynb"], reads, writes)


# --- export decides the order from what the notebooks did (real kernels, no container) ---------------

PREPARE = (
    "import csv, os\nos.makedirs('interim', exist_ok=True)\n"
    "rows = [r for r in csv.DictReader(open('data/raw.csv')) if r['amount'].strip()]\n"
    "with open('interim/clean.csv', 'w', newline='') as fh:\n"
    "    w = csv.DictWriter(fh, fieldnames=['id', 'amount'])\n    w.writeheader()\n    w.writerows(rows)",
)
ANALYSE = (
    "import csv, os\nrows = list(csv.DictReader(open('interim/clean.csv')))\nos.makedirs('results', exist_ok=True)\n"
    "total = sum(int(r['amount']) for r in rows)\n"
    "open('results/summary.txt', 'w').write(f'{len(rows)} {total}\\n')\nprint(len(rows), total)",
)


def _pipeline(root: Path, first: str, second: str) -> Path:
    """``first`` analyses what ``second`` prepares."""
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("id,amount\n1,10\n2,\n3,5\n")
    (root / "repropack.toml").write_text('title = "order"\nlicense = "MIT"\n')
    write_notebook(root / first, *ANALYSE)
    write_notebook(root / second, *PREPARE)
    return root


def _capture_json(package: Path) -> dict:
    return json.loads((package / ".repropack/capture.json").read_text())


def test_a_reader_named_before_its_writer_runs_after_it_and_the_order_is_recorded(tmp_path):
    project = _pipeline(tmp_path / "p", "01_analyse.ipynb", "02_prepare.ipynb")  # interim/ does not exist yet
    export = export_project(project, tmp_path / "pkg", {})
    assert [r.notebook for r in export.package.runs] == ["02_prepare.ipynb", "01_analyse.ipynb"]
    assert export.package.runs[1].inputs == ("interim/clean.csv",)
    assert export.package.runs[1].errors == ()
    assert _capture_json(tmp_path / "pkg")["run_order"] == {
        "notebooks": ["02_prepare.ipynb", "01_analyse.ipynb"],
        "decided_by": "data",
    }
    (warning,) = [w for w in export.warnings if "interim/clean.csv" in w]
    assert warning.startswith("01_analyse.ipynb read interim/clean.csv before 02_prepare.ipynb, which writes it")
    assert "(02_prepare.ipynb, 01_analyse.ipynb)" in warning
    assert (tmp_path / "pkg/results/summary.txt").read_text() == "2 15\n"


def test_a_stale_intermediate_left_from_an_earlier_session_is_not_what_the_package_records(tmp_path):
    project = _pipeline(tmp_path / "p", "01_analyse.ipynb", "02_prepare.ipynb")
    (project / "interim").mkdir()
    (project / "interim" / "clean.csv").write_text("id,amount\n1,999\n")  # yesterday's, before raw.csv changed
    export = export_project(project, tmp_path / "pkg", {})
    assert [r.notebook for r in export.package.runs] == ["02_prepare.ipynb", "01_analyse.ipynb"]
    assert (tmp_path / "pkg/results/summary.txt").read_text() == "2 15\n"
    packed = nbformat.read(tmp_path / "pkg/01_analyse.ipynb", as_version=4)
    assert packed.cells[0].outputs[0]["text"] == "2 15\n"
    assert any(w.startswith("01_analyse.ipynb read interim/clean.csv before 02_prepare.ipynb") for w in export.warnings)


def test_notebooks_named_in_the_data_order_run_once_with_no_warning(tmp_path):
    project = _pipeline(tmp_path / "p", "02_analyse.ipynb", "01_prepare.ipynb")
    export = export_project(project, tmp_path / "pkg", {})
    assert [r.notebook for r in export.package.runs] == ["01_prepare.ipynb", "02_analyse.ipynb"]
    assert not any("before" in w for w in export.warnings)
    assert _capture_json(tmp_path / "pkg")["run_order"]["decided_by"] == "names"


def test_a_given_order_the_data_agrees_with_is_recorded_as_given(tmp_path):
    project = _pipeline(tmp_path / "p", "analyse.ipynb", "prepare.ipynb")
    export = export_project(project, tmp_path / "pkg", {"notebooks": ("prepare.ipynb", "analyse.ipynb")})
    assert [r.notebook for r in export.package.runs] == ["prepare.ipynb", "analyse.ipynb"]
    assert _capture_json(tmp_path / "pkg")["run_order"]["decided_by"] == "given"


def test_a_given_order_the_data_contradicts_is_refused_naming_both_notebooks_and_the_file(tmp_path):
    project = _pipeline(tmp_path / "p", "analyse.ipynb", "prepare.ipynb")
    with pytest.raises(BadInput) as refused:
        export_project(project, tmp_path / "pkg", {"notebooks": ("analyse.ipynb", "prepare.ipynb")})
    assert str(refused.value) == (
        "the notebook order given contradicts the files the notebooks use: analyse.ipynb reads interim/clean.csv, "
        "which prepare.ipynb (given after it) writes; give --notebook prepare.ipynb --notebook analyse.ipynb"
    )
    assert not (tmp_path / "pkg").exists()


def test_notebooks_reading_each_others_outputs_are_refused_as_a_cycle(tmp_path):
    project = tmp_path / "p"
    write_notebook(
        project / "a.ipynb",
        "try:\n    open('b.txt').read()\nexcept FileNotFoundError:\n    pass\nopen('a.txt', 'w').write('a')",
    )
    write_notebook(project / "b.ipynb", "open('a.txt').read()\nopen('b.txt', 'w').write('b')")
    with pytest.raises(BadInput, match="in a cycle") as refused:
        export_project(project, tmp_path / "pkg", {})
    assert "a.ipynb writes a.txt, which b.ipynb reads" in str(refused.value)
    assert "b.ipynb writes b.txt, which a.ipynb reads" in str(refused.value)


def test_a_failure_no_order_explains_fails_fast_without_running_later_notebooks(tmp_path):
    project = tmp_path / "p"
    write_notebook(project / "a.ipynb", "raise ValueError('bad value')")
    write_notebook(project / "b.ipynb", "open('b_ran.txt', 'w').write('yes')")
    with pytest.raises(CheckFailed, match=r"a\.ipynb: cell 1: ValueError: bad value"):
        export_project(project, tmp_path / "pkg", {})
    assert not (project / "b_ran.txt").exists()


def test_a_missing_input_no_notebook_writes_fails_with_the_notebooks_own_error(tmp_path):
    project = tmp_path / "p"
    write_notebook(project / "a.ipynb", "open('data/never.csv').read()")
    write_notebook(project / "b.ipynb", "open('b.txt', 'w').write('b')")
    with pytest.raises(CheckFailed, match=r"a\.ipynb: cell 1: FileNotFoundError: .*data/never\.csv"):
        export_project(project, tmp_path / "pkg", {})
    assert not (tmp_path / "pkg").exists()


def test_a_second_run_whose_files_moved_again_is_refused_with_advice():
    order = ["02_prepare.ipynb", "01_analyse.ipynb"]
    confirm(order, {"01_analyse.ipynb": {"interim/clean.csv"}}, {"02_prepare.ipynb": {"interim/clean.csv"}})  # fine
    with pytest.raises(BadInput, match=r"02_prepare\.ipynb read x\.csv before 01_analyse\.ipynb.*give the order"):
        confirm(order, {"02_prepare.ipynb": {"x.csv"}}, {"01_analyse.ipynb": {"x.csv"}})
