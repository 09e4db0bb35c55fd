"""The observer in a real kernel: what it sees, what it records, how runs fail."""

from __future__ import annotations

import pytest

from repropack.errors import BadInput, CannotRun, CheckFailed
from repropack.export.execute import execute_notebook
from tests.conftest import write_notebook


def test_reads_writes_and_imports_are_observed(tmp_path):
    (tmp_path / "in.txt").write_text("data")
    (tmp_path / "helper.py").write_text("VALUE = 3\n")
    write_notebook(
        tmp_path / "nb.ipynb",
        "import helper, json\nopen('in.txt').read()",
        "import os\nfd = os.open('raw.bin', os.O_WRONLY | os.O_CREAT)\nos.close(fd)\nopen('out.txt', 'w').write('x')",
    )
    run = execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    obs = run.observation
    root = str(tmp_path.resolve())
    assert {f"{root}/in.txt", f"{root}/helper.py"} <= obs.reads
    assert {f"{root}/out.txt", f"{root}/raw.bin"} <= obs.writes
    assert f"{root}/out.txt" not in obs.reads
    assert "helper" in obs.imported_modules
    assert "ipykernel" not in obs.imported_modules  # imported before the observer started
    assert any(d["name"].lower() == "ipykernel" for d in obs.distributions)
    assert obs.interpreter["python_version"].count(".") == 2


def test_observer_leaves_no_trace_in_the_notebook(tmp_path):
    write_notebook(
        tmp_path / "nb.ipynb", "a = 1", "print(sorted(k for k in globals() if 'rp' in k or 'repropack' in k))"
    )
    run = execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    assert [c.execution_count for c in run.notebook.cells] == [1, 2]
    assert run.notebook.cells[1].outputs[0]["text"] == "[]\n"


def test_cwd_is_the_notebook_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "local.txt").write_text("here")
    write_notebook(tmp_path / "sub" / "nb.ipynb", "print(open('local.txt').read())")
    run = execute_notebook(tmp_path, "sub/nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    assert run.notebook.cells[0].outputs[0]["text"] == "here\n"


def test_cell_error_is_check_failed_with_cell_and_exception(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "x = 1", "raise ValueError('bad value')")
    with pytest.raises(CheckFailed, match=r"nb.ipynb: cell 2: ValueError: bad value"):
        execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)


def test_cell_timeout_cannot_run(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "import time\ntime.sleep(30)")
    with pytest.raises(CannotRun, match="longer than the 2 s timeout"):
        execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=2, allow_errors=False)


def test_dead_kernel_cannot_run(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "import os\nos._exit(1)")
    with pytest.raises(CannotRun, match="kernel died"):
        execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=30, allow_errors=False)


def test_unknown_kernel_is_bad_input(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "1")
    with pytest.raises(BadInput, match="no Jupyter kernel named 'py99'"):
        execute_notebook(tmp_path, "nb.ipynb", kernel="py99", timeout=30, allow_errors=False)


def test_data_read_from_outside_the_project_is_reported(tmp_path):
    outside = tmp_path / "shared-data.csv"
    outside.write_text("a\n1\n")
    project = tmp_path / "p"
    write_notebook(project / "nb.ipynb", f"open({str(outside)!r}).read()\nimport json, csv")
    run = execute_notebook(project, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    assert run.observation.outside_reads == frozenset({str(outside)})
