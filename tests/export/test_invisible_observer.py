"""Export's observer is invisible: every notebook shows what a bare nbclient run of it shows.

Each probe notebook prints something a cell can observe about the machinery
around it (warnings attributed by ``stacklevel``, tracebacks, the call stack,
``__import__``, ``sys.modules``, ``builtins``, execution counts) and must give
exactly the same outputs under export as under plain ``nbclient`` from the
same starting tree, in the same venv. No container is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from repropack.export.execute import CellFailed, execute_notebook
from tests.bare_nbclient import compare_with_bare, export_beside_bare_run, shown
from tests.conftest import write_notebook

LEGACY = (
    "import warnings\n\n"
    "warnings.warn(\n"
    "    'mylib.legacy will change in a future version; use mylib.modern',\n"
    "    DeprecationWarning,\n"
    "    stacklevel=2,\n"
    ")\n\n"
    "def old_mean(values):\n"
    "    warnings.warn('old_mean is deprecated', FutureWarning, stacklevel=2)\n"
    "    return sum(values) / len(values)\n"
)

STACK_PROBE = (
    "import inspect, sys\n\n"
    "AT_IMPORT = [f.function for f in inspect.stack()]\n"
    "CALLER = sys._getframe(1).f_code.co_name\n"
    "CALLER_GLOBALS = sys._getframe(1).f_globals.get('__name__')\n\n"
    "def depth():\n"
    "    return len(inspect.stack())\n"
)

BROKEN = "import json\n\nSETTINGS = json.loads('{not json')\n"


def _probe_project(root: Path) -> Path:
    files = {
        "mylib/__init__.py": "",
        "mylib/legacy.py": LEGACY,
        "mylib/stackprobe.py": STACK_PROBE,
        "mylib/broken.py": BROKEN,
        # imported by another project module: stacklevel=2 points at mylib/uses_legacy.py, not __main__
        "mylib/uses_legacy.py": "from mylib import legacy\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "repropack.toml").write_text('title = "probes"\nlicense = "MIT"\n')
    return root


OBSERVER = "'repro' + 'pack'"  # built at run time, so the probe cell's own source does not match itself

PROBES = {
    "warnings.ipynb": (
        "import mylib.legacy  # warns at import with stacklevel=2: attributed to this cell, so shown",
        "import mylib.legacy as legacy  # already imported: no second warning",
        "import sys\n"
        "del sys.modules['mylib.legacy'], sys.modules['mylib'].legacy\n"
        "import mylib.uses_legacy  # imported again by a module of the library: attributed to it, so hidden",
        "legacy.old_mean([1, 2, 3])",
        "import warnings\nwarnings.warn('shown from __main__', DeprecationWarning)",
        "import warnings\nwith warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    del sys.modules['mylib.legacy'], sys.modules['mylib'].legacy\n"
        "    from mylib import legacy\n"
        "print([(w.category.__name__, w.filename.rsplit('/', 1)[-1][:9], w.lineno) for w in caught])",
    ),
    "stack.ipynb": (
        "import mylib.stackprobe as probe\nprint(probe.CALLER, probe.CALLER_GLOBALS)",
        "print(probe.AT_IMPORT)",
        "print(probe.depth())",
        "import inspect, sys\nprint(len(inspect.stack()), sys._getframe(0).f_code.co_name)",
        "def f():\n    return sys._getframe(1).f_globals['__name__'], sys._getframe(1).f_code.co_name\nprint(f())",
    ),
    "identity.ipynb": (
        "import builtins, sys\n"
        "imp = builtins.__import__\n"
        "print(type(imp).__name__, imp.__module__, imp.__qualname__, imp is __builtins__.__import__)",
        f"name = {OBSERVER}\n"
        "print(sorted(m for m in sys.modules if name in m.lower() or 'observer' in m.lower()))\n"
        "print(sorted(n for n in dir(builtins) if name in n.lower()))\n"
        "print(sorted(k for k in globals() if k.startswith('_rp') or name in k.lower()))",
        f"import linecache\nname = {OBSERVER}\n"
        "print(sum(name in ''.join(entry[2]) for entry in linecache.cache.values() if len(entry) == 4))",
        "import json, csv  # stdlib modules the kernel may or may not have loaded already\n"
        "print(sorted(m for m in ('platform', 'dis', 'importlib.metadata', 'json', 'csv') if m in sys.modules))",
        "get_ipython().execution_count, len(In), len(Out)",
        "print(sys.gettrace(), sys.getprofile())",
    ),
    "errors.ipynb": (
        "import mylib.broken",
        "from mylib import nothing_here",
        "import no_such_module_anywhere",
        "def fails():\n    raise ValueError('bad value in a cell')\nfails()",
        "print('after the errors')",
    ),
}


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    root = tmp_path_factory.mktemp("invisible")
    project = _probe_project(root / "probes")
    for name, cells in PROBES.items():
        write_notebook(project / name, *cells)
    export, twins = export_beside_bare_run(project, root / "pkg", root / "scratch", allow_errors=True)
    return export, {twin.notebook: twin for twin in twins}


@pytest.mark.parametrize("notebook", sorted(PROBES))
def test_probe_notebook_shows_exactly_what_a_bare_nbclient_run_shows(probed, notebook):
    _, twins = probed
    twin = twins[notebook]
    assert shown(twin.exported) == shown(twin.bare)
    outcome = compare_with_bare([twin])[notebook]
    assert outcome.equal, outcome.detail


# --- what the observer still sees, without a wrapper --------------------------------------------


def test_imports_of_modules_preloaded_by_a_startup_file_are_seen_in_cells_functions_and_project_modules(
    tmp_path, monkeypatch
):
    # A startup file loads the modules before the observer starts, so sys.modules does not change
    # when the notebook imports them: only the import statements the notebook ran can tell.
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-imports.py").write_text("import colorsys, fractions, wave, sched\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    project = tmp_path / "p"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "__init__.py").write_text("from . import sub\n")
    (project / "pkg" / "sub.py").write_text("import wave\n")
    write_notebook(
        project / "nb.ipynb",
        "import colorsys",
        "def later():\n    from fractions import Fraction\n    return Fraction(1, 3)\nlater()",
        "import pkg",
        "%run -i script.py",
    )
    (project / "script.py").write_text("import sched\n")
    run = execute_notebook(project, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    imported = run.observation.imported_modules
    assert {"colorsys", "fractions", "wave", "sched", "pkg"} <= imported
    assert "" not in imported  # `from . import sub` is relative, not a module named ''
    assert "ipykernel" not in imported and "IPython" not in imported


def test_a_module_only_a_startup_file_imported_is_not_the_notebooks(tmp_path, monkeypatch):
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-imports.py").write_text("import colorsys\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    write_notebook(tmp_path / "p" / "nb.ipynb", "import json\nprint(colorsys.rgb_to_hsv(1, 0, 0))")
    run = execute_notebook(tmp_path / "p", "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    assert "json" in run.observation.imported_modules
    assert "colorsys" not in run.observation.imported_modules


def test_reads_of_missing_files_and_reads_before_own_writes_are_consumed(tmp_path):
    project = tmp_path / "p"
    (project / "data").mkdir(parents=True)
    (project / "data" / "raw.csv").write_text("a\n1\n")
    write_notebook(
        project / "nb.ipynb",
        "open('data/raw.csv').read()",
        "open('interim.csv', 'w').write('x')\nopen('interim.csv').read()",  # its own output read back
        "try:\n    open('missing.csv').read()\nexcept FileNotFoundError:\n    pass",
        "open('scratch.txt', 'w+').read()",  # truncated before it is read: needs nothing
    )
    run = execute_notebook(project, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    root = project.resolve()
    obs = run.observation
    assert {str(root / n) for n in ("data/raw.csv", "interim.csv", "missing.csv", "scratch.txt")} <= obs.reads
    assert obs.consumed == {str(root / "data/raw.csv"), str(root / "missing.csv")}


def test_a_failed_cell_keeps_what_the_run_observed_up_to_it(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "import csv", "open('interim/clean.csv').read()", "print('never')")
    with pytest.raises(CellFailed, match=r"nb\.ipynb: cell 2: FileNotFoundError") as failed:
        execute_notebook(tmp_path, "nb.ipynb", kernel="python3", timeout=60, allow_errors=False)
    assert failed.value.notebook == "nb.ipynb"
    assert failed.value.observation.consumed == {str(tmp_path.resolve() / "interim/clean.csv")}
    assert "csv" in failed.value.observation.imported_modules


# --- gallery shapes: export's executed notebooks equal bare nbclient's, by the notebook rule ----------------


def _gallery_pipeline(root: Path) -> None:
    from tests.test_gallery import ANALYSE, PREPARE, RAW

    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(RAW)
    write_notebook(root / "01_prepare.ipynb", *PREPARE)
    write_notebook(root / "02_analyse.ipynb", *ANALYSE)


def _gallery_local_package(root: Path) -> None:
    from tests.test_gallery import LOCAL_PACKAGE

    for rel, text in LOCAL_PACKAGE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    write_notebook(
        root / "notebooks" / "analysis.ipynb",
        "import sys\nsys.path.insert(0, '../src')\nimport mylib",
        "values = [float(v) for v in open('../data/values.txt')]\nprint(mylib.mean(values))",
    )


def _gallery_timings(root: Path) -> None:
    write_notebook(
        root / "timing.ipynb",
        "%time total = sum(range(100_000))",
        "%timeit -n 3 -r 2 sorted(range(1000))",
        "print(object())",
        "class Model:\n    pass\nModel()",
        "print(total)",
        "import warnings\nwarnings.warn('this API will change', FutureWarning)",
    )


def _gallery_preloaded_by_startup(root: Path) -> None:
    from tests.test_gallery import THIRD_PARTY_CELLS

    write_notebook(root / "analysis.ipynb", *THIRD_PARTY_CELLS)


@pytest.mark.parametrize(
    "build", [_gallery_pipeline, _gallery_local_package, _gallery_timings, _gallery_preloaded_by_startup]
)
def test_gallery_shaped_notebooks_under_export_equal_a_bare_nbclient_run(build, tmp_path, monkeypatch):
    startup = tmp_path / "ipython" / "profile_default" / "startup"  # as analysts have it: usual imports preloaded
    startup.mkdir(parents=True)
    (startup / "00-imports.py").write_text("import mdurl, json\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "repropack.toml").write_text('title = "gallery"\nlicense = "MIT"\n')
    build(project)
    export, twins = export_beside_bare_run(project, tmp_path / "pkg", tmp_path / "scratch")
    assert twins and len(twins) == len(export.package.runs)
    outcomes = compare_with_bare(twins)
    assert all(o.equal for o in outcomes.values()), {n: o.detail for n, o in outcomes.items()}
