"""Export at data scale: `repropack export --no-execute` of 1 GiB in 2,000 files against `sha256sum`.

Packs bench_hashing's dataset (the same generator: 1 GiB in 2,000 files of
log-normal sizes; ``--large`` adds one run on 4 GiB) in a project of one
notebook, running ``repropack export --no-execute`` as a subprocess, the
command a user runs. Alternately, in one run, so machine noise hits all alike:
coreutils ``sha256sum`` over the same files (one process: the baseline), then a
first export to a folder and to a zip (files never hashed, no previous output;
the environment's cached answers kept, as after any earlier export) each followed
by an unchanged re-export over it (``--force``), and one export with every cache
empty. The page cache is warm. Each line is the median of ``--repeat``
runs; peak RSS is the export process's (``wait4``'s ru_maxrss).

With ``--before SRC`` (a checkout's ``src`` folder, e.g. from ``git archive``),
each round also runs the same four exports with that code on ``PYTHONPATH``:
the same table for the code before a change, in the same run.

    python bench/bench_export_data.py [--repeat 3] [--large] [--before SRC]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from bench_hashing import DATASET_BYTES, ensure_dataset, read_all

BIN = Path(sys.executable).parent

GOAL_FOLDER_VS_SHA256SUM = 1.0
GOAL_ZIP_VS_SHA256SUM = 1.5
GOAL_AGAIN_VS_FIRST = 0.5

Round = dict[str, tuple[float, int]]  # case -> (wall seconds, peak RSS KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds; the median is shown")
    parser.add_argument("--large", action="store_true", help="also one round on a 4 GiB dataset (about 2 min)")
    default_dir = Path(os.environ.get("REPROPACK_BENCH_DIR", Path(tempfile.gettempdir()) / "repropack-bench"))
    parser.add_argument("--dir", type=Path, default=default_dir, help=f"dataset folder (default {default_dir})")
    parser.add_argument("--before", type=Path, help="also time the code in this src folder, alternately")
    args = parser.parse_args()
    cases = [(DATASET_BYTES, args.repeat)] + ([(4 * DATASET_BYTES, 1)] if args.large else [])
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    for total, repeat in cases:
        label = f"{total / 2**30:.0f} GiB"
        dataset = args.dir / ("dataset" if total == DATASET_BYTES else f"dataset-{total >> 30}GiB")
        ensure_dataset(dataset, total)
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="export-") as tmp:
            work = Path(tmp)
            project, files = _project(dataset, work)
            read_all(files)  # the page cache warm: the numbers compare the work, not the disk
            rounds, before = [], []
            for _ in range(repeat):
                rounds.append(_round(project, files, work, env))
                if args.before is not None:
                    before.append(_round(project, files, work, {**env, "PYTHONPATH": str(args.before.resolve())}))
        # One baseline for both tables: the median of every sha256sum run, the machine's noise shared.
        base = statistics.median(r["sha256sum"][0] for r in rounds + before)
        _print_table(label, len(files), repeat, rounds, base)
        if before:
            _print_table(f"{label}, code in {args.before}", len(files), repeat, before, base)


def _project(dataset: Path, root: Path) -> tuple[Path, list[Path]]:
    """A project of one notebook and the dataset's files (hard links: no second copy on disk)."""
    project = root / "project"
    files = []
    for source in sorted(dataset.rglob("*.bin")):
        target = project / "data" / source.relative_to(dataset)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        files.append(target)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print('hello')"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, project / "analysis.ipynb")
    (project / "repropack.toml").write_text('title = "Data bench"\nlicense = "MIT"\n')
    return project, files


def _round(project: Path, files: list[Path], work: Path, env: dict[str, str]) -> Round:
    """sha256sum; a first export with every cache empty; first and unchanged exports to a folder and a zip.

    "First" means these files were never hashed or packed (no hash cache, no previous package, no zip
    manifest), in an environment exported from before: the interpreter's facts and the index's answers
    are in the cache, as on a user's machine after any export. The "every cache empty" line has none.
    """
    command = [str(BIN / "repropack"), "export", str(project), "--no-execute", "--force", "-o"]
    found: Round = {"sha256sum": (_sha256sum(files), 0)}
    cold = work / "cache-cold"
    shutil.rmtree(cold, ignore_errors=True)
    _remove(work / "pkg-cold")
    found["folder cold"] = _export([*command, str(work / "pkg-cold")], work, {**env, "REPROPACK_CACHE_DIR": str(cold)})
    for kind, name in (("folder", "pkg"), ("zip", "pkg.zip")):
        output = work / name
        cache = work / f"cache-{kind}"
        run_env = {**env, "REPROPACK_CACHE_DIR": str(cache)}
        if not cache.exists():  # the environment's answers, from an export of something else
            _export([*command, str(work / f"warm-up-{name}")], work, run_env)
            _remove(work / f"warm-up-{name}")
        for packed in ("hashes.sqlite", "hashes.sqlite-wal", "hashes.sqlite-shm", "zips"):
            _remove(cache / packed)
        _remove(output)
        found[f"{kind} first"] = _export([*command, str(output)], work, run_env)
        found[f"{kind} again"] = _export([*command, str(output)], work, run_env)
    return found


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _sha256sum(files: list[Path]) -> float:
    listing = b"".join(os.fsencode(path) + b"\0" for path in files)
    started = time.perf_counter()
    subprocess.run(["xargs", "-0", "sha256sum", "--"], input=listing, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _export(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one export process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{stderr.decode(errors='replace')[-2000:]}")
    return elapsed, usage.ru_maxrss


def _print_table(label: str, count: int, repeat: int, rounds: list[Round], base: float) -> None:
    def median(case: str) -> float:
        return statistics.median(r[case][0] for r in rounds)

    def peak(case: str) -> str:
        return f"{max(r[case][1] for r in rounds) / 1024:.0f} MiB"

    lines = [("sha256sum (xargs -0, one process)", base, "", "baseline (median of every round's run)")]
    cold = median("folder cold")
    lines.append(("export to a folder, every cache empty", cold, peak("folder cold"), "also the index and interpreter"))
    for kind, goal in (("folder", GOAL_FOLDER_VS_SHA256SUM), ("zip", GOAL_ZIP_VS_SHA256SUM)):
        first, again = median(f"{kind} first"), median(f"{kind} again")
        verdict = "met" if first / base <= goal else "MISSED"
        lines.append((f"export to a {kind}, first", first, peak(f"{kind} first"), f"goal <= {goal}: {verdict}"))
        verdict = "met" if again / first <= GOAL_AGAIN_VS_FIRST else "MISSED"
        note = f"{again / first:.2f} x first; goal <= {GOAL_AGAIN_VS_FIRST}: {verdict}"
        lines.append((f"export to a {kind}, unchanged again", again, peak(f"{kind} again"), note))
    print(f"data-scale export: {label} in {count} files, page cache warm, median of {repeat} alternating rounds")
    print(f"{'case':34} {'median s':>9} {'ratio':>6} {'peak RSS':>9}  notes")
    print(f"{'-' * 34} {'-' * 9} {'-' * 6} {'-' * 9}  -----")
    for name, seconds, rss, note in lines:
        print(f"{name:34} {seconds:9.3f} {seconds / base:6.3f} {rss:>9}  {note}")


if __name__ == "__main__":
    main()
