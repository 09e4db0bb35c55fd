"""Export cost against running the notebook: `repropack export` vs `jupyter nbconvert --execute`.

Both run the bundled example notebook (pandas + matplotlib) in a copy of the
example project, alternately, in one run, so machine noise hits both alike.
Also times an unchanged re-export with --no-execute (hash cache warm) and the
stages of one export. Prints a table; the goal is export <= 1.15 x nbconvert.

    python bench/bench_export.py [--repeat 5]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
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
    base = statistics.median(times["nbconvert"])
    rows = [
        ("jupyter nbconvert --execute", times["nbconvert"], "baseline: runs the notebook, nothing else"),
        ("repropack export (zip)", times["export"], "goal <= 1.15 x baseline"),
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
