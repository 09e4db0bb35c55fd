"""Export cost against running the notebook: `repropack export` vs `jupyter nbconvert --execute`.

Both run the bundled example notebook (pandas + matplotlib) in a copy of the
example project, alternately, in one run, so machine noise hits both alike.
Also times an unchanged re-export with --no-execute (hash cache warm). Prints a
table; the goal is export <= 1.05 x nbconvert. With --stages, one more export runs
under cProfile and the time of each stage of the pipeline is printed (the main
thread's: the index lookups in the background show as the wait in hash_lock).

    python bench/bench_export.py [--repeat 5] [--stages]
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "claims-analysis"
BIN = Path(sys.executable).parent


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed


#: (module file, function) of the export's stages, in pipeline order, with what each does.
STAGES = (
    ("core.py", "main", "the command (click), after interpreter start-up and the CLI's imports"),
    ("pipeline.py", "export_project", "the export pipeline"),
    ("pipeline.py", "_capture", "running the notebook (kernel start, cells, snapshots)"),
    ("scan.py", "scan_packed_files", "secrets and restricted data: one read of each packed file"),
    ("hashing.py", "hash_files", "sha256 of the packed files (hash cache)"),
    ("pipeline.py", "_describe_environment", "lock, index hashes, environment"),
    ("pipindex.py", "configured_index", "pip's configured index (user cache, else pip config)"),
    ("hashes.py", "hash_lock", "artifact hashes of the pins (user cache, else the index)"),
    ("restricted_guard.py", "refuse_restricted_leaks", "restricted-data guard on what is packed"),
    ("secrets.py", "find_secrets_in_written", "secrets in the metadata and repropack's own files"),
    ("git.py", "git_provenance", "git commit, remote and status"),
    ("metadata.py", "build_metadata", "RO-Crate metadata"),
    ("writer.py", "write_package", "the deterministic zip"),
)


def _stages(command: list[str], cwd: Path, profile: Path) -> None:
    """Run ``command`` (a repropack console script) once under cProfile and print each stage's time."""
    started = time.perf_counter()
    _timed([sys.executable, "-m", "cProfile", "-o", str(profile), *command], cwd)
    wall = time.perf_counter() - started
    found: dict[tuple[str, str], float] = {}
    for (file, _, function), (_, _, _, cumulative, _) in pstats.Stats(str(profile)).stats.items():  # type: ignore[attr-defined]
        key = (Path(file).name, function)
        found[key] = max(found.get(key, 0.0), cumulative)
    print(f"{'stage (one export under cProfile)':34} {'s':>6}  what")
    print(f"{'-' * 34} {'-' * 6}  ----")
    print(f"{'wall, whole process':34} {wall:6.3f}  interpreter start-up, imports, the command, exit")
    for file, function, what in STAGES:
        if (file, function) in found:
            print(f"{function:34} {found[(file, function)]:6.3f}  {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stages", action="store_true", help="also print the stages of one export (cProfile)")
    args = parser.parse_args()
    if not (BIN / "jupyter-nbconvert").exists():
        sys.exit("jupyter nbconvert is not installed in this interpreter: pip install nbconvert")
    with tempfile.TemporaryDirectory(prefix="repropack-bench-export-") as tmp:
        work = Path(tmp)
        project = work / "claims-analysis"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("outputs"))
        nbconvert = [
            str(BIN / "jupyter-nbconvert"),
            "--to",
            "notebook",
            "--execute",
            "analysis.ipynb",
            "--output",
            str(work / "executed.ipynb"),
        ]
        export = [str(BIN / "repropack"), "export", str(project), "-o", str(work / "pkg.zip"), "--force"]
        reexport = [*export, "--no-execute"]
        _timed(nbconvert, project)  # warm-up: imports, page cache, hash cache
        _timed(export, project)
        times: dict[str, list[float]] = {"nbconvert": [], "export": [], "reexport": []}
        for _ in range(args.repeat):
            times["nbconvert"].append(_timed(nbconvert, project))
            times["export"].append(_timed(export, project))
            times["reexport"].append(_timed(reexport, project))
        if args.stages:
            _stages([str(BIN / "repropack"), *export[1:]], project, work / "export.prof")
    base = statistics.median(times["nbconvert"])
    rows = [
        ("jupyter nbconvert --execute", times["nbconvert"], "baseline: runs the notebook, nothing else"),
        ("repropack export (zip)", times["export"], "goal <= 1.05 x baseline"),
        ("repropack export --no-execute", times["reexport"], "unchanged re-export, hash cache warm"),
    ]
    print(f"{'case':32} {'median s':>9} {'min s':>7} {'ratio':>6}  notes")
    print(f"{'-' * 32} {'-' * 9} {'-' * 7} {'-' * 6}  -----")
    for name, values, note in rows:
        median = statistics.median(values)
        print(f"{name:32} {median:9.3f} {min(values):7.3f} {median / base:6.3f}  {note}")
    print(f"({args.repeat} alternating runs each, example project {EXAMPLE.name})")


if __name__ == "__main__":
    main()
