"""Naming randomness: which differing outputs the recorded run could not have reproduced itself.

Two sources of knowledge, strongest first:

* **At source.** A package exported with ``--runs 2`` lists the outputs (and the
  notebook cells) that differed between export's own runs, in one environment
  on the same inputs. A replayed output that differs only there is
  "nondeterministic at source"; when every difference is of that kind the
  verdict stays ``not_reproduced`` but its cause is ``nondeterministic``, not
  the environment. Anything else that differs was the same in every export
  run, so randomness does not excuse it.
* **Likely.** A package exported with one run carries no such list; instead the
  recorded notebook's code is read (``unseeded_random_uses``) and a differing
  output of a cell that draws from a random number generator nobody seeded
  gets a "likely nondeterministic" hint. Which cell wrote an output file is not
  recorded, so a file is attributed to the notebook that wrote it: any cell of
  it that draws unseeded counts. The verdict and cause are left as they are.

The detector is a pure function over source text (``ast``), so every shape of
seeding can be tested without running anything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from repropack.compare.context import NO_CONTEXT, RunWindows
from repropack.compare.rules import ComparisonRule
from repropack.model import (
    CauseKind,
    FailureCause,
    Nondeterminism,
    NondeterministicOutput,
    OutputComparison,
    OutputStatus,
    Package,
)

# --- the detector -----------------------------------------------------------------------------

#: Families of generators: the global state a seed call fixes.
NUMPY, RANDOM, TORCH, TENSORFLOW = "numpy", "random", "torch", "tensorflow"
#: Draws no seed call can fix: OS entropy, or a generator object made without a seed.
UNSEEDABLE = "unseedable"
_FAMILIES = (NUMPY, RANDOM, TORCH, TENSORFLOW)

#: How to seed each family, for the hint.
SEEDING = {
    NUMPY: "call np.random.seed(0) first, or draw from rng = np.random.default_rng(0)",
    RANDOM: "call random.seed(0) first",
    TORCH: "call torch.manual_seed(0) first",
    TENSORFLOW: "call tf.random.set_seed(0) first",
    UNSEEDABLE: "make the generator with a seed (OS entropy, uuid4 and secrets cannot be seeded: keep them out of results)",
}

# Conventional names a notebook may use without importing them in the cells we see (%pylab, startup files).
_DEFAULT_ALIASES = {
    "np": "numpy",
    "numpy": "numpy",
    "random": "random",
    "torch": "torch",
    "tf": "tensorflow",
    "uuid": "uuid",
    "os": "os",
    "secrets": "secrets",
}
# numpy.random attributes that draw nothing from the global legacy generator.
_NUMPY_NOT_DRAWS = frozenset(
    {"seed", "get_state", "set_state", "get_bit_generator", "set_bit_generator", "bit_generator", "BitGenerator"}
)
# Constructors of generator objects: seeded when given a seed, drawing from nothing global.
_GENERATORS = frozenset(
    {
        "numpy.random.default_rng",
        "numpy.random.RandomState",
        "numpy.random.Generator",
        "numpy.random.SeedSequence",
        "numpy.random.PCG64",
        "numpy.random.PCG64DXSM",
        "numpy.random.MT19937",
        "numpy.random.Philox",
        "numpy.random.SFC64",
        "random.Random",
    }
)
_NUMPY_LEGACY_DRAWS = frozenset(
    {
        "rand",
        "randn",
        "randint",
        "random",
        "random_sample",
        "random_integers",
        "ranf",
        "sample",
        "choice",
        "bytes",
        "shuffle",
        "permutation",
        "normal",
        "standard_normal",
        "uniform",
        "binomial",
        "poisson",
        "exponential",
        "beta",
        "gamma",
        "lognormal",
        "multivariate_normal",
        "multinomial",
        "dirichlet",
        "laplace",
        "logistic",
        "chisquare",
        "standard_t",
        "weibull",
        "geometric",
        "negative_binomial",
        "triangular",
    }
)
_RANDOM_DRAWS = frozenset(
    {
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "uniform",
        "triangular",
        "gauss",
        "normalvariate",
        "lognormvariate",
        "expovariate",
        "vonmisesvariate",
        "gammavariate",
        "betavariate",
        "paretovariate",
        "weibullvariate",
        "binomialvariate",
        "getrandbits",
        "randbytes",
    }
)
_TORCH_DRAWS = frozenset(
    {
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "normal",
        "bernoulli",
        "multinomial",
        "poisson",
    }
)
# torch.nn modules whose weights are drawn when made (or that draw when run).
_TORCH_LAYERS = frozenset(
    {
        "Linear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "Embedding",
        "EmbeddingBag",
        "RNN",
        "LSTM",
        "GRU",
        "MultiheadAttention",
        "Transformer",
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
        "Dropout",
    }
)
_TENSORFLOW_NOT_DRAWS = frozenset({"set_seed", "Generator", "get_global_generator", "set_global_generator"})
# scikit-learn names that draw from numpy's global generator unless given random_state.
_SKLEARN_DRAWS = frozenset(
    {
        "train_test_split",
        "KMeans",
        "MiniBatchKMeans",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "MLPClassifier",
        "MLPRegressor",
        "TSNE",
        "PCA",
        "make_blobs",
        "make_classification",
        "make_regression",
        "make_moons",
        "make_circles",
        "shuffle",
        "resample",
    }
)
_UNSEEDABLE_CALLS = frozenset(
    {
        "uuid.uuid4",
        "os.urandom",
        "random.SystemRandom",
        "secrets.token_bytes",
        "secrets.token_hex",
        "secrets.token_urlsafe",
        "secrets.choice",
        "secrets.randbelow",
        "secrets.randbits",
    }
)
# Helpers of training libraries that seed every generator at once (lightning, transformers, keras).
_SEED_ALL = frozenset({"seed_everything", "set_seed", "set_random_seed"})
# Methods of data-frame and distribution objects that draw from numpy's global generator.
_GLOBAL_BACKED_METHODS = frozenset({"sample", "rvs"})
# Names a star import of these modules brings in, as the call they stand for.
_STAR_IMPORTS = {
    "numpy.random": {name: f"numpy.random.{name}" for name in _NUMPY_LEGACY_DRAWS | {"seed", "default_rng"}},
    "random": {name: f"random.{name}" for name in _RANDOM_DRAWS | {"seed", "Random", "SystemRandom"}},
}

_CELL_MAGIC = re.compile(r"\A\s*%%(\w+)")
_LINE_MAGIC = re.compile(r"^(\s*)(%%?\w+|!)(.*)$")
_TIMING_MAGICS = frozenset({"time", "timeit", "capture", "prun"})


@dataclass(frozen=True)
class RandomUse:
    """A cell whose results depend on a random number generator nobody seeded.

    ``call`` is the drawing call as written (``np.random.rand``); it is in
    ``origin_cell``. When ``via`` is set the cell does not draw itself but reads
    ``via``, a value that call drew. Cells are numbered from 1, as a reader counts them.
    """

    cell: int
    line: int  # in ``cell``, from 1
    call: str
    family: str  # NUMPY, RANDOM, TORCH, TENSORFLOW or UNSEEDABLE
    origin_cell: int
    via: str = ""

    def describe(self) -> str:
        """One phrase: ``cell 3 calls np.random.rand without a seed``."""
        if self.via:
            return f"cell {self.cell} reads {self.via}, drawn by {self.call} in cell {self.origin_cell} without a seed"
        return f"cell {self.cell} calls {self.call} without a seed"


def unseeded_random_uses(cells: Sequence[str]) -> list[RandomUse]:
    """Where the code of ``cells`` (run in order, in one kernel) depends on an unseeded random generator.

    Seeding holds from where it happens on, across cells: ``np.random.seed(0)``,
    ``random.seed(0)``, ``torch.manual_seed(0)``, ``tf.random.set_seed(0)``,
    and the seed-everything helpers of training libraries. A generator made
    with a seed (``rng = np.random.default_rng(42)``) draws reproducibly; one
    made without (``default_rng()``, ``RandomState()``, ``random.Random()``) does
    not, and neither do OS entropy, ``uuid4`` and ``secrets``. Calls inside a
    function count where the function is called. A cell that reads a value an
    unseeded call drew (``print(y.mean())`` after ``y = np.random.randn(9)``)
    depends on it too. Markdown cells may be given as ""; IPython magics are
    skipped; a cell that does not parse is skipped.
    """
    scan = _Scan()
    for number, source in enumerate(cells, start=1):
        tree = _parse(source)
        if tree is not None:
            scan.cell(number, tree)
    return scan.uses


def _parse(source: str) -> ast.Module | None:
    """A cell's code with IPython syntax made plain Python, keeping line numbers; None when it does not parse."""
    magic = _CELL_MAGIC.match(source)
    if magic:
        if magic.group(1) not in _TIMING_MAGICS:
            return None  # %%bash, %%html, %%writefile ...: not Python
        source = "\n" + source.split("\n", 1)[1] if "\n" in source else ""
    lines = []
    for line in source.split("\n"):
        found = _LINE_MAGIC.match(line)
        if found is None:
            lines.append(line)
        elif found.group(2) in ("%time", "%timeit", "%prun") and found.group(3).strip():
            lines.append(found.group(1) + found.group(3).strip())  # the timed statement runs
        else:
            lines.append(found.group(1) + "pass")
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


class _Scan:
    """The state of a kernel as the scan walks its cells: imports, seeds, generators, tainted names."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = dict(_DEFAULT_ALIASES)
        self.modules: set[str] = set()  # names bound by an import: never tainted by a draw
        self.seeded: set[str] = set()
        self.generators: dict[str, bool] = {}  # name -> made with a seed
        self.functions: dict[str, ast.AST] = {}
        self.tainted: dict[str, RandomUse] = {}  # name -> the draw its value came from
        self.consumed: set[ast.Call] = set()  # bit generators made inside a generator's constructor call
        self.bound: set[str] = set()  # names the current statement bound to a generator
        self.uses: list[RandomUse] = []

    def cell(self, number: int, tree: ast.Module) -> None:
        dependent: RandomUse | None = None
        for statement in tree.body:
            for name, origin in self._reads_tainted(statement).items():
                if dependent is None and origin.origin_cell != number:
                    dependent = replace(origin, cell=number, line=statement.lineno, via=name)
            draws = self.statement(number, statement)
            self._propagate(statement, draws)
        if dependent is not None and not any(use.cell == number for use in self.uses):
            self.uses.append(dependent)  # one read is enough to explain the cell

    # --- one statement -----------------------------------------------------------------------

    def statement(self, number: int, statement: ast.stmt) -> list[RandomUse]:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            self._import(statement)
            return []
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.functions[statement.name] = statement
            return []
        if isinstance(statement, ast.ClassDef):
            return []
        draws: list[RandomUse] = []
        self.bound = set()
        for call in _calls(statement):
            draws.extend(self._call(number, call, statement, set()))
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):  # rng = something else: no generator any more
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in self.bound:
                    self.generators.pop(target.id, None)
        self.uses.extend(draws)
        return draws

    def _import(self, statement: ast.Import | ast.ImportFrom) -> None:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.partition(".")[0]
                self.aliases[bound] = alias.name if alias.asname else bound
                self.modules.add(bound)
            return
        module = statement.module or ""
        for alias in statement.names:
            if alias.name == "*":
                for name, target in _STAR_IMPORTS.get(module, {}).items():
                    self.aliases[name] = target
                continue
            bound = alias.asname or alias.name
            self.aliases[bound] = f"{module}.{alias.name}" if module else alias.name
            self.modules.add(bound)

    def _call(self, number: int, call: ast.Call, statement: ast.stmt, calling: set[str]) -> list[RandomUse]:
        """The unseeded draws of one call (a seed call seeds instead)."""
        name = self._qualified(call.func)
        written = _written(call.func)

        def use(family: str) -> list[RandomUse]:
            return [RandomUse(number, call.lineno, written, family, number)]

        if isinstance(call.func, ast.Name) and call.func.id in self.functions and call.func.id not in calling:
            body = self.functions[call.func.id]
            inner = [c for c in _calls(body, enter=True) if c is not call]
            found = []
            for c in inner:
                found.extend(self._call(number, c, statement, calling | {call.func.id}))
            return [replace(u, line=call.lineno, call=f"{written}() -> {u.call}") for u in found[:1]]
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            receiver = call.func.value.id
            if receiver in self.generators and receiver not in self.aliases:
                if call.func.attr in ("seed", "manual_seed") and _has_seed(call):
                    self.generators[receiver] = True
                    return []
                return [] if self.generators[receiver] else use(UNSEEDABLE)
        if name is None:  # a method of some object: a frame's .sample(), a distribution's .rvs()
            backed = isinstance(call.func, ast.Attribute) and call.func.attr in _GLOBAL_BACKED_METHODS
            if (
                backed
                and not _keyword_given(call, ("random_state", "random_seed", "seed"))
                and NUMPY not in self.seeded
            ):
                return use(NUMPY)
            return []
        last = name.rsplit(".", 1)[-1]
        if name in _GENERATORS:
            seeded = self._seeded_generator(call)
            if call in self.consumed:
                return []  # PCG64() in Generator(PCG64()): the outer call answers for it
            target = _assigned_name(statement, call)
            if target is None:  # used at once (default_rng().normal()): its draws are unseeded
                return [] if seeded else use(UNSEEDABLE)
            self.generators[target] = seeded  # rng = default_rng(): what draws from rng counts
            self.bound.add(target)
            self.aliases.pop(target, None)
            return []
        if name in _UNSEEDABLE_CALLS or name.startswith("secrets."):
            return use(UNSEEDABLE)
        if name == "numpy.random.seed" or name == "numpy.random.set_state":
            self._seed(call, NUMPY)
            return []
        if name in ("random.seed", "random.setstate"):
            self._seed(call, RANDOM)
            return []
        if name.startswith("torch.") and last == "manual_seed":
            self._seed(call, TORCH)
            return []
        if name in ("tensorflow.random.set_seed", "tensorflow.set_random_seed"):
            self._seed(call, TENSORFLOW)
            return []
        if last in _SEED_ALL:
            self._seed(call, *_FAMILIES)
            return []
        family = _family_of(name, call)
        if family is None or family in self.seeded:
            return []
        return use(family)

    def _seed(self, call: ast.Call, *families: str) -> None:
        if _has_seed(call):
            self.seeded.update(families)
        else:  # seed() with no value reseeds from the OS: unseeded from here on
            self.seeded.difference_update(families)

    def _seeded_generator(self, call: ast.Call) -> bool:
        if not _has_seed(call):
            return False
        first = call.args[0] if call.args else next(k.value for k in call.keywords if k.arg is not None)
        if isinstance(first, ast.Call) and self._qualified(first.func) in _GENERATORS:
            self.consumed.add(first)
            return self._seeded_generator(first)  # Generator(PCG64()) is as seeded as its bit generator
        if isinstance(first, ast.Name) and first.id in self.generators:
            return self.generators[first.id]
        return True

    def _qualified(self, node: ast.AST) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in self.generators:
            return None
        root = self.aliases.get(node.id)
        return None if root is None else ".".join([root, *reversed(parts)])

    # --- values drawn, and who reads them --------------------------------------------------------

    def _reads_tainted(self, statement: ast.stmt) -> dict[str, RandomUse]:
        return {
            node.id: self.tainted[node.id]
            for node in _nodes(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.tainted
        }

    def _propagate(self, statement: ast.stmt, draws: list[RandomUse]) -> None:
        origin = draws[0] if draws else next(iter(self._reads_tainted(statement).values()), None)
        stored = set(_stored_names(statement))
        if origin is None:
            if isinstance(statement, ast.Assign):  # x = 5 replaces a drawn value
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        self.tainted.pop(target.id, None)
            return
        stored |= {r for r in _receivers(statement) if r not in self.modules and r not in self.aliases}
        for name in stored:
            self.tainted[name] = origin


def _family_of(name: str, call: ast.Call) -> str | None:
    """Which global generator a call to ``name`` draws from; None when it draws from none."""
    module, _, last = name.rpartition(".")
    if module == "numpy.random":
        return None if last in _NUMPY_NOT_DRAWS else NUMPY
    if module == "random":
        return RANDOM if last in _RANDOM_DRAWS else None
    if name.startswith("torch."):
        if _keyword_given(call, ("generator",)):
            return None
        if module == "torch" and last in _TORCH_DRAWS:
            return TORCH
        if (module == "torch.nn" and last in _TORCH_LAYERS) or module == "torch.nn.init":
            return TORCH
        return None
    if module == "tensorflow.random":
        if last in _TENSORFLOW_NOT_DRAWS or _keyword_given(call, ("seed",)):
            return None
        return TENSORFLOW
    if name.startswith("sklearn.") and last in _SKLEARN_DRAWS:
        return None if _keyword_given(call, ("random_state",)) else NUMPY
    if last in _GLOBAL_BACKED_METHODS and module:  # scipy.stats.norm.rvs, a frame's .sample
        return None if _keyword_given(call, ("random_state", "random_seed", "seed")) else NUMPY
    return None


def _has_seed(call: ast.Call) -> bool:
    """A seed value was given: a first argument, or any keyword, that is not None."""
    values = [*call.args[:1], *(k.value for k in call.keywords if k.arg is not None)]
    return any(not (isinstance(v, ast.Constant) and v.value is None) for v in values)


def _keyword_given(call: ast.Call, names: Iterable[str]) -> bool:
    return any(
        k.arg in names and not (isinstance(k.value, ast.Constant) and k.value.value is None) for k in call.keywords
    )


def _written(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression ast.parse makes
        return "a call"


def _nodes(node: ast.AST, enter: bool = False) -> Iterator[ast.AST]:
    """Every node under ``node`` in source order, not entering nested function or class bodies unless ``enter``."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = list(ast.iter_child_nodes(current))
        if (
            not enter
            and current is not node
            and isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ):
            continue
        stack.extend(reversed(children))


def _calls(node: ast.AST, enter: bool = False) -> list[ast.Call]:
    calls = [n for n in _nodes(node, enter) if isinstance(n, ast.Call)]
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def _assigned_name(statement: ast.stmt, call: ast.Call) -> str | None:
    """``rng`` for ``rng = np.random.default_rng(...)``: the one name a call's value is bound to."""
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is call:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id
    return None


def _stored_names(statement: ast.stmt) -> Iterator[str]:
    for node in _nodes(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                yield base.id


def _receivers(statement: ast.stmt) -> Iterator[str]:
    """Names whose methods a statement calls (``ax`` in ``ax.scatter(x, y)``): they may keep what they were given."""
    for node in _nodes(statement):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            yield node.func.value.id


def notebook_cell_sources(path: Path) -> list[str]:
    """The sources of a notebook's cells in order, "" for cells that are not code; [] when it cannot be read."""
    try:
        cells = nbformat.read(path, as_version=4).cells
    except Exception:
        return []
    return [cell.source if cell.cell_type == "code" else "" for cell in cells]


# --- classifying a replay's differences -------------------------------------------------------

_BAD = (OutputStatus.DIFFERENT, OutputStatus.MISSING)
_PLANTED = "symlink"  # the rule ``replay.workdir.flag_symlinks`` names on a symlink the sandbox left


def explain_differences(
    outputs: Sequence[OutputComparison],
    package: Package,
    recorded_root: Path,
    produced_root: Path,
    rule_for: Callable[[str], ComparisonRule],
    windows: RunWindows | None = None,
) -> list[OutputComparison]:
    """The outputs, each different or missing one with randomness named (``nondeterminism``, ``hint``).

    ``rule_for`` gives the comparison rule of a package path and ``windows``
    the runs' windows (both as the comparison used them), so a notebook's
    differing cells are found as the comparison found them. A symlink the
    sandbox planted is never explained: it is no output of the notebooks.
    """
    judge = _Judge(package, recorded_root, produced_root, rule_for, windows)
    return [judge.explain(o) if o.status in _BAD and o.rule != _PLANTED else o for o in outputs]


def nondeterministic_cause(
    outputs: Sequence[OutputComparison], package: Package, recorded_root: Path
) -> FailureCause | None:
    """The ``nondeterministic`` cause when every different or missing output is nondeterministic at source.

    None when nothing differs, or when one difference is anything else: a real
    difference is never excused by randomness elsewhere.
    """
    bad = [o for o in outputs if o.status in _BAD]
    if not bad or any(o.nondeterminism is not Nondeterminism.AT_SOURCE for o in bad):
        return None
    return _Judge(package, recorded_root, recorded_root, lambda path: None).cause(bad)


class _Judge:
    def __init__(
        self,
        package: Package,
        recorded_root: Path,
        produced_root: Path,
        rule_for: Callable[[str], ComparisonRule | None],
        windows: RunWindows | None = None,
    ) -> None:
        self.package = package
        self.windows = windows
        self.recorded_root = recorded_root
        self.produced_root = produced_root
        self.rule_for = rule_for
        self.at_source: Mapping[str, NondeterministicOutput] = {n.path: n for n in package.nondeterministic}
        self.notebooks = {f.path for f in package.notebooks()}
        self._uses: dict[str, list[RandomUse]] = {}

    def uses(self, notebook: str) -> list[RandomUse]:
        if notebook not in self._uses:
            self._uses[notebook] = unseeded_random_uses(notebook_cell_sources(self.recorded_root / notebook))
        return self._uses[notebook]

    def explain(self, o: OutputComparison) -> OutputComparison:
        o = replace(o, nondeterminism=None, hint="")  # judged afresh (a re-judgement passes judged outputs)
        if self.package.export_runs > 1:
            return self._at_source(o)
        return self._likely(o)

    # --- exported with --runs 2: what export saw differ -------------------------------------------

    def _at_source(self, o: OutputComparison) -> OutputComparison:
        runs = self.package.export_runs
        recorded = self.at_source.get(o.path)
        if recorded is None:
            return replace(
                o, hint=f"the same in all {runs} runs of the export: randomness does not explain this difference"
            )
        by_cell = hasattr(self.rule_for(o.path), "differing_cells")
        if o.status is OutputStatus.DIFFERENT and o.path in self.notebooks and recorded.cells and by_cell:
            now = self._differing_cells(o.path)
            if now is None:
                return replace(o, hint="its cells no longer line up with the recorded ones")
            extra = sorted(set(now) - set(recorded.cells))
            if extra:
                return replace(
                    o,
                    hint=f"{_cells(extra)} {_differ(extra)} now but {_were(extra)} the same in all {runs} runs of the export "
                    f"(only {_cells(recorded.cells)} differed there): randomness does not explain it",
                )
            shown = _cells(sorted(now) or recorded.cells)
            return replace(
                o,
                nondeterminism=Nondeterminism.AT_SOURCE,
                hint=f"nondeterministic at source: {shown} differed between the {runs} runs of the export too",
            )
        return replace(
            o,
            nondeterminism=Nondeterminism.AT_SOURCE,
            hint=f"nondeterministic at source: it differed between the {runs} runs of the export too",
        )

    # --- exported once: what the code says ------------------------------------------------------

    def _likely(self, o: OutputComparison) -> OutputComparison:
        if o.status is not OutputStatus.DIFFERENT:
            return o
        if o.path in self.notebooks:
            now = self._differing_cells(o.path)
            if not now:
                return o
            by_cell = {u.cell: u for u in reversed(self.uses(o.path))}
            explained = [by_cell[c] for c in sorted(now) if c in by_cell]
            if not explained:
                return o
            unexplained = sorted(set(now) - {u.cell for u in explained})
            said = "; ".join(u.describe() for u in explained[:3]) + (" ..." if len(explained) > 3 else "")
            if unexplained:
                return replace(
                    o, hint=f"{said}; but {_cells(unexplained)} {_differ(unexplained)} with no unseeded random call"
                )
            return replace(
                o, nondeterminism=Nondeterminism.LIKELY, hint=f"likely nondeterministic: {said}; {_advice(explained)}"
            )
        writers = [r.notebook for r in self.package.runs if o.path in r.outputs]
        for notebook in writers:
            direct = [u for u in self.uses(notebook) if not u.via]
            if direct:
                said = f"written by {notebook}, where {direct[0].describe()}"
                more = len({u.cell for u in direct}) - 1
                said += f" (and {more} more cell{'s' if more > 1 else ''})" if more else ""
                return replace(
                    o, nondeterminism=Nondeterminism.LIKELY, hint=f"likely nondeterministic: {said}; {_advice(direct)}"
                )
        return o

    def _differing_cells(self, notebook: str) -> dict[int, str] | None:
        by_cell = getattr(self.rule_for(notebook), "differing_cells", None)
        if by_cell is None:
            return None
        try:
            context = self.windows.context(notebook) if self.windows else NO_CONTEXT
            return by_cell(self.recorded_root / notebook, self.produced_root / notebook, context)
        except Exception:  # the comparison already said it cannot read it
            return None

    # --- the cause ----------------------------------------------------------------------------------

    def cause(self, bad: Sequence[OutputComparison]) -> FailureCause:
        runs = self.package.export_runs
        named = []
        for o in bad:
            recorded = self.at_source[o.path]
            named.append(f"{o.path} ({_cells(recorded.cells)})" if recorded.cells else o.path)
        uses = [(nb, u) for nb in sorted(self.notebooks) for u in self.uses(nb) if not u.via]
        notebook = next((o.path for o in bad if o.path in self.notebooks), None)
        cells = self.at_source[notebook].cells if notebook else ()
        what = "the notebooks draw random numbers without a seed" if uses else "the notebooks differ from run to run"
        detail = (
            f"{what}: every difference ({'; '.join(named)}) also differed between the {runs} runs of the export, "
            "in one environment on the same inputs, so the environment is not to blame. "
            + (f"In {uses[0][0]}, {uses[0][1].describe()}; " if uses else "")
            + f"{_advice([u for _, u in uses])}, and export again"
        )
        return FailureCause(CauseKind.NONDETERMINISTIC, detail, notebook, cells[0] if cells else None)


def _differ(numbers: Sequence[int]) -> str:
    return "differs" if len(numbers) == 1 else "differ"


def _were(numbers: Sequence[int]) -> str:
    return "was" if len(numbers) == 1 else "were"


def _cells(numbers: Sequence[int]) -> str:
    listed = list(numbers)
    if len(listed) > 8:
        return f"{len(listed)} cells"
    return ("cell " if len(listed) == 1 else "cells ") + ", ".join(map(str, listed))


def _advice(uses: Sequence[RandomUse]) -> str:
    """How to seed what ``uses`` draw from: "to fix it, call np.random.seed(0) first, ..."."""
    families = list(dict.fromkeys(u.family for u in uses))
    if not families:
        return "to fix it, seed every random number generator the notebooks use"
    return "to fix it, " + "; and ".join(SEEDING[f] for f in families)
