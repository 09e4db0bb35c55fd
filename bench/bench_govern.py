"""Benchmark `repropack govern run`: 20 small replays on 1 and on 2 workers, and the scheduling cost per replay.

Two cases (``CASES``): a one-cell stdlib project that prints a number, the smallest replay there is, and a
figure notebook as papers have them (seeded numpy data, a CSV and a matplotlib PNG). Each project is exported
once with `repropack export` and imported 20 times under other titles (each copy is its own package, so a policy
selects 20 versions), all sharing one environment image, built or found by a warm-up replay before anything is
timed. Then, in one run:

* throughput, per case: `repropack govern run` of a policy selecting all 20, with `--workers 1` and `--workers 2` (a
  LocalCluster of single-threaded worker processes each time), wall time from the command's start to its end,
  in 3 rounds each in the order 1 2 2 1 1 2 (a run on this machine varies by up to a third from the next, so
  one pair of runs is not a ratio); the table gives each count's median and range, the ratio the medians'.
  Goal: >= 1.8x with 2 workers.
* the engine alone, for reference: 10 bare containers of the first case's image (`docker run --rm --network none
  IMAGE python -c pass`, locked down as a replay's), one after another and two at a time, 2 rounds: what
  running two at once gains on this machine before any replay work (the part of a replay that gains least).
* scheduling overhead, on the first case: the 20 tasks of another policy run, replayed alternately in blocks by calling
  `replay_task` in this process and through the Dask executor (a LocalCluster of 1 worker, started and warmed
  before timing). The overhead per replay is the mean Dask wall time per task minus the mean direct call.
  Goal: < 5 % of a warm replay.

    python bench/bench_govern.py [--packages 20] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from repropack.govern.executors import EXECUTORS, WORKER_PROFILER
from repropack.govern.state import open_policy_run
from repropack.govern.task import replay_task
from repropack.model.governance import Policy, ReplayTask, Selection, TaskOutcome, TaskState
from repropack.repository.opened import Repository
from repropack.repository.selection import select_versions

RATIO_GOAL = 1.8
OVERHEAD_GOAL = 0.05
PROJECT_TOML = (
    'title = "Tau study"\ndescription = "A small study for the govern benchmark."\nlicense = "MIT"\n'
    '[[authors]]\nname = "Ada Example"\norcid = "https://orcid.org/0000-0002-1825-0097"\n'
)


def notebook(source: str) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                   "source": source}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


#: The replayed packages, the smallest first: a name for the table and the one notebook's source.
CASES = {
    "one print (stdlib)": (
        "import math, os\nos.makedirs('results', exist_ok=True)\n"
        "with open('results/tau.txt', 'w') as fh:\n    fh.write(f'tau = {math.tau:.6f}\\n')\n"
        "print(f'tau = {math.tau:.6f}')"
    ),
    # The shape of a paper's figure notebook: seeded data, a CSV and a PNG written, a number printed.
    "a figure (numpy, matplotlib)": (
        "import os\nimport numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "rng = np.random.default_rng(7)\nx = np.linspace(0, 4 * np.pi, 400)\n"
        "y = np.sin(x) + rng.normal(0, 0.2, x.size)\nos.makedirs('results', exist_ok=True)\n"
        "np.savetxt('results/series.csv', np.c_[x, y], delimiter=',', fmt='%.6f')\n"
        "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot(x, y, lw=0.8)\nax.set_title('noisy sine')\n"
        "fig.savefig('results/figure.png', dpi=80, metadata={'Software': None})\n"
        "print(f'mean = {y.mean():.4f}')"
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="govern runs per worker count (default 3)")
    parser.add_argument("--quick", action="store_true", help="6 packages, 1 round: a check that the bench runs")
    args = parser.parse_args()
    count, rounds = (6, 1) if args.quick else (args.packages, max(1, args.rounds))
    with tempfile.TemporaryDirectory(prefix="repropack-bench-govern-") as scratch:
        isolate(Path(scratch) / "home")
        results: dict[str, dict[int, list[GovernRun]]] = {}
        for n, (case, source) in enumerate(CASES.items()):
            root = Path(scratch) / f"case-{n}"
            root.mkdir()
            repository = make_repository(root, count, source)
            image = warm_up(root, repository)
            runs: dict[int, list[GovernRun]] = {1: [], 2: []}
            for m, workers in enumerate(round_order(rounds)):
                runs[workers].append(govern_run(root, repository, f"throughput-{m}", workers, count))
            results[case] = runs
            if n == 0:  # the smallest replay: where the engine and the dispatch weigh most
                engine = engine_alone(image, 4 if args.quick else 10, 1 if args.quick else 2)
                cost = overhead(root, repository)
    report_throughput(count, rounds, results)
    report_engine(engine)
    report_overhead(cost)
    return 0


def round_order(rounds: int) -> list[int]:
    """Worker counts in ABBA order (1 2, 2 1, 1 2, ...), so a drift of the machine over the bench weighs on both."""
    return [workers for n in range(rounds) for workers in ((1, 2) if n % 2 == 0 else (2, 1))]


@dataclass(frozen=True)
class GovernRun:
    """One `repropack govern run`: its wall seconds and the machine's cores busy on average meanwhile (all
    processes: engine, kernels, Dask)."""

    seconds: float
    busy_cores: float


def report_throughput(count: int, rounds: int, results: dict[str, dict[int, list[GovernRun]]]) -> None:
    print(f"{count} replays of one package (one shared image) per case, `repropack govern run`, wall time")
    print(f"{rounds} run(s) per worker count, alternating; median (range) of each")
    print(
        f"{'case':<30} {'workers':>7} {'seconds':>8} {'range':>11} {'per replay':>10} {'ratio':>6} {'cores busy':>10}"
    )
    for case, runs in results.items():
        medians = {workers: statistics.median(r.seconds for r in done) for workers, done in runs.items()}
        for workers, done in runs.items():
            seconds, ratio = medians[workers], medians[1] / medians[workers]
            spread = f"{min(r.seconds for r in done):.1f}-{max(r.seconds for r in done):.1f}"
            cores = f"{statistics.median(r.busy_cores for r in done):.2f}/{os.cpu_count()}"
            goal = "" if workers == 1 else f"  goal >= {RATIO_GOAL}x: {'met' if ratio >= RATIO_GOAL else 'MISSED'}"
            print(
                f"{case if workers == 1 else '':<30} {workers:>7} {seconds:>8.2f} {spread:>11} {seconds / count:>10.2f}"
                f" {ratio:>6.2f} {cores:>10}{goal}"
            )


def engine_alone(image: str, count: int, rounds: int) -> dict[int, list[float]]:
    """Seconds ``count`` bare containers of ``image`` take one after another (1) and as two streams (2), in
    ``rounds`` alternating rounds."""
    import concurrent.futures

    command = ["docker", "run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL"]
    command += ["--security-opt", "no-new-privileges", "--tmpfs", "/tmp", image, "python", "-c", "pass"]

    def containers(n: int) -> None:
        for _ in range(n):
            subprocess.run(command, check=True, capture_output=True)

    found: dict[int, list[float]] = {1: [], 2: []}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for streams in round_order(rounds):
            started = time.perf_counter()
            list(pool.map(containers, [count // streams] * streams))
            found[streams].append(time.perf_counter() - started)
    return found


def report_engine(engine: dict[int, list[float]]) -> None:
    one, two = (statistics.median(engine[streams]) for streams in (1, 2))
    print(
        f"the engine alone: {len(engine[1])} round(s) of bare containers, one after another {one:.2f} s, "
        f"two at a time {two:.2f} s: {one / two:.2f}x (what two at once gain before any replay work)"
    )


def report_overhead(cost: Overhead) -> None:
    direct = statistics.median(cost.direct)
    dispatched = statistics.median(cost.dispatched)
    share = (dispatched - direct) / direct
    print()
    print(f"scheduling overhead per replay ({len(cost.direct)} direct, {len(cost.dispatched)} through Dask, 1 worker)")
    print(f"{'case':<40} {'median s':>8} {'mean s':>8}")
    rows = [
        ("replay_task called directly", cost.direct),
        ("through the Dask executor", cost.dispatched),
        ("  worker idle between two replays", cost.round_trips),
        ("  client connect + first dispatch", cost.connect),
    ]
    for name, seconds in rows:
        if seconds:
            print(f"{name:<40} {statistics.median(seconds):>8.3f} {statistics.fmean(seconds):>8.3f}")
    print(f"{'LocalCluster start (once per run)':<40} {cost.cluster_start:>8.3f}")
    verdict = "met" if share < OVERHEAD_GOAL else "MISSED"
    print(
        f"overhead {dispatched - direct:+.3f} s per replay (medians) = {share:+.1%} of a warm replay "
        f"(goal < {OVERHEAD_GOAL:.0%}: {verdict})"
    )


def isolate(home: Path) -> None:
    """Config, caches and temp folders of this run only: no user setting or key leaks in, nothing is left."""
    (home / "tmp").mkdir(parents=True)
    os.environ.update(
        XDG_CONFIG_HOME=str(home / "config"), REPROPACK_CACHE_DIR=str(home / "cache"), TMPDIR=str(home / "tmp")
    )
    os.environ.pop("REPROPACK_CONFIG", None)
    tempfile.tempdir = None  # re-read TMPDIR


def repropack(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "repropack", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"repropack {' '.join(map(str, args))}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return done


def make_repository(root: Path, count: int, source: str) -> Path:
    """A repository holding ``count`` copies of one exported package (one notebook of ``source``), each under
    its own title."""
    project = root / "project"
    project.mkdir()
    (project / "repropack.toml").write_text(PROJECT_TOML)
    (project / "analysis.ipynb").write_text(json.dumps(notebook(source)))
    repropack("export", project, "-o", root / "package")
    copies = [retitled(root / "package", root / "copies" / f"p{n:02d}", f"Tau study {n}") for n in range(count)]
    repository = root / "repo"
    repropack("repository", "init", "--repository", repository)
    (repository / "policy.toml").write_text('profiles = "off"\n')  # profile validation is import's cost, not this
    imported = json.loads(repropack("import", *copies, "--repository", repository, "--json").stdout)["imports"]
    if len(imported) != count:
        sys.exit(f"imported {len(imported)} packages, expected {count}")
    return repository


def retitled(package: Path, target: Path, title: str) -> Path:
    shutil.copytree(package, target)
    metadata = target / "ro-crate-metadata.json"
    graph = json.loads(metadata.read_text())
    for entity in graph["@graph"]:
        if entity.get("@id") == "./":
            entity["name"] = title
    metadata.write_text(json.dumps(graph, indent=2))
    return target


def warm_up(root: Path, repository: Path) -> str:
    """Build (or find) the shared image, and warm the engine and the page cache, before anything is timed; the
    image's reference."""
    verdict = json.loads(repropack("replay", root / "package", "--record", root / "warm-record", "--json").stdout)
    if verdict["verdict"] != "reproduced":
        sys.exit(f"the bench package did not reproduce: {verdict.get('cause')}")
    return verdict["image"]


def write_policy(root: Path, name: str, workers: int) -> Path:
    path = root / f"{name}.toml"
    path.write_text(f'name = "{name}"\nworkers = {workers}\nretries = 0\n')
    return path


def govern_run(root: Path, repository: Path, name: str, workers: int, count: int) -> GovernRun:
    """`repropack govern run` of a new policy replaying every package on ``workers`` workers."""
    policy = write_policy(root, name, workers)
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    done = repropack("govern", "run", policy, "--workers", str(workers), "--json", "--repository", repository)
    seconds = time.perf_counter() - started
    busy_cores = (busy_cpu_seconds() - busy_before) / seconds
    outcomes = json.loads(done.stdout)["tasks"]
    verdicts = [(o["state"], o["verdict"]) for o in outcomes]
    if verdicts != [("done", "reproduced")] * count:
        sys.exit(f"{name}: expected {count} reproduced replays, got {verdicts}")
    return GovernRun(seconds, busy_cores)


def busy_cpu_seconds() -> float:
    """CPU seconds this machine's cores have been busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed_replay(location, policy: Policy, retries: int, task: ReplayTask) -> TaskOutcome:
    """``replay_task``, its outcome's ``seconds`` the whole call (what the worker spent on the task)."""
    started = time.perf_counter()
    outcome = replay_task(location, policy, task, retries)
    return replace(outcome, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class Overhead:
    """Seconds per replay: ``direct`` calls of replay_task in this process; ``dispatched`` through Dask (the time
    from the block's start, or the previous outcome, to each outcome); ``round_trips`` the part of each of those
    the worker was not replaying (submit, result, next submit); ``connect`` each block's client connection and
    first dispatch; ``cluster_start`` starting the LocalCluster (once per `govern run`)."""

    direct: list[float]
    dispatched: list[float]
    round_trips: list[float]
    connect: list[float]
    cluster_start: float


def overhead(root: Path, repository_root: Path, rounds: int = 3) -> Overhead:
    """The tasks of a new policy run, replayed directly and through Dask in ``rounds`` alternating blocks."""
    import dask
    from distributed import LocalCluster

    policy = Policy(name="overhead", source=root / "overhead.toml", sha256=hashlib.sha256(b"overhead").hexdigest())
    with Repository.open(repository_root) as repository:
        location = repository.location
        run = open_policy_run(repository, policy, select_versions(repository, Selection()), {})
    tasks = list(run.pending)
    work = partial(timed_replay, location, policy, 0)
    started = time.perf_counter()
    with dask.config.set({WORKER_PROFILER: False}):  # as the executor starts its own LocalCluster
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
    found = Overhead([], [], [], [], cluster_start=time.perf_counter() - started)
    try:
        executor = EXECUTORS.get("dask")(scheduler=cluster.scheduler_address)
        for warm in (tasks.pop(0), tasks.pop(0)):  # imports and first connections, on both sides
            check(work(warm))
            dispatch_block(executor, [warm], work)
        block = max(1, len(tasks) // (2 * rounds))
        while len(tasks) >= 2 * block:
            mine, tasks = tasks[:block], tasks[block:]
            for task in mine:
                started = time.perf_counter()
                check(replay_task(location, policy, task, 0))
                found.direct.append(time.perf_counter() - started)
            theirs, tasks = tasks[:block], tasks[block:]
            started, arrivals = dispatch_block(executor, theirs, work)
            previous = started
            for arrived, outcome in arrivals:
                found.dispatched.append(arrived - previous)
                if previous == started:
                    found.connect.append(arrived - previous - outcome.seconds)
                else:
                    found.round_trips.append(arrived - previous - outcome.seconds)
                previous = arrived
    finally:
        cluster.close()
    return found


def dispatch_block(executor, tasks: list[ReplayTask], work) -> tuple[float, list[tuple[float, TaskOutcome]]]:
    """When ``executor`` started running ``tasks`` on 1 worker, and when each outcome arrived."""
    arrivals: list[tuple[float, TaskOutcome]] = []
    started = time.perf_counter()
    outcomes = executor.run(
        tasks,
        work,
        workers=1,
        retries=0,
        on_outcome=lambda o: arrivals.append((time.perf_counter(), o)),
        should_stop=_never,
    )
    check_all(outcomes)
    return started, arrivals


def _never() -> bool:
    return False


def check(outcome: TaskOutcome) -> TaskOutcome:
    if outcome.state is not TaskState.DONE or outcome.verdict != "reproduced":
        sys.exit(f"{outcome.public_id}: {outcome.state.value} {outcome.verdict} {outcome.detail}")
    return outcome


def check_all(outcomes: list[TaskOutcome]) -> None:
    for outcome in outcomes:
        check(outcome)


if __name__ == "__main__":
    sys.exit(main())
