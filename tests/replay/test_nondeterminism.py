"""Naming randomness at replay: the unseeded-generator detector over real-shaped code, and the hints and
cause it gives on real exported packages compared with another real run (no container needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repropack.compare.compare import choose_rule, compare_outputs
from repropack.crate.reader import open_package
from repropack.export import export_project
from repropack.model import CauseKind, Nondeterminism, OutputStatus
from repropack.replay.nondeterminism import (
    NUMPY,
    RANDOM,
    TENSORFLOW,
    TORCH,
    UNSEEDABLE,
    explain_differences,
    nondeterministic_cause,
    unseeded_random_uses,
)
from repropack.replay.verdict import verdict_of
from tests.conftest import isolate_user_dirs, write_notebook

# --- the detector -------------------------------------------------------------------------------

# (cells, [(cell, call, family, via)]) expected; every case is a shape found in tutorials and papers.
UNSEEDED = {
    "numpy legacy draw": (["import numpy as np\nx = np.random.rand(100)"], [(1, "np.random.rand", NUMPY, "")]),
    "numpy normal with size": (
        ["import numpy as np", "noise = np.random.normal(0, 1, size=50)"],
        [(2, "np.random.normal", NUMPY, "")],
    ),
    "numpy imported plainly": (["import numpy\nnumpy.random.shuffle(xs)"], [(1, "numpy.random.shuffle", NUMPY, "")]),
    "numpy.random imported as npr": (
        ["import numpy.random as npr\nsample = npr.choice(10, 3)"],
        [(1, "npr.choice", NUMPY, "")],
    ),
    "from numpy.random import randn": (["from numpy.random import randn\nx = randn(3)"], [(1, "randn", NUMPY, "")]),
    "from numpy import random shadows stdlib": (
        ["from numpy import random\nx = random.randint(0, 9, 5)"],
        [(1, "random.randint", NUMPY, "")],
    ),
    "star import of numpy.random": (["from numpy.random import *\nx = rand(4)"], [(1, "rand", NUMPY, "")]),
    "np used without an import cell (%pylab, startup file)": (
        ["data = np.random.randn(20)"],
        [(1, "np.random.randn", NUMPY, "")],
    ),
    "default_rng() without a seed, drawn from later": (
        ["import numpy as np\nrng = np.random.default_rng()", "x = rng.normal(size=3)"],
        [(2, "rng.normal", UNSEEDABLE, "")],
    ),
    "default_rng(None) is no seed": (
        ["import numpy as np\nrng = np.random.default_rng(None)\nrng.integers(5)"],
        [(1, "rng.integers", UNSEEDABLE, "")],
    ),
    "default_rng() used at once": (
        ["import numpy as np\nx = np.random.default_rng().random(3)"],
        [(1, "np.random.default_rng", UNSEEDABLE, "")],
    ),
    "RandomState() without a seed": (
        ["import numpy as np\nrs = np.random.RandomState()\nrs.uniform()"],
        [(1, "rs.uniform", UNSEEDABLE, "")],
    ),
    "an unseeded generator's name rebound to a list, drawn from before": (
        ["import numpy as np\nrng = np.random.default_rng()\nx = rng.random()\nrng = [1, 2]\nrng.append(3)"],
        [(1, "rng.random", UNSEEDABLE, "")],
    ),
    "Generator over an unseeded bit generator": (
        ["import numpy as np\ng = np.random.Generator(np.random.PCG64())\ng.random()"],
        [(1, "g.random", UNSEEDABLE, "")],
    ),
    "stdlib random": (["import random\nprint(random.choice(['a', 'b']))"], [(1, "random.choice", RANDOM, "")]),
    "stdlib shuffle of a list": (
        ["import random\ndeck = list(range(52))\nrandom.shuffle(deck)"],
        [(1, "random.shuffle", RANDOM, "")],
    ),
    "from random import sample": (
        ["from random import sample\npick = sample(range(9), 2)"],
        [(1, "sample", RANDOM, "")],
    ),
    "random.seed() with no value reseeds from the OS": (
        ["import random\nrandom.seed()\nx = random.random()"],
        [(1, "random.random", RANDOM, "")],
    ),
    "random.seed(None)": (
        ["import random\nrandom.seed(None)\nx = random.gauss(0, 1)"],
        [(1, "random.gauss", RANDOM, "")],
    ),
    "random.Random() instance": (
        ["import random\nr = random.Random()\nr.randint(1, 6)"],
        [(1, "r.randint", UNSEEDABLE, "")],
    ),
    "SystemRandom cannot be seeded": (
        ["import random\nsr = random.SystemRandom()"],
        [(1, "random.SystemRandom", UNSEEDABLE, "")],
    ),
    "torch draw": (["import torch\nx = torch.randn(3, 4)"], [(1, "torch.randn", TORCH, "")]),
    "torch layer weights": (
        ["import torch\nfrom torch import nn\nmodel = nn.Linear(4, 2)"],
        [(1, "nn.Linear", TORCH, "")],
    ),
    "torch.nn imported as nn": (["import torch.nn as nn\nconv = nn.Conv2d(1, 8, 3)"], [(1, "nn.Conv2d", TORCH, "")]),
    "tensorflow draw": (
        ["import tensorflow as tf\nw = tf.random.normal([3])"],
        [(1, "tf.random.normal", TENSORFLOW, "")],
    ),
    "pandas sample without random_state": (
        ["import pandas as pd\ndf = pd.read_csv('x.csv')\ndf.sample(frac=0.5)"],
        [(1, "df.sample", NUMPY, "")],
    ),
    "scipy rvs without random_state": (
        ["from scipy import stats\nx = stats.norm.rvs(size=10)"],
        [(1, "stats.norm.rvs", NUMPY, "")],
    ),
    "scikit-learn split without random_state": (
        ["from sklearn.model_selection import train_test_split\nX_tr, X_te = train_test_split(X, test_size=0.2)"],
        [(1, "train_test_split", NUMPY, "")],
    ),
    "uuid4 in an identifier": (["import uuid\nrun_id = uuid.uuid4()"], [(1, "uuid.uuid4", UNSEEDABLE, "")]),
    "os.urandom": (["import os\nsalt = os.urandom(8)"], [(1, "os.urandom", UNSEEDABLE, "")]),
    "a function that draws, called later": (
        ["import numpy as np\ndef simulate(n):\n    return np.random.poisson(3, n)", "counts = simulate(100)"],
        [(2, "simulate() -> np.random.poisson", NUMPY, "")],
    ),
    "a loop that draws": (
        ["import random\nwalk = [0]\nfor _ in range(100):\n    walk.append(walk[-1] + random.choice([-1, 1]))"],
        [(1, "random.choice", RANDOM, "")],
    ),
    "a lambda applied at once": (
        ["import numpy as np\ndf['jitter'] = df['x'].apply(lambda v: v + np.random.rand())"],
        [(1, "np.random.rand", NUMPY, "")],
    ),
    "seed placed after the draw": (
        ["import numpy as np\nx = np.random.rand(3)\nnp.random.seed(0)"],
        [(1, "np.random.rand", NUMPY, "")],
    ),
    "%time line magic runs its statement": (
        ["import numpy as np", "%time x = np.random.rand(1000)"],
        [(2, "np.random.rand", NUMPY, "")],
    ),
    "%matplotlib inline is skipped, not a parse error": (
        ["%matplotlib inline\nimport numpy as np\nx = np.random.randn(5)"],
        [(1, "np.random.randn", NUMPY, "")],
    ),
    "a later cell reads a drawn value": (
        ["import numpy as np\ny = 2 * np.random.randn(200)", "print(f'mean of y: {y.mean():.4f}')"],
        [(1, "np.random.randn", NUMPY, ""), (2, "np.random.randn", NUMPY, "y")],
    ),
    "a drawn column, summarised later": (
        ["import numpy as np\ndf['noise'] = np.random.normal(size=len(df))", "df.describe()"],
        [(1, "np.random.normal", NUMPY, ""), (2, "np.random.normal", NUMPY, "df")],
    ),
    "a plot drawn from a sample, shown later": (
        [
            "import numpy as np\nimport matplotlib.pyplot as plt",
            "x = np.random.randn(50)\nfig, ax = plt.subplots()\nax.scatter(x, x ** 2)",
            "ax.set_title('scatter')\nfig",
        ],
        [(2, "np.random.randn", NUMPY, ""), (3, "np.random.randn", NUMPY, "ax")],
    ),
}

SEEDED = {
    "np.random.seed first": ["import numpy as np\nnp.random.seed(42)\nx = np.random.rand(3)"],
    "np.random.seed in an earlier cell": ["import numpy as np\nnp.random.seed(0)", "x = np.random.randn(3)"],
    "seed held in a variable": ["import numpy as np\nSEED = 7\nnp.random.seed(SEED)", "np.random.shuffle(xs)"],
    "default_rng(42) then draws": ["import numpy as np\nrng = np.random.default_rng(42)", "x = rng.normal(size=3)"],
    "default_rng(seed=42)": ["from numpy.random import default_rng\nrng = default_rng(seed=42)\nrng.random()"],
    "RandomState(0)": ["import numpy as np\nrs = np.random.RandomState(0)\nrs.uniform()"],
    "RandomState() then seeded": ["import numpy as np\nrs = np.random.RandomState()\nrs.seed(5)\nrs.rand()"],
    "Generator over a seeded bit generator": [
        "import numpy as np\ng = np.random.Generator(np.random.PCG64(1))\ng.random()"
    ],
    "random.seed": ["import random\nrandom.seed(1234)\nprint(random.choice('abc'))"],
    "random.Random(3)": ["import random\nr = random.Random(3)\nr.shuffle(deck)"],
    "torch.manual_seed": ["import torch\ntorch.manual_seed(0)\nx = torch.randn(3)\nlayer = torch.nn.Linear(2, 2)"],
    "torch generator keyword": ["import torch\ng = torch.Generator().manual_seed(1)\nx = torch.rand(3, generator=g)"],
    "tf.random.set_seed": ["import tensorflow as tf\ntf.random.set_seed(1)\nw = tf.random.uniform([2])"],
    "tf op-level seed": ["import tensorflow as tf\nw = tf.random.normal([2], seed=3)"],
    "lightning seed_everything": ["import lightning as L\nL.seed_everything(7)\nimport torch\ntorch.rand(1)"],
    "keras set_random_seed": ["import keras\nkeras.utils.set_random_seed(1)\nimport numpy as np\nnp.random.rand()"],
    "pandas sample with random_state": ["df.sample(n=5, random_state=1)"],
    "scipy rvs with random_state": ["from scipy import stats\nstats.norm.rvs(size=3, random_state=rng)"],
    "scikit-learn with random_state": [
        "from sklearn.cluster import KMeans\nkm = KMeans(n_clusters=3, random_state=0).fit(X)"
    ],
    "a function called after the seed": [
        "import numpy as np\ndef simulate(n):\n    return np.random.poisson(3, n)",
        "np.random.seed(3)\ncounts = simulate(10)",
    ],
    "a function defined, never called": ["import numpy as np\ndef noisy():\n    return np.random.rand()"],
    "a seeding helper of the project": [
        "import random, numpy as np\ndef set_seed(s):\n    random.seed(s)\n    np.random.seed(s)",
        "set_seed(0)\nx = np.random.rand(2)\ny = random.random()",
    ],
    "deterministic code only": ["import pandas as pd\ndf = pd.read_csv('x.csv')\nprint(df['n'].sum())"],
    "a drawn value replaced by a constant": ["import numpy as np\nx = np.random.rand()", "x = 5"],
    "an unseeded generator's name rebound to a seeded one": [
        "import numpy as np\nrng = np.random.default_rng()\nrng = np.random.default_rng(1)\nrng.normal()"
    ],
    "%%bash cell is not Python": ["%%bash\necho $RANDOM"],
    "a cell that does not parse is skipped": ["def broken(:\n    pass"],
    "markdown cells given as empty": ["", ""],
}


def _shape(uses):
    return [(u.cell, u.call, u.family, u.via) for u in uses]


@pytest.mark.parametrize("case", list(UNSEEDED), ids=list(UNSEEDED))
def test_unseeded_generator_is_found_in_the_cell_that_draws(case):
    cells, expected = UNSEEDED[case]
    assert _shape(unseeded_random_uses(cells)) == expected


@pytest.mark.parametrize("case", list(SEEDED), ids=list(SEEDED))
def test_seeded_or_deterministic_code_is_not_flagged(case):
    cells = SEEDED[case]
    # The first use in the "a drawn value replaced" case is in cell 1; only later cells must be clean.
    uses = unseeded_random_uses(cells)
    if case == "a drawn value replaced by a constant":
        assert _shape(uses) == [(1, "np.random.rand", NUMPY, "")]
        assert _shape(unseeded_random_uses([*cells, "print(x)"])) == [(1, "np.random.rand", NUMPY, "")]
    else:
        assert uses == []


def test_use_names_its_line_and_describes_itself():
    (direct, read) = unseeded_random_uses(
        ["import numpy as np\n\nvalues = np.random.randn(9)", "total = 1\nprint(values.sum())"]
    )
    assert (direct.cell, direct.line) == (1, 3)
    assert direct.describe() == "cell 1 calls np.random.randn without a seed"
    assert (read.cell, read.line, read.origin_cell) == (2, 2, 1)
    assert read.describe() == "cell 2 reads values, drawn by np.random.randn in cell 1 without a seed"


def test_seed_holds_only_for_its_own_family():
    uses = unseeded_random_uses(
        ["import random, numpy as np\nrandom.seed(1)\na = random.random()\nb = np.random.rand()"]
    )
    assert _shape(uses) == [(1, "np.random.rand", NUMPY, "")]


# --- classifying real differences --------------------------------------------------------------

DRAW = (
    "import random, os\nos.makedirs('results', exist_ok=True)\n"
    "xs = [random.random() for _ in range(5)]\n"
    "open('results/draws.txt', 'w').write(''.join(f'{x:.6f}\\n' for x in xs))"
)
SUMMARY = "counts = [3, 5, 8]\nopen('results/summary.csv', 'w').write('n,total\\n3,' + str(sum(counts)) + '\\n')"
SHOW = "print(round(sum(xs) / len(xs), 6))"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """One stdlib project exported three times: with --runs 2, with one run, and once more as "the replay"."""
    root = tmp_path_factory.mktemp("nd")
    project = root / "draws"
    project.mkdir()
    (project / "repropack.toml").write_text('title = "draws"\nlicense = "MIT"\n')
    write_notebook(project / "analysis.ipynb", DRAW, SUMMARY, SHOW)
    with pytest.MonkeyPatch.context() as mp:
        isolate_user_dirs(mp, root / "home")
        export_project(project, root / "twice", {"runs": 2})
        export_project(project, root / "once", {})
        export_project(project, root / "again", {})  # another real run: what a replay would produce
    return root


def _explain(exports: Path, package: str, produced: Path):
    with open_package(exports / package) as opened:
        pkg = opened.package
        recorded = pkg.recorded_outputs()
        compared = compare_outputs(opened.root, produced, recorded, recorded, [])
        outputs = explain_differences(compared, pkg, opened.root, produced, lambda p: choose_rule(p, []))
        return {o.path: o for o in outputs}, nondeterministic_cause(outputs, pkg, opened.root), pkg


def test_runs_2_package_names_both_outputs_nondeterministic_at_source_and_the_cause(exports):
    outputs, cause, package = _explain(exports, "twice", exports / "again")
    assert package.export_runs == 2
    assert {n.path for n in package.nondeterministic} == {"results/draws.txt", "analysis.ipynb"}
    draws, notebook, summary = outputs["results/draws.txt"], outputs["analysis.ipynb"], outputs["results/summary.csv"]
    assert draws.status is OutputStatus.DIFFERENT and draws.nondeterminism is Nondeterminism.AT_SOURCE
    assert draws.hint == "nondeterministic at source: it differed between the 2 runs of the export too"
    assert notebook.nondeterminism is Nondeterminism.AT_SOURCE
    assert notebook.hint == "nondeterministic at source: cell 3 differed between the 2 runs of the export too"
    assert summary.status is OutputStatus.IDENTICAL and summary.nondeterminism is None and summary.hint == ""
    assert cause.kind is CauseKind.NONDETERMINISTIC
    assert (cause.notebook, cause.cell) == ("analysis.ipynb", 3)
    assert cause.detail == (
        "the notebooks draw random numbers without a seed: every difference (analysis.ipynb (cell 3); "
        "results/draws.txt) also differed between the 2 runs of the export, in one environment on the same inputs, "
        "so the environment is not to blame. In analysis.ipynb, cell 1 calls random.random without a seed; "
        "to fix it, call random.seed(0) first, and export again"
    )
    # Not a failure: the run ended; its outputs say not reproduced, for a reason the recording already had.
    assert verdict_of(cause, list(outputs.values())).value == "not_reproduced"


def test_a_forged_deterministic_output_is_not_excused_by_randomness_elsewhere(exports, tmp_path):
    produced = tmp_path / "produced"
    shutil.copytree(exports / "again", produced)
    (produced / "results/summary.csv").write_text("n,total\n3,17\n")  # one number changed
    outputs, cause, _ = _explain(exports, "twice", produced)
    summary = outputs["results/summary.csv"]
    assert summary.status is OutputStatus.DIFFERENT and summary.nondeterminism is None
    assert summary.hint == "the same in all 2 runs of the export: randomness does not explain this difference"
    assert outputs["results/draws.txt"].nondeterminism is Nondeterminism.AT_SOURCE
    assert cause is None


def test_a_notebook_cell_that_was_stable_at_export_is_not_excused(exports, tmp_path):
    import nbformat

    produced = tmp_path / "produced"
    shutil.copytree(exports / "again", produced)
    nb = nbformat.read(produced / "analysis.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="forged\n")]
    nbformat.write(nb, produced / "analysis.ipynb")
    outputs, cause, _ = _explain(exports, "twice", produced)
    notebook = outputs["analysis.ipynb"]
    assert notebook.status is OutputStatus.DIFFERENT and notebook.nondeterminism is None
    assert notebook.hint.startswith("cell 2 differs now but was the same in all 2 runs of the export")
    assert cause is None


def test_one_run_package_gets_likely_hints_from_the_code_and_no_cause(exports):
    outputs, cause, package = _explain(exports, "once", exports / "again")
    assert package.export_runs == 1 and package.nondeterministic == ()
    draws, notebook = outputs["results/draws.txt"], outputs["analysis.ipynb"]
    assert draws.nondeterminism is Nondeterminism.LIKELY
    assert draws.hint == (
        "likely nondeterministic: written by analysis.ipynb, where cell 1 calls random.random without a seed; "
        "to fix it, call random.seed(0) first"
    )
    assert notebook.nondeterminism is Nondeterminism.LIKELY
    assert notebook.hint == (
        "likely nondeterministic: cell 3 reads xs, drawn by random.random in cell 1 without a seed; "
        "to fix it, call random.seed(0) first"
    )
    assert outputs["results/summary.csv"].nondeterminism is None
    assert cause is None  # a hint, not a verdict: without a second run nothing is known


def test_one_run_package_with_a_forged_stable_cell_gets_no_likely_flag(exports, tmp_path):
    import nbformat

    produced = tmp_path / "produced"
    shutil.copytree(exports / "again", produced)
    nb = nbformat.read(produced / "analysis.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="forged\n")]
    nbformat.write(nb, produced / "analysis.ipynb")
    outputs, _, _ = _explain(exports, "once", produced)
    notebook = outputs["analysis.ipynb"]
    assert notebook.nondeterminism is None
    assert notebook.hint.endswith("but cell 2 differs with no unseeded random call")


def test_a_planted_symlink_is_never_excused_and_judging_twice_changes_nothing(exports):
    from dataclasses import replace

    from repropack.model import OutputComparison

    with open_package(exports / "twice") as opened:
        pkg = opened.package
        recorded = pkg.recorded_outputs()
        compared = compare_outputs(opened.root, exports / "again", recorded, recorded, [])
        planted = [
            OutputComparison(o.path, OutputStatus.DIFFERENT, "symlink", "the replay produced a symlink here")
            if o.path == "results/draws.txt"
            else o
            for o in compared
        ]
        outputs = explain_differences(planted, pkg, opened.root, exports / "again", lambda p: choose_rule(p, []))
        by_path = {o.path: o for o in outputs}
        # At source, the file was random; a symlink in its place is still no output of the notebooks.
        assert by_path["results/draws.txt"].nondeterminism is None and by_path["results/draws.txt"].hint == ""
        assert nondeterministic_cause(outputs, pkg, opened.root) is None
        # A re-judgement passes judged outputs in again: the flags are judged afresh, not kept.
        stale = [replace(o, nondeterminism=Nondeterminism.LIKELY, hint="stale") for o in compared]
        again = explain_differences(stale, pkg, opened.root, exports / "again", lambda p: choose_rule(p, []))
        fresh = explain_differences(compared, pkg, opened.root, exports / "again", lambda p: choose_rule(p, []))
        bad = {o.path for o in compared if o.status in (OutputStatus.DIFFERENT, OutputStatus.MISSING)}
        assert [o for o in again if o.path in bad] == [o for o in fresh if o.path in bad]
