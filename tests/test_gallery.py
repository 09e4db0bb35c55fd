"""A gallery of small, messy, real-world project shapes, exported and replayed in a real container.

Each case builds its project in tmp_path, exports it with ``export_project``
and replays the package with ``replay_package``, then asserts the verdict a
careful reviewer would give (or the failure a careful reviewer would expect)
and one more fact such a reviewer would check.

CI time: an image is built per distinct lock, so the cases keep to two locks.
Most notebooks use the standard library only and declare nothing, so their
lock is the runtime closure (ipykernel, nbclient, nbformat) and they share one
image (``_assert_runtime_only_lock`` guards that). The cases that need a
third-party distribution all declare and import ``mdurl``: tiny, pure Python,
no dependencies, and always installed beside repropack (rich -> markdown-it-py
-> mdurl), but outside the kernel's runtime closure, so declaring it really
changes the lock. ``six`` and ``packaging`` are not used because both are
already in the runtime closure (python-dateutil needs six; ipykernel needs
packaging), so "the lock pins six" would hold whatever the project declared.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from repropack.config import ReplaySettings
from repropack.errors import CheckFailed
from repropack.export import ExportResult, export_project
from repropack.model import FileRole, OutputStatus, ReplayResult, Verdict
from repropack.model.lock import parse_lock
from repropack.replay import replay_package
from tests.conftest import forge_recorded_file, write_notebook
from tests.replay.test_pipeline import STOCHASTIC_FIGURE

pytestmark = pytest.mark.usefixtures("docker_engine")

THIRD_PARTY = "mdurl"  # the one third-party distribution the gallery uses (see the module docstring)
LOCK = ".repropack/requirements.lock.txt"


# --- helpers ------------------------------------------------------------------------------------


def _project(root: Path, files: dict[str, str] | None = None, compare: str = "") -> Path:
    """A project folder with a repropack.toml and the given text files."""
    root.mkdir(parents=True)
    (root / "repropack.toml").write_text(f'title = "{root.name}"\nlicense = "MIT"\n{compare}')
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _export(project: Path, out: Path, **flags) -> ExportResult:
    return export_project(project, out, flags)


def _replay(package: Path, **options) -> ReplayResult:
    return replay_package(package, ReplaySettings(**options))


def _assert_reproduced(result: ReplayResult) -> dict[str, OutputStatus]:
    assert result.verdict is Verdict.REPRODUCED, (
        result.cause,
        [(o.path, o.status, o.detail) for o in result.outputs],
        result.log_tail,
    )
    return {o.path: o.status for o in result.outputs}


def _roles(export: ExportResult) -> dict[str, FileRole]:
    return {f.path: f.role for f in export.package.files}


def _with_role(export: ExportResult, role: FileRole) -> set[str]:
    return {path for path, r in _roles(export).items() if r is role}


def _lock_text(package: Path) -> str:
    return (package / LOCK).read_text()


def _pins(package: Path) -> list[str]:
    """Each pinned distribution of the package's lock as ``name==version  # reasons`` (hashes left out)."""
    return [f"{d.name}=={d.version}  # {', '.join(d.reasons)}" for d in parse_lock(_lock_text(package)) if not d.local]


def _assert_runtime_only_lock(package: Path) -> None:
    """Nothing declared or imported: the lock is the runtime closure every stdlib case shares (one image)."""
    reasons = {reason.strip() for line in _pins(package) for reason in line.split("#", 1)[1].split(",")}
    assert reasons <= {"runtime", "dependency"}, _lock_text(package)
    assert not any(line.lower().startswith(THIRD_PARTY + "==") for line in _pins(package))


def _third_party_line(export: ExportResult) -> str:
    (dist,) = [d for d in export.package.environment.lock if d.name.lower() == THIRD_PARTY]
    return f"{dist.name}=={dist.version}  # declared, imported"


THIRD_PARTY_CELLS = (
    f"import os, {THIRD_PARTY}\n"
    f"parts = {THIRD_PARTY}.parse('https://example.org/data/claims.csv?v=2')\n"
    "os.makedirs('results', exist_ok=True)\n"
    "with open('results/host.txt', 'w') as fh:\n"
    "    fh.write(parts.hostname + '\\n')",
    "print(parts.hostname, parts.pathname)",
)


# --- 1. environment.yml with a pip section --------------------------------------------------------


def test_environment_yml_with_a_pip_section_reproduces_and_pins_the_pip_requirement(tmp_path):
    project = _project(
        tmp_path / "condaproj",
        {
            "environment.yml": (
                "name: claims\n"
                "channels:\n  - conda-forge\n"
                "dependencies:\n"
                "  - python=3.11\n"
                "  - pip\n"
                "  - pip:\n"
                f"    - {THIRD_PARTY}\n"
            ),
        },
    )
    write_notebook(project / "analysis.ipynb", *THIRD_PARTY_CELLS)
    export = _export(project, tmp_path / "pkg")
    # Reviewer: the pip entry is pinned at the installed version; conda's python/pip are tooling, not requirements.
    assert _third_party_line(export) in _pins(tmp_path / "pkg")
    assert not any(line.startswith(("python==", "pip==")) for line in _pins(tmp_path / "pkg"))
    assert (tmp_path / "pkg" / ".repropack/env/environment.yml").read_text() == (
        project / "environment.yml"
    ).read_text()
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/host.txt"] is OutputStatus.IDENTICAL


# --- 2. Pipfile ----------------------------------------------------------------------------------


def test_pipfile_packages_reproduce_and_dev_packages_stay_out_of_the_lock(tmp_path):
    project = _project(
        tmp_path / "pipenvproj",
        {
            "Pipfile": (
                '[[source]]\nurl = "https://pypi.org/simple"\nverify_ssl = true\nname = "pypi"\n\n'
                f'[packages]\n{THIRD_PARTY} = "*"\n\n'
                '[dev-packages]\npytest = "*"\n\n'
                '[requires]\npython_version = "3.11"\n'
            ),
        },
    )
    write_notebook(project / "analysis.ipynb", *THIRD_PARTY_CELLS)
    export = _export(project, tmp_path / "pkg")
    lock = _lock_text(tmp_path / "pkg")
    assert _third_party_line(export) in _pins(tmp_path / "pkg")
    # Reviewer: pytest is installed here but only a dev-package; the replay image must not carry it.
    assert not any(line.lower().startswith("pytest==") for line in _pins(tmp_path / "pkg")), lock
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/host.txt"] is OutputStatus.IDENTICAL


def test_module_preloaded_by_an_ipython_startup_file_is_still_locked(tmp_path, monkeypatch):
    # Common among analysts: ~/.ipython/profile_default/startup/00-imports.py imports their usual libraries.
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-imports.py").write_text(f"import {THIRD_PARTY}\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    project = _project(tmp_path / "startupproj")
    write_notebook(project / "analysis.ipynb", *THIRD_PARTY_CELLS)
    export = _export(project, tmp_path / "pkg")
    # Checked before replaying, so the known failure costs no container run.
    assert any(d.name.lower() == THIRD_PARTY and "imported" in d.reasons for d in export.package.environment.lock), (
        _lock_text(tmp_path / "pkg")
    )
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/host.txt"] is OutputStatus.IDENTICAL


# --- 3. a local package declared in pyproject.toml ------------------------------------------------

LOCAL_PACKAGE = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "mylib"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n\n'
        '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    ),
    "src/mylib/__init__.py": "from .stats import mean\n\n__all__ = ['mean']\n",
    "src/mylib/stats.py": "def mean(values):\n    values = list(values)\n    return sum(values) / len(values)\n",
    "data/values.txt": "3\n5\n10\n",
}


def test_local_package_imported_through_a_path_tweak_reproduces_with_its_sources_as_inputs(tmp_path):
    project = _project(tmp_path / "srclayout", LOCAL_PACKAGE)
    write_notebook(
        project / "analysis.ipynb",
        "import sys\nsys.path.insert(0, 'src')\nimport mylib",
        "import os\nvalues = [float(v) for v in open('data/values.txt')]\n"
        "os.makedirs('results', exist_ok=True)\n"
        "open('results/mean.txt', 'w').write(f'{mylib.mean(values):.3f}\\n')",
        "print(mylib.mean(values))",
    )
    export = _export(project, tmp_path / "pkg")
    # Reviewer: the library's sources travel as inputs (its pyproject is never built), and the
    # lock stays the runtime closure: mylib is no distribution, and pyproject declares nothing.
    inputs = _with_role(export, FileRole.INPUT)
    assert {"src/mylib/__init__.py", "src/mylib/stats.py", "data/values.txt"} <= inputs
    assert (tmp_path / "pkg" / ".repropack/env/pyproject.toml").is_file()
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/mean.txt"] is OutputStatus.IDENTICAL


def test_local_package_only_declared_in_pyproject_fails_the_export_as_not_importable(tmp_path):
    project = _project(tmp_path / "srclayout", LOCAL_PACKAGE)
    write_notebook(project / "analysis.ipynb", "import mylib\nprint(mylib.mean([1, 2]))")
    # The package is not installed in the kernel and the notebook does not put src/ on the path,
    # so the notebook cannot run here: a reviewer expects the export to refuse, naming why.
    with pytest.raises(CheckFailed, match=r"analysis\.ipynb: cell 1: ModuleNotFoundError: No module named 'mylib'"):
        _export(project, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


# --- 4. a local module beside the notebook ----------------------------------------------------------


def test_local_helpers_module_beside_the_notebook_is_packed_as_an_input_and_reproduces(tmp_path):
    project = _project(
        tmp_path / "helpersproj",
        {
            "helpers.py": "import csv\n\ndef load(path):\n    with open(path, newline='') as fh:\n        return list(csv.DictReader(fh))\n",
            "data/input.csv": "id,group\n1,a\n2,b\n3,a\n",
        },
    )
    write_notebook(
        project / "analysis.ipynb",
        "import helpers, collections, os\nrows = helpers.load('data/input.csv')",
        "os.makedirs('outputs', exist_ok=True)\ncounts = collections.Counter(r['group'] for r in rows)\n"
        "open('outputs/counts.txt', 'w').write(''.join(f'{k} {v}\\n' for k, v in sorted(counts.items())))",
    )
    export = _export(project, tmp_path / "pkg")
    assert _roles(export)["helpers.py"] is FileRole.INPUT
    assert (tmp_path / "pkg" / "helpers.py").read_bytes() == (project / "helpers.py").read_bytes()
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["outputs/counts.txt"] is OutputStatus.IDENTICAL


# --- 5. data in subfolders read by relative paths ---------------------------------------------------


def test_data_in_subfolders_read_by_relative_paths_are_the_inputs_and_nothing_else(tmp_path):
    project = _project(
        tmp_path / "subdata",
        {
            "data/raw/a.csv": "code,amount\nA1,10\nB2,5\nA1,7\n",
            "data/raw/unused.csv": "code,amount\nZZ,1\n",  # in the project, never read
            "data/ref/codes.json": json.dumps({"A1": "asthma", "B2": "bronchitis"}),
            "README.md": "# a study\n",
        },
    )
    write_notebook(
        project / "analysis.ipynb",
        "import csv, json, pathlib\n"
        "codes = json.loads(pathlib.Path('data/ref/codes.json').read_text())\n"
        "with open('data/raw/a.csv', newline='') as fh:\n"
        "    rows = list(csv.DictReader(fh))",
        "totals = {}\nfor r in rows:\n    totals[codes[r['code']]] = totals.get(codes[r['code']], 0) + int(r['amount'])\n"
        "pathlib.Path('results').mkdir(exist_ok=True)\n"
        "pathlib.Path('results/totals.json').write_text(json.dumps(totals, sort_keys=True))\n"
        "totals",
    )
    export = _export(project, tmp_path / "pkg")
    # Reviewer: exactly the two files the notebook read are inputs; the unread file and the README are not.
    assert _with_role(export, FileRole.INPUT) == {"data/raw/a.csv", "data/ref/codes.json"}
    assert _roles(export)["data/raw/unused.csv"] is FileRole.OTHER
    assert export.package.runs[0].inputs == ("data/raw/a.csv", "data/ref/codes.json")
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/totals.json"] is OutputStatus.IDENTICAL


# --- 6. a notebook in a subfolder -----------------------------------------------------------------


def test_notebook_in_a_subfolder_reading_and_writing_through_parent_paths_reproduces(tmp_path):
    project = _project(tmp_path / "nbfolder", {"data/x.csv": "x\n1\n2\n3\n4\n"})
    write_notebook(
        project / "notebooks" / "analysis.ipynb",
        "import csv, os\nxs = [int(r['x']) for r in csv.DictReader(open('../data/x.csv'))]",
        "os.makedirs('../results', exist_ok=True)\n"
        "with open('../results/y.csv', 'w', newline='') as fh:\n"
        "    w = csv.writer(fh)\n    w.writerow(['x', 'y'])\n    w.writerows([x, x * x] for x in xs)",
        "print(os.getcwd().endswith('notebooks'), sum(xs))",
    )
    export = _export(project, tmp_path / "pkg")
    (run,) = export.package.runs
    # Reviewer: paths are recorded relative to the project, not to the notebook's folder.
    assert (run.notebook, run.inputs, run.outputs) == ("notebooks/analysis.ipynb", ("data/x.csv",), ("results/y.csv",))
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["results/y.csv"] is OutputStatus.IDENTICAL
    assert statuses["notebooks/analysis.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)


def test_notebook_writing_into_an_output_folder_that_existed_empty_reproduces(tmp_path):
    # Common in working copies: results/ was made by hand (or by a Makefile) and the notebook just writes into it.
    project = _project(tmp_path / "emptyfolder", {"data/x.csv": "x\n1\n2\n"})
    (project / "results").mkdir()
    write_notebook(
        project / "notebooks" / "analysis.ipynb",
        "xs = [int(line) for line in open('../data/x.csv').read().split()[1:]]\n"
        "open('../results/y.csv', 'w').write(''.join(f'{x},{x * x}\\n' for x in xs))",
    )
    export = _export(project, tmp_path / "pkg")
    assert export.package.runs[0].outputs == ("results/y.csv",)
    result = _replay(tmp_path / "pkg")
    assert result.verdict is Verdict.REPRODUCED, result.cause
    assert {o.path: o.status for o in result.outputs}["results/y.csv"] is OutputStatus.IDENTICAL


# --- 7. several notebooks, one reading what another wrote ---------------------------------------------

PREPARE = (
    "import csv, os\nos.makedirs('interim', exist_ok=True)\n"
    "rows = [r for r in csv.DictReader(open('data/raw.csv')) if r['amount'].strip()]\n"
    "with open('interim/clean.csv', 'w', newline='') as fh:\n"
    "    w = csv.DictWriter(fh, fieldnames=['id', 'amount'])\n    w.writeheader()\n    w.writerows(rows)",
)
ANALYSE = (
    "import csv, os\nrows = list(csv.DictReader(open('interim/clean.csv')))\nos.makedirs('results', exist_ok=True)\n"
    "with open('results/summary.csv', 'w', newline='') as fh:\n"
    "    csv.writer(fh).writerows([['n', 'total'], [len(rows), sum(int(r['amount']) for r in rows)]])",
)
RAW = "id,amount\n1,10\n2,\n3,5\n4, \n5,7\n"


def test_pipeline_of_notebooks_replays_in_recorded_order_with_the_intermediate_as_output_then_input(tmp_path):
    project = _project(tmp_path / "pipeline", {"data/raw.csv": RAW})
    write_notebook(project / "01_prepare.ipynb", *PREPARE)
    write_notebook(project / "02_analyse.ipynb", *ANALYSE)
    export = _export(project, tmp_path / "pkg")
    first, second = export.package.runs
    assert (first.notebook, second.notebook) == ("01_prepare.ipynb", "02_analyse.ipynb")
    assert first.outputs == ("interim/clean.csv",) and first.inputs == ("data/raw.csv",)
    assert second.inputs == ("interim/clean.csv",) and second.outputs == ("results/summary.csv",)
    assert _roles(export)["interim/clean.csv"] is FileRole.OUTPUT
    _assert_runtime_only_lock(tmp_path / "pkg")
    result = _replay(tmp_path / "pkg")
    assert result.notebooks == ("01_prepare.ipynb", "02_analyse.ipynb")
    statuses = _assert_reproduced(result)
    assert statuses["interim/clean.csv"] is OutputStatus.IDENTICAL
    assert statuses["results/summary.csv"] is OutputStatus.IDENTICAL


def test_pipeline_given_in_a_non_alphabetical_order_replays_in_that_order(tmp_path):
    # Real projects rarely number their notebooks: the researcher names the order at export.
    project = _project(tmp_path / "pipeline", {"data/raw.csv": RAW})
    write_notebook(project / "prepare.ipynb", *PREPARE)
    write_notebook(project / "analyse.ipynb", *ANALYSE)
    _export(project, tmp_path / "pkg", notebooks=("prepare.ipynb", "analyse.ipynb"))
    result = _replay(tmp_path / "pkg")
    # Alphabetical order would run analyse.ipynb first, before interim/clean.csv exists.
    assert result.notebooks == ("prepare.ipynb", "analyse.ipynb")
    statuses = _assert_reproduced(result)
    assert statuses["results/summary.csv"] is OutputStatus.IDENTICAL


# --- 8. a seeded random figure ---------------------------------------------------------------------


def test_seeded_random_figure_is_identical(tmp_path):
    project = _project(tmp_path / "figure")
    write_notebook(project / "analysis.ipynb", "import random\nrandom.seed(42)", STOCHASTIC_FIGURE)
    export = _export(project, tmp_path / "pkg")
    assert _roles(export)["figure.png"] is FileRole.OUTPUT
    _assert_runtime_only_lock(tmp_path / "pkg")
    result = _replay(tmp_path / "pkg")
    _assert_reproduced(result)
    (figure,) = [o for o in result.outputs if o.path == "figure.png"]
    # Reviewer: byte-identical, decided by digest; no tolerance was needed, so no side-by-side figure.
    assert (figure.status, figure.rule) == (OutputStatus.IDENTICAL, "sha256")
    assert result.figures == {}


# --- 9. output embedding the current date -------------------------------------------------------------

DATE_MASKS = (
    "[compare]\n"
    '"results/stamp.txt" = { rule = "text", masks = ["\\\\d{4}-\\\\d{2}-\\\\d{2}"] }\n'
    '"*.ipynb" = { rule = "notebook", masks = ["\\\\d{2}:\\\\d{2}:\\\\d{2}(\\\\.\\\\d+)?"] }\n'
)


def test_dated_output_is_reproduced_under_a_date_mask_and_not_without_it(tmp_path):
    project = _project(tmp_path / "dated", {"data/n.txt": "41\n"}, compare=DATE_MASKS)
    write_notebook(
        project / "report.ipynb",
        "import datetime, os\nn = int(open('data/n.txt').read()) + 1\nos.makedirs('results', exist_ok=True)\n"
        "with open('results/stamp.txt', 'w') as fh:\n"
        "    fh.write(f'answer: {n}\\nmade on {datetime.date.today()}\\n')",
        "print('finished at', datetime.datetime.now().time())",
    )
    _export(project, tmp_path / "pkg")
    recorded = (tmp_path / "pkg" / "results/stamp.txt").read_text()
    assert recorded.startswith("answer: 42\nmade on ")
    # Make the date really differ: the record says the package was made years ago.
    forge_recorded_file(tmp_path / "pkg", "results/stamp.txt", b"answer: 42\nmade on 2019-03-07\n")

    masked = _replay(tmp_path / "pkg")
    statuses = _assert_reproduced(masked)
    assert statuses["results/stamp.txt"] is OutputStatus.EQUIVALENT
    (stamp,) = [o for o in masked.outputs if o.path == "results/stamp.txt"]
    assert stamp.rule == "text" and "only masked text differs, on 1 line" in stamp.detail
    assert statuses["report.ipynb"] is OutputStatus.EQUIVALENT  # the printed time is masked too

    strict = _replay(tmp_path / "pkg", compare=("results/stamp.txt=text",))
    assert strict.verdict is Verdict.NOT_REPRODUCED
    (stamp,) = [o for o in strict.outputs if o.path == "results/stamp.txt"]
    assert stamp.status is OutputStatus.DIFFERENT
    # Reviewer: the diff names the old date and only that line; the answer itself still matches.
    assert "-made on 2019-03-07" in stamp.detail
    assert not any(line.startswith(("-answer", "+answer")) for line in stamp.detail.splitlines())
    assert {o.path: o.status for o in strict.outputs}["report.ipynb"] is OutputStatus.EQUIVALENT


# --- 10. a published notebook with a stale kernelspec ----------------------------------------------------


def test_published_notebook_with_a_stale_python2_kernelspec_runs_on_python3_and_reproduces(tmp_path):
    project = _project(tmp_path / "published")
    # As found in old repositories: nbformat 4.2, no cell ids, kernelspec python2, no
    # language_info, and saved outputs from a run long ago.
    published = {
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {"kernelspec": {"name": "python2", "display_name": "Python 2", "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Squares"]},
            {
                "cell_type": "code",
                "execution_count": 57,
                "metadata": {},
                "source": ["squares = [i * i for i in range(5)]\n", "print(squares)"],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["stale output from 2016\n"]}],
            },
            {
                "cell_type": "code",
                "execution_count": 58,
                "metadata": {},
                "source": ["sum(squares)"],
                "outputs": [],
            },
        ],
    }
    (project / "squares.ipynb").write_text(json.dumps(published, indent=1))
    export = _export(project, tmp_path / "pkg")
    (run,) = export.package.runs
    assert run.kernel_name == "python3"
    packed = nbformat.read(tmp_path / "pkg" / "squares.ipynb", as_version=4)
    # Reviewer: the packed notebook names the kernel that ran it and holds this run's outputs.
    assert packed.metadata.kernelspec.name == "python3"
    assert packed.metadata.language_info.name == "python"
    assert packed.cells[1].outputs[0].text == "[0, 1, 4, 9, 16]\n"
    assert packed.cells[2].outputs[0].data["text/plain"] == "30"
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    assert statuses["squares.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)


# --- 11. volatile text: timings and memory addresses ------------------------------------------------------


def test_timings_and_memory_addresses_in_outputs_are_masked_by_the_notebook_rule(tmp_path):
    project = _project(tmp_path / "volatile")
    write_notebook(
        project / "timing.ipynb",
        "%time total = sum(range(100_000))",
        "%timeit -n 3 -r 2 sorted(range(1000))",
        "print(object())",
        "class Model:\n    pass\nModel()",
        "# NBVAL_IGNORE_OUTPUT\nimport time\nt0 = time.perf_counter()\nsorted(range(10_000))\n"
        "print(f'took {time.perf_counter() - t0:.6f} s')",
        "print(total)",
    )
    _export(project, tmp_path / "pkg")
    packed = nbformat.read(tmp_path / "pkg" / "timing.ipynb", as_version=4)
    assert "Wall time" in "".join(o.get("text", "") for o in packed.cells[0].outputs)
    assert "object at 0x" in packed.cells[2].outputs[0].text
    _assert_runtime_only_lock(tmp_path / "pkg")
    result = _replay(tmp_path / "pkg")
    statuses = _assert_reproduced(result)
    (notebook,) = [o for o in result.outputs if o.path == "timing.ipynb"]
    # Reviewer: equivalent (not identical: addresses and timings did change), and the hand-timed
    # cell was ignored because the researcher marked it, not silently.
    assert statuses["timing.ipynb"] is OutputStatus.EQUIVALENT, notebook.detail
    assert notebook.rule == "notebook"
    assert "outputs ignored by nbval marker: cell 5" in notebook.detail


# --- issue 11, classes 1 and 7: pandas + matplotlib projects (one shared image, see the preamble) ------------

DATAFRAME_REQUIREMENTS = "pandas\nmatplotlib\n"  # every such gallery project declares exactly this

LEGACY_PROJECT = {
    "requirements.txt": DATAFRAME_REQUIREMENTS,
    "mylib/__init__.py": '"""Helpers of the sales study."""\n',
    "mylib/legacy.py": (
        '"""Group totals, the old way: kept for the notebooks that still use it."""\n\n'
        "import warnings\n\n"
        "warnings.warn(\n"
        '    "mylib.legacy will change in a future version: group_totals will return a DataFrame; use mylib.totals",\n'
        "    DeprecationWarning,\n"
        "    stacklevel=2,\n"
        ")\n\n\n"
        "def group_totals(frame, by, column):\n"
        "    return frame.groupby(by)[column].sum().sort_index()\n"
    ),
    "data/sales.csv": (
        "month,region,amount\n2024-01,north,120\n2024-01,south,80\n2024-02,north,95\n"
        "2024-02,south,130\n2024-03,north,101\n2024-03,south,77\n"
    ),
}
LEGACY_CELLS = (
    "import pandas as pd\nimport matplotlib\nimport mylib.legacy as legacy",
    "sales = pd.read_csv('data/sales.csv')\ntotals = legacy.group_totals(sales, 'region', 'amount')\ntotals",
    "import os\nos.makedirs('results', exist_ok=True)\ntotals.to_csv('results/totals.csv')\nprint(totals.sum())",
)
FIGURE_CELLS = (
    "import os\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "sales = pd.read_csv('data/sales.csv')\nmonthly = sales.groupby('month')['amount'].sum()\nmonthly.describe()",
    "os.makedirs('results', exist_ok=True)\nfig, ax = plt.subplots(figsize=(4, 3))\nmonthly.plot.bar(ax=ax)\n"
    "ax.set_ylabel('amount')\nfig.savefig('results/monthly.png', dpi=80)\nplt.show()",
)


def _exported_beside_bare(tmp: Path, project: Path) -> tuple[ExportResult, list]:
    from tests.bare_nbclient import export_beside_bare_run

    return export_beside_bare_run(project, tmp / "pkg", tmp / "scratch")


def _forged_copy(package: Path, target: Path, path: str, old: bytes, new: bytes) -> Path:
    import shutil

    shutil.copytree(package, target)
    data = (target / path).read_bytes()
    assert data.count(old) == 1, (path, old)
    forge_recorded_file(target, path, data.replace(old, new))
    return target


def _assert_only_the_forged_output_differs(result: ReplayResult, forged: str, untouched: str) -> None:
    assert result.verdict is Verdict.NOT_REPRODUCED, result.cause
    statuses = {o.path: o.status for o in result.outputs}
    assert statuses[forged] is OutputStatus.DIFFERENT
    assert statuses[untouched] is OutputStatus.IDENTICAL


@pytest.fixture(scope="module")
def legacy_warning_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("legacy")
    project = _project(tmp / "legacyproj", LEGACY_PROJECT)
    write_notebook(project / "analysis.ipynb", *LEGACY_CELLS)
    write_notebook(project / "figure.ipynb", *FIGURE_CELLS)
    export, twins = _exported_beside_bare(tmp, project)
    return tmp / "pkg", export, twins, _replay(tmp / "pkg")


@pytest.mark.slow
def test_a_deprecation_warning_raised_while_a_notebook_imports_its_library_is_recorded_as_bare_nbclient_shows_it(
    legacy_warning_case,
):
    from tests.bare_nbclient import compare_with_bare, shown

    package, export, twins, result = legacy_warning_case
    packed = nbformat.read(package / "analysis.ipynb", as_version=4)
    (warning,) = packed.cells[0].outputs
    # Reviewer: the warning is where a plain run shows it, attributed to the importing cell (stacklevel=2).
    assert (warning.output_type, warning.name) == ("stream", "stderr")
    assert "DeprecationWarning: mylib.legacy will change in a future version" in warning.text
    assert "import mylib.legacy as legacy" in warning.text
    (analysis,) = [t for t in twins if t.notebook == "analysis.ipynb"]
    assert shown(analysis.exported) == shown(analysis.bare)
    outcomes = compare_with_bare(twins)
    assert set(outcomes) == {"analysis.ipynb", "figure.ipynb"}
    assert all(o.equal for o in outcomes.values()), {n: o.detail for n, o in outcomes.items()}
    lock = {d.name.lower(): d.reasons for d in export.package.environment.lock}
    assert {"declared", "imported"} <= set(lock["pandas"]) and {"declared", "imported"} <= set(lock["matplotlib"])
    statuses = _assert_reproduced(result)
    assert statuses["analysis.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
    assert statuses["results/totals.csv"] is OutputStatus.IDENTICAL


@pytest.mark.slow
def test_a_forged_total_in_the_warning_case_is_not_reproduced_naming_the_notebook(legacy_warning_case, tmp_path):
    forged = _forged_copy(
        legacy_warning_case[0], tmp_path / "forged", "analysis.ipynb", b"north    316", b"north    317"
    )
    _assert_only_the_forged_output_differs(_replay(forged), "analysis.ipynb", "results/totals.csv")


ORDER_PROJECT = {
    "requirements.txt": DATAFRAME_REQUIREMENTS,
    "data/raw.csv": "id,region,amount\n1,north,10\n2,south,\n3,north,5\n4,south,12\n5,north,\n6,south,7\n",
}
ORDER_PREPARE = (
    "import os\nimport pandas as pd\nimport matplotlib",
    "raw = pd.read_csv('data/raw.csv')\nclean = raw.dropna(subset=['amount'])\n"
    "os.makedirs('interim', exist_ok=True)\nclean.to_csv('interim/clean.csv', index=False)\nprint(len(raw), len(clean))",
)
ORDER_ANALYSE = (
    "import os\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "clean = pd.read_csv('interim/clean.csv')\nsummary = clean.groupby('region')['amount'].agg(['count', 'sum'])\nsummary",
    "os.makedirs('results', exist_ok=True)\nsummary.to_csv('results/summary.csv')\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\nsummary['sum'].plot.bar(ax=ax)\nfig.savefig('results/summary.png', dpi=80)\n"
    "plt.close(fig)",
)


@pytest.fixture(scope="module")
def data_order_case(tmp_path_factory):
    # The analysis was written first and numbered 01; the cleaning step came later as 02. A fresh
    # checkout has no interim/ folder, so name order would fail on a missing file.
    tmp = tmp_path_factory.mktemp("order")
    project = _project(tmp / "orderproj", ORDER_PROJECT)
    write_notebook(project / "01_analyse.ipynb", *ORDER_ANALYSE)
    write_notebook(project / "02_prepare.ipynb", *ORDER_PREPARE)
    export, twins = _exported_beside_bare(tmp, project)
    return tmp / "pkg", export, twins, _replay(tmp / "pkg")


@pytest.mark.slow
def test_notebooks_named_against_their_data_flow_run_and_replay_in_the_order_the_files_need(data_order_case):
    from tests.bare_nbclient import compare_with_bare

    package, export, twins, result = data_order_case
    order = ("02_prepare.ipynb", "01_analyse.ipynb")
    assert tuple(r.notebook for r in export.package.runs) == order
    prepare, analyse = export.package.runs
    assert prepare.outputs == ("interim/clean.csv",) and analyse.inputs == ("interim/clean.csv",)
    assert analyse.errors == ()
    # Reviewer: the export says it reordered, naming the reader, the file and the writer.
    assert any(
        w.startswith("01_analyse.ipynb read interim/clean.csv before 02_prepare.ipynb, which writes it")
        for w in export.warnings
    ), export.warnings
    capture = json.loads((package / ".repropack/capture.json").read_text())
    assert capture["run_order"] == {"notebooks": list(order), "decided_by": "data"}
    outcomes = compare_with_bare(twins)  # the bare runs follow the recorded order from the same tree
    assert all(o.equal for o in outcomes.values()), {n: o.detail for n, o in outcomes.items()}
    assert result.notebooks == order
    statuses = _assert_reproduced(result)
    assert statuses["interim/clean.csv"] is OutputStatus.IDENTICAL
    assert statuses["results/summary.csv"] is OutputStatus.IDENTICAL


@pytest.mark.slow
def test_the_data_order_case_shares_the_dataframe_image_with_the_warning_case(data_order_case, legacy_warning_case):
    assert _lock_text(data_order_case[0]) == _lock_text(legacy_warning_case[0])


@pytest.mark.slow
def test_a_forged_intermediate_in_the_data_order_case_is_not_reproduced_naming_it(data_order_case, tmp_path):
    forged = _forged_copy(data_order_case[0], tmp_path / "forged", "interim/clean.csv", b"4,south,12", b"4,south,13")
    _assert_only_the_forged_output_differs(_replay(forged), "interim/clean.csv", "results/summary.csv")


# --- issue 11, classes 3 and 4: clock readings, random ids, progress, numbers as numbers ---------------

CLOCK_PROJECT = {
    "requirements.txt": DATAFRAME_REQUIREMENTS,
    "data/claims.csv": "x,claims\n1,3.1\n2,4.9\n3,7.2\n4,8.8\n5,11.1\n6,13.2\n7,14.8\n8,17.1\n9,19.0\n10,21.2\n",
}
# statsmodels is not in the lock: the summary is printed with pandas and numpy in statsmodels' shape,
# Date: and Time: lines included, and also saved as a text file (the text rule's clock readings).
SUMMARY_CELLS = (
    "import datetime, math, os\nimport numpy as np\nimport pandas as pd\nimport matplotlib",
    "def ols_summary(frame, target, regressor):\n"
    "    y = frame[target].to_numpy(float)\n"
    "    X = np.column_stack([np.ones(len(frame)), frame[regressor].to_numpy(float)])\n"
    "    coef, *_ = np.linalg.lstsq(X, y, rcond=None)\n"
    "    resid = y - X @ coef\n"
    "    n, k = X.shape\n"
    "    se = np.sqrt(np.diag(resid @ resid / (n - k) * np.linalg.inv(X.T @ X)))\n"
    "    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))\n"
    "    now = datetime.datetime.now()\n"
    "    rule = '=' * 78\n"
    "    lines = ['OLS Regression Results'.center(78), rule,\n"
    "             f\"{'Dep. Variable:':<16}{target:>22}   {'R-squared:':<20}{r2:>17.3f}\",\n"
    "             f\"{'Model:':<16}{'OLS':>22}   {'No. Observations:':<20}{n:>17d}\",\n"
    "             f\"{'Date:':<16}{now.strftime('%a, %d %b %Y'):>22}   {'Df Residuals:':<20}{n - k:>17d}\",\n"
    "             f\"{'Time:':<16}{now.strftime('%H:%M:%S'):>22}   {'Df Model:':<20}{k - 1:>17d}\",\n"
    "             rule, f\"{'':<10}{'coef':>10}{'std err':>11}{'t':>11}{'P>|t|':>11}\", '-' * 78]\n"
    "    for name, c, s in zip(['const', regressor], coef, se):\n"
    "        p = math.erfc(abs(c / s) / math.sqrt(2))\n"
    "        lines.append(f'{name:<10}{c:>10.4f}{s:>11.3f}{c / s:>11.3f}{p:>11.3f}')\n"
    "    return '\\n'.join(lines + [rule])",
    "claims = pd.read_csv('data/claims.csv')\nsummary = ols_summary(claims, 'claims', 'x')\nprint(summary)",
    "os.makedirs('results', exist_ok=True)\nwith open('results/summary.txt', 'w') as fh:\n    fh.write(summary + '\\n')",
)
# The figure notebook first shows progress the way tqdm, dask and Keras print it (here on stdout, without
# those libraries in the lock), with rates and timings that differ on every run; then it saves its figure.
PLOT_CELLS = (
    "import os, sys, time\nimport pandas as pd\nimport matplotlib.pyplot as plt\nframe = pd.DataFrame({'x': range(100)})",
    "total, start = 0, time.perf_counter()\n"
    "for i, value in enumerate(frame['x'], start=1):\n"
    "    total += value\n"
    "    time.sleep(0.001)\n"
    "    if i % 25 == 0:\n"
    "        rate = i / (time.perf_counter() - start)\n"
    "        bar = '█' * (i // 10) + ' ' * (10 - i // 10)\n"
    "        sys.stdout.write(f'\\r{i:3d}%|{bar}| {i}/100 [00:00<00:00, {rate:.1f}it/s]')\n"
    "sys.stdout.write('\\n')\nprint('total', total)",
    "start = time.perf_counter()\nsquares = frame['x'].map(lambda v: v * v).sum()\nelapsed = time.perf_counter() - start\n"
    "print(f\"[{'#' * 40}] | 100% Completed | {elapsed * 1000:.2f} ms\")\n"
    "print('Epoch 1/1')\n"
    "print(f'32/32 [==============================] - 0s {elapsed * 1e6 / 32:.0f}us/step - loss: 0.6931')\n"
    "print('sum of squares', squares)",
    "claims = pd.read_csv('data/claims.csv')\nfig, ax = plt.subplots(figsize=(4, 3))\n"
    "ax.plot(claims['x'], claims['claims'], 'o-')\nax.bar(claims['x'], claims['claims'] / 4, color='tab:orange')\n"
    "ax.set_xlabel('month'); ax.set_ylabel('claims')\nos.makedirs('results', exist_ok=True)\n"
    "fig.savefig('results/figure.svg')  # carries <dc:date> and ids matplotlib draws at random\n"
    "fig.savefig('results/figure.png', dpi=80)\nplt.show()",
    # An interactive chart the way plotly, bokeh and widget libraries show one: an object whose HTML is a
    # div with a fresh uuid4 (no IPython import, which would change the shared lock).
    "import uuid\n\n\nclass Chart:\n    def __init__(self, values):\n        self.id, self.values = uuid.uuid4(), values\n\n"
    "    def _repr_html_(self):\n"
    '        return (f\'<div id="{self.id}" class="plotly-graph-div"></div>\'\n'
    "                f'<script>Plotly.newPlot(\"{self.id}\", {self.values})</script>')\n\n\n"
    "Chart(claims['claims'].tolist())",
)
NUMERIC_CELLS = (
    "import numpy as np\nimport pandas as pd\nimport matplotlib\nnp.set_printoptions(precision=2)",
    "x = pd.Series([0.5, 1.5, 2.5, 3.5, 4.5, 7.5])\nX = np.column_stack([np.ones(len(x)), x])\ny = 2 * x.to_numpy() + 1\n"
    "coef, *_ = np.linalg.lstsq(X, y, rcond=None)\nresid = y - X @ coef\n"
    "print(f'slope {coef[1]:.4f}, intercept {coef[0]:.4f}')",
    "np.column_stack([y, resid])  # fitted values beside residuals that are zero up to rounding",
)


@pytest.fixture(scope="module")
def clock_and_numbers_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clock")
    project = _project(tmp / "claimsproj", CLOCK_PROJECT)
    write_notebook(project / "summary.ipynb", *SUMMARY_CELLS)
    write_notebook(project / "plot.ipynb", *PLOT_CELLS)
    write_notebook(project / "numeric.ipynb", *NUMERIC_CELLS)
    export = _export(project, tmp / "pkg")
    return tmp / "pkg", export, _replay(tmp / "pkg")


def _output_text(package: Path, notebook: str, cell: int) -> str:
    outputs = nbformat.read(package / notebook, as_version=4).cells[cell].outputs
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def _by_path(result: ReplayResult) -> dict[str, tuple[OutputStatus, str]]:
    return {o.path: (o.status, o.detail) for o in result.outputs}


@pytest.mark.slow
def test_clock_readings_random_ids_progress_and_rounding_noise_are_reproduced(clock_and_numbers_case):
    import re

    package, export, result = clock_and_numbers_case
    # Reviewer: the case really prints clock readings, random ids and progress, or it proves nothing.
    summary = _output_text(package, "summary.ipynb", 2)
    (run,) = [r for r in export.package.runs if r.notebook == "summary.ipynb"]
    days = {f"{moment.astimezone():%a, %d %b %Y}" for moment in (run.start_time, run.end_time)}
    assert re.search(rf"Date:\s+({'|'.join(days)})   ", summary), summary
    assert re.search(r"Time:\s+\d\d:\d\d:\d\d   ", summary)
    assert "<dc:date>" in (package / "results/figure.svg").read_text()
    assert re.search(r"-?\d\.\d\de-1[4-7]", _output_text(package, "numeric.ipynb", 2))
    assert "it/s]" in _output_text(package, "plot.ipynb", 1)
    assert "% Completed |" in _output_text(package, "plot.ipynb", 2)
    chart = nbformat.read(package / "plot.ipynb", as_version=4).cells[4].outputs[0].data["text/html"]
    assert re.search(r'<div id="[0-9a-f-]{36}" class="plotly-graph-div">', chart), chart
    statuses = _assert_reproduced(result)
    outputs = _by_path(result)
    # The replay ran later: its Date/Time, dc:date, SVG ids and progress timings differ, and are masked.
    assert outputs["summary.ipynb"][0] is OutputStatus.EQUIVALENT
    # Time: always differs; Date: too when the replay runs on another day.
    assert re.search(r"[12] clock readings? within each run's window masked", outputs["summary.ipynb"][1])
    assert outputs["results/summary.txt"][0] is OutputStatus.EQUIVALENT
    assert "clock reading" in outputs["results/summary.txt"][1]
    assert outputs["results/figure.svg"][0] is OutputStatus.EQUIVALENT
    assert "1 clock reading within each run's window masked" in outputs["results/figure.svg"][1]
    assert statuses["results/figure.png"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
    assert statuses["plot.ipynb"] is OutputStatus.EQUIVALENT  # the progress reports' timings differ
    assert statuses["numeric.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)


@pytest.mark.slow
def test_the_clock_case_shares_the_dataframe_image_with_the_warning_case(clock_and_numbers_case, legacy_warning_case):
    assert _lock_text(clock_and_numbers_case[0]) == _lock_text(legacy_warning_case[0])


def _forge_notebook_output(package: Path, notebook: str, cell: int, change) -> bytes:
    """The notebook's bytes with ``change`` applied to the text of one cell's outputs."""
    nb = nbformat.read(package / notebook, as_version=4)
    for output in nb.cells[cell].outputs:
        if "text" in output:
            output.text = change(output.text)
        elif "text/plain" in output.get("data", {}):
            output.data["text/plain"] = change(output.data["text/plain"])
    forged = nbformat.writes(nb).encode() + b"\n"
    assert forged != (package / notebook).read_bytes()
    return forged


@pytest.mark.slow
def test_cpu_rounding_noise_in_a_recorded_array_is_equivalent_with_the_deviation_reported(
    clock_and_numbers_case, tmp_path
):
    import re
    import shutil

    package, _, _ = clock_and_numbers_case
    shutil.copytree(package, tmp_path / "noisy")

    def other_cpu(text: str) -> str:  # every residue -1.78e-15 becomes -9.79e-16, as on another BLAS
        return re.sub(r"-?\d\.\d\de-1[4-7]", lambda m: f"{float(m.group()) * 0.55:.2e}", text)

    forge_recorded_file(
        tmp_path / "noisy", "numeric.ipynb", _forge_notebook_output(package, "numeric.ipynb", 2, other_cpu)
    )
    result = _replay(tmp_path / "noisy")
    _assert_reproduced(result)
    status, detail = _by_path(result)["numeric.ipynb"]
    assert status is OutputStatus.EQUIVALENT
    assert re.search(r"\d+ numbers? differs? by at most \d\.\d+e-1[4-7] at cell 3 output 1", detail), detail


@pytest.mark.slow
def test_forged_date_coefficient_digit_and_pixels_are_each_not_reproduced_naming_the_output(
    clock_and_numbers_case, tmp_path
):
    import io
    import re
    import shutil

    import numpy as np
    from PIL import Image

    package, _, _ = clock_and_numbers_case
    forged = tmp_path / "forged"
    shutil.copytree(package, forged)

    # A date outside the run's window, in the notebook's summary.
    def stale(text: str) -> str:
        return re.sub(r"Date:(\s+)\w{3}, \d\d \w{3} \d{4}", r"Date:\1Mon, 07 Mar 2019", text)

    forge_recorded_file(forged, "summary.ipynb", _forge_notebook_output(package, "summary.ipynb", 2, stale))
    # One coefficient changed in the saved summary.
    text = (package / "results/summary.txt").read_text()
    slope = re.search(r"^x\s+(\d+\.\d{4})", text, re.MULTILINE).group(1)
    bumped = f"{float(slope) + 0.0001:.4f}"
    forge_recorded_file(forged, "results/summary.txt", text.replace(slope, bumped, 1).encode())
    # A real digit change in the numeric notebook.
    forge_recorded_file(
        forged,
        "numeric.ipynb",
        _forge_notebook_output(package, "numeric.ipynb", 1, lambda t: t.replace("slope 2.0000", "slope 2.0001")),
    )
    # A band of pixels in the figure.
    with Image.open(package / "results/figure.png") as image:
        pixels = np.asarray(image.convert("RGB")).copy()
    pixels[100:106] = 255 - pixels[100:106]
    band = io.BytesIO()
    Image.fromarray(pixels).save(band, format="PNG")
    forge_recorded_file(forged, "results/figure.png", band.getvalue())

    result = _replay(forged)

    assert result.verdict is Verdict.NOT_REPRODUCED, result.cause
    outputs = _by_path(result)
    assert outputs["summary.ipynb"][0] is OutputStatus.DIFFERENT
    assert "Mon, 07 Mar 2019" in outputs["summary.ipynb"][1] and outputs["summary.ipynb"][1].startswith("cell 3")
    assert outputs["results/summary.txt"][0] is OutputStatus.DIFFERENT
    assert bumped in outputs["results/summary.txt"][1]
    assert "Date:" not in outputs["results/summary.txt"][1]  # the clock readings still matched
    assert outputs["numeric.ipynb"] == (
        OutputStatus.DIFFERENT,
        "cell 2 output 1: 'slope 2.0001, intercept 1.0000' != 'slope 2.0000, intercept 1.0000'",  # recorded first
    )
    assert outputs["results/figure.png"][0] is OutputStatus.DIFFERENT
    assert "of pixels differ by more than 4 (max channel delta" in outputs["results/figure.png"][1]
    # The outputs nobody forged are still judged reproduced.
    assert outputs["results/figure.svg"][0] is OutputStatus.EQUIVALENT
    assert outputs["plot.ipynb"][0] is OutputStatus.EQUIVALENT


# --- issue 11, class 5: nondeterminism is named, not blamed on the environment ------------------------------

RANDOM_SCATTER_DATA = {"data/sites.csv": "site,region,count\n1,north,12\n2,south,7\n3,north,5\n4,east,9\n5,south,3\n"}
RANDOM_SCATTER_CELLS = (
    # As tutorials write it: a summary table, then "some noisy data" drawn with numpy's global generator.
    "import os\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "sites = pd.read_csv('data/sites.csv')\nsummary = sites.groupby('region', as_index=False)['count'].sum()\n"
    "os.makedirs('results', exist_ok=True)\nsummary.to_csv('results/summary.csv', index=False)\nsummary",
    "x = np.random.randn(200)\ny = 2.0 * x + np.random.normal(scale=0.5, size=200)\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\nax.scatter(x, y, s=8)\nax.set_xlabel('x')\nax.set_ylabel('y')\n"
    "fig.savefig('results/scatter.png', dpi=60)\nplt.show()",
    "print(f'mean of y: {y.mean():.4f}')",
)


def _random_scatter_project(root: Path, seed: str = "") -> Path:
    project = _project(root, {"requirements.txt": DATAFRAME_REQUIREMENTS, **RANDOM_SCATTER_DATA})
    first, *rest = RANDOM_SCATTER_CELLS
    write_notebook(project / "analysis.ipynb", first + seed, *rest)
    return project


@pytest.fixture(scope="module")
def random_scatter(tmp_path_factory):
    """One unseeded project exported with --runs 2 and with one run, and the same notebook seeded."""
    from tests.conftest import isolate_user_dirs

    tmp = tmp_path_factory.mktemp("random-scatter")
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, tmp / "home")
        unseeded = _random_scatter_project(tmp / "scatter")
        seeded = _random_scatter_project(tmp / "seeded", "\nnp.random.seed(2024)")
        exports = {
            "twice": _export(unseeded, tmp / "twice", runs=2),
            "once": _export(unseeded, tmp / "once"),
            "seeded": _export(seeded, tmp / "seeded-pkg", runs=2),
        }
    return tmp, exports


def _outputs(result: ReplayResult) -> dict:
    return {o.path: o for o in result.outputs}


@pytest.mark.slow
def test_unseeded_scatter_exported_with_two_runs_is_not_reproduced_because_nondeterministic(random_scatter):
    import jsonschema

    from repropack.model import CauseKind, Nondeterminism
    from repropack.resources import schema_path

    tmp, exports = random_scatter
    # Export saw it: the figure, and the notebook's scatter and mean cells, differed between its two runs.
    recorded = {n.path: n.cells for n in exports["twice"].package.nondeterministic}
    assert recorded == {"results/scatter.png": (), "analysis.ipynb": (3, 4)}
    result = _replay(tmp / "twice")
    assert result.verdict is Verdict.NOT_REPRODUCED and result.verdict.exit_code == 1
    assert result.cause is not None and result.cause.kind is CauseKind.NONDETERMINISTIC, (result.cause, result.outputs)
    assert "cell 3 calls np.random.randn without a seed" in result.cause.detail
    assert "np.random.seed(0)" in result.cause.detail and "not to blame" in result.cause.detail
    outputs = _outputs(result)
    for path in ("results/scatter.png", "analysis.ipynb"):
        assert outputs[path].status is OutputStatus.DIFFERENT
        assert outputs[path].nondeterminism is Nondeterminism.AT_SOURCE, outputs[path]
        assert outputs[path].hint.startswith("nondeterministic at source")
    assert outputs["results/summary.csv"].status is OutputStatus.IDENTICAL
    # The machine-readable answer and the report say the same.
    as_json = result.as_dict()
    schema = json.loads(schema_path("replay-result.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(as_json)), schema)
    assert as_json["cause_kind"] == "nondeterministic"
    report = (result.record / "report.html").read_text()
    assert "Not reproduced because the notebooks are nondeterministic, not because of the environment" in report
    assert report.count("nondeterministic at source") >= 2


@pytest.mark.slow
def test_unseeded_scatter_exported_once_gets_likely_nondeterministic_hints(random_scatter):
    from repropack.model import Nondeterminism

    tmp, exports = random_scatter
    assert exports["once"].package.nondeterministic == ()
    result = _replay(tmp / "once")
    assert result.verdict is Verdict.NOT_REPRODUCED and result.cause is None
    outputs = _outputs(result)
    scatter, notebook = outputs["results/scatter.png"], outputs["analysis.ipynb"]
    assert scatter.nondeterminism is Nondeterminism.LIKELY, scatter
    assert scatter.hint.startswith(
        "likely nondeterministic: written by analysis.ipynb, where cell 3 calls np.random.randn without a seed"
    )
    assert notebook.nondeterminism is Nondeterminism.LIKELY, notebook
    assert "cell 4 reads y, drawn by np.random.normal in cell 3 without a seed" in notebook.hint
    assert "np.random.seed(0)" in notebook.hint
    assert outputs["results/summary.csv"].status is OutputStatus.IDENTICAL


@pytest.mark.slow
def test_the_same_scatter_seeded_is_reproduced(random_scatter):
    tmp, exports = random_scatter
    assert exports["seeded"].package.nondeterministic == ()  # its two export runs agreed
    statuses = _assert_reproduced(_replay(tmp / "seeded-pkg"))
    assert statuses["results/scatter.png"] is OutputStatus.IDENTICAL
    assert statuses["results/summary.csv"] is OutputStatus.IDENTICAL


@pytest.mark.slow
def test_a_forged_number_beside_a_nondeterministic_figure_is_not_excused(random_scatter):
    import shutil

    tmp, _ = random_scatter
    forged = tmp / "forged"
    shutil.copytree(tmp / "twice", forged)
    data = (forged / "results/summary.csv").read_bytes()
    assert data.count(b"north,17") == 1
    forge_recorded_file(forged, "results/summary.csv", data.replace(b"north,17", b"north,18"))
    result = _replay(forged)
    assert result.verdict is Verdict.NOT_REPRODUCED
    assert result.cause is None  # a real difference is not excused by randomness elsewhere
    outputs = _outputs(result)
    summary = outputs["results/summary.csv"]
    assert summary.status is OutputStatus.DIFFERENT and summary.nondeterminism is None
    assert "17" in summary.detail and "18" in summary.detail
    assert summary.hint == "the same in all 2 runs of the export: randomness does not explain this difference"
    assert outputs["results/scatter.png"].hint.startswith("nondeterministic at source")


# --- issue 11, class 2: replay gives the notebook the same world export gave it ----------------------------
#
# Standard library only (and one project installed with pip), so the first four share the runtime image.


def _forge_text(package: Path, path: str, old: str, new: str) -> None:
    """Change one recorded output in place, every hash recomputed: a forged result."""
    data = (package / path).read_bytes()
    assert data.count(old.encode()) == 1, (path, old)
    forge_recorded_file(package, path, data.replace(old.encode(), new.encode()))


UPDATE_STATE = (
    '"""Keep data/state.csv sorted by claim code, in place, and total the amounts."""\n'
    "with open('data/state.csv', 'r+') as fh:\n"
    "    header, *rows = fh.read().splitlines()\n"
    "    rows.sort()\n"
    "    fh.seek(0)\n"
    "    fh.write('\\n'.join([header, *rows]) + '\\n')\n"
    "    fh.truncate()\n"
    "total = sum(int(row.split(',')[1]) for row in rows)\n"
)


def test_a_script_run_by_the_notebook_that_rewrites_its_own_input_in_place_reproduces(tmp_path):
    # Before: the input was recorded as an output only, set aside at replay, and %run swallowed the
    # error opening it, so the verdict blamed the next cell's NameError.
    project = _project(
        tmp_path / "inplace", {"scripts/update.py": UPDATE_STATE, "data/state.csv": "code,amount\nA1,10\nB2,5\nC3,7\n"}
    )
    write_notebook(
        project / "analysis.ipynb",
        "%run scripts/update.py",
        "import os\nos.makedirs('results', exist_ok=True)\n"
        "open('results/total.txt', 'w').write(f'total amount: {total}\\n')\nprint('total', total)",
    )
    export = _export(project, tmp_path / "pkg")
    (run,) = export.package.runs
    assert "data/state.csv" in run.inputs and "data/state.csv" in run.outputs
    _assert_runtime_only_lock(tmp_path / "pkg")
    statuses = _assert_reproduced(_replay(tmp_path / "pkg"))
    # Reviewer: the script found its input where it left it, writable, and left it as at export.
    assert statuses["data/state.csv"] is OutputStatus.IDENTICAL
    assert statuses["results/total.txt"] is OutputStatus.IDENTICAL

    _forge_text(tmp_path / "pkg", "results/total.txt", "total amount: 22", "total amount: 23")
    forged = _replay(tmp_path / "pkg")
    assert forged.verdict is Verdict.NOT_REPRODUCED
    assert [o.path for o in forged.outputs if o.status is OutputStatus.DIFFERENT] == ["results/total.txt"]


def test_a_run_script_that_raises_is_named_as_the_cause_not_the_name_error_that_follows(tmp_path):
    project = _project(
        tmp_path / "runerror",
        {
            "helpers.py": "import csv\n\ndef load(path):\n    with open(path, newline='') as fh:\n        return list(csv.DictReader(fh))\n",
            "scripts/prepare.py": "import helpers\nrows = helpers.load('data/claims.csv')\n",
            "data/claims.csv": "id,amount\n1,10\n2,5\n",
        },
    )
    write_notebook(project / "analysis.ipynb", "%run scripts/prepare.py", "print(len(rows))")
    # helpers.py is left out of the package (as a file outside the project would be): at replay the
    # script's import fails inside %run, which IPython prints without stopping the cell.
    _export(project, tmp_path / "pkg", exclude=("helpers.py",))
    from repropack.model import CauseKind

    result = _replay(tmp_path / "pkg")
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.MISSING_MODULE, result.cause
    assert result.cause.cell == 1
    assert result.cause.detail.startswith("helpers (analysis.ipynb cell 1: ModuleNotFoundError: No module named")
    assert result.cause.detail.endswith("cell 2 then failed: NameError: name 'rows' is not defined")


ENVIRONMENT_CELLS = (
    "import os, time\nprint('TZ', os.environ.get('TZ'), time.strftime('%Z', time.localtime(0)))",
    "print('hash', hash('abc'), sorted({'pear', 'fig', 'plum'}) == list({'fig', 'pear', 'plum'}))",
    "print('region', os.environ.get('CLAIMS_REGION'))",
)


def test_time_zone_hash_seed_and_a_listed_variable_are_set_at_replay_as_the_kernel_had_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("CLAIMS_REGION", "kanto")
    monkeypatch.setenv("UNRELATED_TOKEN", "not-recorded")
    project = _project(tmp_path / "envproj", compare='env = ["CLAIMS_REGION"]\n')
    write_notebook(project / "analysis.ipynb", *ENVIRONMENT_CELLS)
    export = _export(project, tmp_path / "pkg")
    recorded = export.package.environment_variables
    assert {k: recorded[k] for k in ("TZ", "PYTHONHASHSEED", "CLAIMS_REGION")} == {
        "TZ": "Asia/Tokyo",
        "PYTHONHASHSEED": "0",
        "CLAIMS_REGION": "kanto",
    }
    assert "UNRELATED_TOKEN" not in recorded
    packed = nbformat.read(tmp_path / "pkg" / "analysis.ipynb", as_version=4)
    assert packed.cells[0].outputs[0].text == "TZ Asia/Tokyo JST\n"
    hashed = packed.cells[1].outputs[0].text
    assert hashed.startswith(f"hash {_hash_with_seed_0('abc')} ")
    for name in ("TZ", "PYTHONHASHSEED", "CLAIMS_REGION"):  # the replay must not inherit them from here
        monkeypatch.delenv(name)
    result = _replay(tmp_path / "pkg")
    # Reproduced: the printed zone, hash and set order matched (the notebook rule masks none of them).
    assert _assert_reproduced(result)["analysis.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
    # Reviewer: the record names what the sandbox set.
    assert {"TZ", "PYTHONHASHSEED", "CLAIMS_REGION"} <= set(result.limits["environment"])
    saved = json.loads((result.record / "result.json").read_text())
    assert saved["sandbox"]["environment"]["TZ"] == "Asia/Tokyo"

    seeded = _hash_with_seed_0("abc")
    _forge_text(tmp_path / "pkg", "analysis.ipynb", f"hash {seeded} ", f"hash {seeded + 1} ")
    forged = _replay(tmp_path / "pkg")
    assert forged.verdict is Verdict.NOT_REPRODUCED
    assert [o.path for o in forged.outputs if o.status is OutputStatus.DIFFERENT] == ["analysis.ipynb"]


def _hash_with_seed_0(text: str) -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"print(hash({text!r}))"], env={"PYTHONHASHSEED": "0"}, capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_notebook_using_300_mb_replays_within_the_derived_limit_and_128m_names_the_recorded_peak(tmp_path):
    project = _project(tmp_path / "bigfigure")
    write_notebook(
        project / "figure.ipynb",
        "blob = b'x' * (300 * 2**20)  # a large figure's pixel buffers, say\nprint(len(blob) // 2**20, 'MiB')",
        "del blob\nprint('rendered')",
    )
    export = _export(project, tmp_path / "pkg")
    (run,) = export.package.runs
    assert run.peak_memory > 300 * 2**20 and run.wall_seconds is not None
    derived = _replay(tmp_path / "pkg")
    _assert_reproduced(derived)
    limit_mib = int(derived.limits["memory"].removesuffix("m"))
    assert limit_mib * 2**20 >= 2 * run.peak_memory  # twice the recorded peak, not a fixed 2 GiB
    assert derived.settings["memory"] == {"value": derived.limits["memory"], "source": "package"}
    assert derived.settings["total_timeout"]["source"] == "package" and derived.limits["timeout_s"] >= 300
    assert derived.settings["timeout"] == {"value": 600, "source": "package"}  # per cell: the export's

    from repropack.config import SandboxLimits
    from repropack.model import CauseKind

    small = _replay(tmp_path / "pkg", limits=SandboxLimits(memory="128m"))
    assert small.verdict is Verdict.FAILED
    assert small.cause.kind is CauseKind.OUT_OF_MEMORY, small.cause
    peak = f"{run.peak_memory / 2**20:.0f} MiB"
    assert f"limit 128m (as given); the recorded run peaked at {peak}; raise it with --memory" in small.cause.detail

    _forge_text(tmp_path / "pkg", "figure.ipynb", "300 MiB", "301 MiB")
    forged = _replay(tmp_path / "pkg")
    assert forged.verdict is Verdict.NOT_REPRODUCED
    assert [o.path for o in forged.outputs if o.status is OutputStatus.DIFFERENT] == ["figure.ipynb"]


CLAIMSLIB = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=61", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "claimslib"\nversion = "0.2.0"\nrequires-python = ">=3.10"\n\n'
        '[project.scripts]\nclaims-report = "claimslib.cli:main"\n\n'
        '[tool.setuptools]\npackages = ["claimslib"]\n\n'
        '[tool.setuptools.package-data]\nclaimslib = ["data/*.csv"]\n'
    ),
    "claimslib/__init__.py": '"""Claim rates of the study."""\n\nfrom .rates import rate_for, table\n',
    "claimslib/rates.py": (
        "import csv\nfrom importlib import resources\n\n\n"
        "def table():\n"
        "    with resources.files('claimslib').joinpath('data/rates.csv').open() as fh:\n"
        "        return {row['code']: float(row['rate']) for row in csv.DictReader(fh)}\n\n\n"
        "def rate_for(code):\n    return table()[code]\n"
    ),
    "claimslib/cli.py": (
        "from .rates import table\n\n\n"
        "def main():\n"
        "    for code, rate in sorted(table().items()):\n"
        "        print(f'{code}\\t{rate:.2f}')\n"
        "    return 0\n"
    ),
    "claimslib/data/rates.csv": "code,rate\nA1,0.25\nB2,1.50\n",
}
CLAIMSLIB_CELLS = (
    "import subprocess\nfrom importlib import metadata, resources\nimport claimslib",
    "print(metadata.version('claimslib'), claimslib.rate_for('B2'))",
    "print(resources.files('claimslib').joinpath('data/rates.csv').read_text())",
    "print(subprocess.run(['claims-report'], capture_output=True, text=True, check=True).stdout)",
)


@pytest.fixture(scope="module")
def installed_project_case(tmp_path_factory):
    """A project installed into the kernel's path with ``pip install .`` (not -e), its notebook in notebooks/."""
    import os
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("installed")
    project = _project(tmp / "claims", CLAIMSLIB)
    write_notebook(project / "notebooks" / "report.ipynb", *CLAIMSLIB_CELLS)
    target = tmp / "site"  # stands for the kernel's site-packages: the system interpreter stays untouched
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "--target",
            str(target),
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (info,) = target.glob("claimslib-*.dist-info")
    assert json.loads((info / "direct_url.json").read_text()) == {"dir_info": {}, "url": project.resolve().as_uri()}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", str(target))
        env.setenv("PATH", f"{target / 'bin'}:{os.environ['PATH']}")
        export = _export(project, tmp / "pkg")
    return tmp / "pkg", export


@pytest.mark.slow
def test_a_project_installed_with_pip_install_dot_is_installed_in_the_image_and_reproduces(installed_project_case):
    package, export = installed_project_case
    (local,) = export.package.local_packages
    assert (local.name, local.path, local.editable) == ("claimslib", ".", False)
    assert (package / local.wheel).is_file()
    dockerfile = (package / ".repropack/Dockerfile").read_text()
    assert f"/opt/repropack/local/{Path(local.wheel).name}" in dockerfile
    packed = nbformat.read(package / "notebooks/report.ipynb", as_version=4)
    assert packed.cells[1].outputs[0].text == "0.2.0 1.5\n"
    assert packed.cells[3].outputs[0].text == "A1\t0.25\nB2\t1.50\n\n"
    result = _replay(package)
    # Reviewer: module, metadata, data file and console script all came from the image's install.
    statuses = _assert_reproduced(result)
    assert statuses["notebooks/report.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)


@pytest.mark.slow
def test_the_installed_project_with_a_forged_rate_is_not_reproduced_naming_the_notebook(
    installed_project_case, tmp_path
):
    import shutil

    package, _ = installed_project_case
    shutil.copytree(package, tmp_path / "forged")
    _forge_text(tmp_path / "forged", "notebooks/report.ipynb", "0.2.0 1.5", "0.2.0 1.6")
    result = _replay(tmp_path / "forged")
    assert result.verdict is Verdict.NOT_REPRODUCED
    assert [o.path for o in result.outputs if o.status is OutputStatus.DIFFERENT] == ["notebooks/report.ipynb"]


@pytest.mark.slow
def test_the_installed_project_reproduces_with_the_local_backend_too(installed_project_case):
    package, _ = installed_project_case
    result = _replay(package, backend="local")
    assert _assert_reproduced(result)["notebooks/report.ipynb"] in (OutputStatus.IDENTICAL, OutputStatus.EQUIVALENT)
