"""Benchmark repropack's file hashing against coreutils sha256sum.

Measures, on one dataset of 1 GiB in 2,000 files with the page cache warm:
sha256sum (the baseline), hash_files with a fresh cache, hash_files again with
the warm cache, and hash_files' peak memory on a 2 GiB file against a 16 MiB one.
Prints one plain-text table. See bench/README.md for what each line means.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repropack.fs.hashing import HashCache, hash_files

DATASET_FILES = 2_000
DATASET_BYTES = 1 << 30
DATASET_SEED = 20240517
BIG_FILE_BYTES = 2 << 30
SMALL_FILE_BYTES = 16 << 20
RANDOM_BLOCK_BYTES = 64 << 20
# Peak RSS may differ by allocator noise, not by anything proportional to file size.
FLAT_MEMORY_TOLERANCE_KIB = 8 << 10

GOAL_VS_SHA256SUM = 0.35
GOAL_WARM_VS_FIRST = 0.05


@dataclass(frozen=True)
class Row:
    case: str
    wall_s: float | None
    ratio: float | None
    notes: str


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(tempfile.gettempdir()) / "repropack-bench"
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("REPROPACK_BENCH_DIR", default_dir)),
        help=f"dataset folder, reused between runs (default: $REPROPACK_BENCH_DIR or {default_dir})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the median is shown")
    args = parser.parse_args()

    dataset = args.dir / "dataset"
    paths = ensure_dataset(dataset)
    warm_seconds = read_all(paths)
    print(
        f"dataset: {len(paths)} files, {DATASET_BYTES / 2**30:.0f} GiB in {dataset}; "
        f"page cache warmed by reading every file once ({warm_seconds:.2f} s); "
        f"{os.cpu_count()} CPUs; median of {args.repeat} runs",
        flush=True,
    )

    expected = sha256sum_digests(paths, parallel=1)
    baseline = median_seconds(lambda: sha256sum_digests(paths, parallel=1), args.repeat)
    cpus = os.cpu_count() or 1
    parallel_baseline = median_seconds(lambda: sha256sum_digests(paths, parallel=cpus), args.repeat)

    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        fresh_runs: list[float] = []
        for run in range(args.repeat):
            cache = HashCache(Path(scratch) / f"run{run}" / "hashes.sqlite")
            started = time.perf_counter()
            digests = hash_files(paths, cache=cache)
            fresh_runs.append(time.perf_counter() - started)
            if {str(path): digest.sha256 for path, digest in digests.items()} != expected:
                raise SystemExit("hash_files disagrees with sha256sum")
        first = statistics.median(fresh_runs)
        warm = median_seconds(lambda: hash_files(paths, cache=cache), args.repeat)
        single = median_seconds(lambda: hash_files(paths, workers=1), args.repeat)

    memory_rows = peak_memory_rows(args.dir)

    rows = [
        Row("sha256sum (xargs -0, one process)", baseline, 1.0, "baseline"),
        Row(
            f"sha256sum (xargs -0 -P {cpus})",
            parallel_baseline,
            parallel_baseline / baseline,
            "reference only: coreutils on every core",
        ),
        Row(
            "hash_files, fresh cache",
            first,
            first / baseline,
            f"goal <= {GOAL_VS_SHA256SUM}: {verdict(first / baseline <= GOAL_VS_SHA256SUM)}; digests equal sha256sum's",
        ),
        Row(
            "hash_files, warm cache (unchanged)",
            warm,
            warm / baseline,
            f"{warm / first:.3f} x first hash; "
            f"goal <= {GOAL_WARM_VS_FIRST}: {verdict(warm / first <= GOAL_WARM_VS_FIRST)}",
        ),
        Row(
            "hash_files, no cache, workers=1",
            single,
            single / baseline,
            f"fresh-cache run is {single / first:.2f} x faster",
        ),
        *memory_rows,
    ]
    print_table(rows)
    return 0


def ensure_dataset(dataset: Path, total_bytes: int = DATASET_BYTES) -> list[Path]:
    """The dataset's files, written only if missing or not matching the manifest."""
    sizes = dataset_sizes(total_bytes)
    manifest = json.dumps({"seed": DATASET_SEED, "sizes": sizes})
    manifest_path = dataset / "manifest.json"
    paths = [dataset / f"d{index % 20:02d}" / f"f{index:04d}.bin" for index in range(len(sizes))]
    if (
        manifest_path.is_file()
        and manifest_path.read_text() == manifest
        and all(path.is_file() and path.stat().st_size == size for path, size in zip(paths, sizes))
    ):
        return paths
    print(f"writing dataset to {dataset} ...", flush=True)
    manifest_path.unlink(missing_ok=True)
    for path, size in zip(paths, sizes):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            remaining = size
            while remaining:
                chunk = os.urandom(min(remaining, 8 << 20))
                out.write(chunk)
                remaining -= len(chunk)
    # Written last, so an interrupted run is never mistaken for a complete dataset.
    manifest_path.write_text(manifest)
    return paths


def dataset_sizes(total_bytes: int = DATASET_BYTES) -> list[int]:
    """2,000 sizes from a few bytes to tens of MiB (log-normal), summing to exactly ``total_bytes`` (1 GiB)."""
    rng = random.Random(DATASET_SEED)
    weights = [rng.lognormvariate(0, 2.0) for _ in range(DATASET_FILES)]
    scale = total_bytes / sum(weights)
    sizes = [max(1, int(weight * scale)) for weight in weights]
    sizes[sizes.index(max(sizes))] += total_bytes - sum(sizes)
    return sizes


def read_all(paths: list[Path]) -> float:
    started = time.perf_counter()
    buffer = bytearray(1 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as stream:
            while stream.readinto(buffer):
                pass
    return time.perf_counter() - started


def sha256sum_digests(paths: list[Path], *, parallel: int) -> dict[str, str]:
    # Batches of 100 let xargs -P spread the files; one process gets them in as few calls as fit.
    batching = ["-n", "100", "-P", str(parallel)] if parallel > 1 else []
    listing = b"".join(os.fsencode(path) + b"\0" for path in paths)
    output = subprocess.run(
        ["xargs", "-0", *batching, "sha256sum", "--"],
        input=listing,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {line[66:]: line[:64] for line in output.splitlines()}


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def peak_memory_rows(folder: Path) -> list[Row]:
    small = folder / "memory-16MiB.bin"
    big = folder / "memory-2GiB.bin"
    try:
        write_random_file(small, SMALL_FILE_BYTES)
        write_random_file(big, BIG_FILE_BYTES)
        small_kib, small_s = peak_rss_kib_hashing(small)
        big_kib, big_s = peak_rss_kib_hashing(big)
    finally:
        small.unlink(missing_ok=True)
        big.unlink(missing_ok=True)
    growth = big_kib - small_kib
    flat = growth <= FLAT_MEMORY_TOLERANCE_KIB
    return [
        Row("peak RSS, hash_files on 16 MiB", small_s, None, f"VmHWM {small_kib / 1024:.1f} MiB"),
        Row(
            "peak RSS, hash_files on 2 GiB",
            big_s,
            None,
            f"VmHWM {big_kib / 1024:.1f} MiB ({growth / 1024:+.1f} MiB); flat: {verdict(flat)}",
        ),
    ]


def write_random_file(path: Path, size: int) -> None:
    """Real data on disk (not sparse): one random block repeated."""
    block = os.urandom(min(size, RANDOM_BLOCK_BYTES))
    with open(path, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)


def peak_rss_kib_hashing(path: Path) -> tuple[int, float]:
    """Peak RSS (KiB) and wall time of a fresh interpreter that hashes ``path``.

    The peak is the child's VmHWM, not its ru_maxrss: on Linux, exec carries the
    parent's high-water mark into the child's ru_maxrss, so the child would
    report this benchmark's own peak instead of its own.
    """
    probe = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from repropack.fs.hashing import hash_files\n"
        "started = time.perf_counter()\n"
        "hash_files([Path(sys.argv[1])])\n"
        "elapsed = time.perf_counter() - started\n"
        "status = open('/proc/self/status').read().splitlines()\n"
        "peak = next(line.split()[1] for line in status if line.startswith('VmHWM:'))\n"
        "print(peak, elapsed)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, check=True, text=True
    ).stdout.split()
    return int(output[0]), float(output[1])


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_table(rows: list[Row]) -> None:
    cells = [
        (
            row.case,
            "" if row.wall_s is None else f"{row.wall_s:.3f}",
            "" if row.ratio is None else f"{row.ratio:.3f}",
            row.notes,
        )
        for row in rows
    ]
    header = ("case", "wall s", "ratio vs sha256sum", "notes")
    widths = [max(len(line[column]) for line in [header, *cells]) for column in range(3)]
    for line in [header, tuple("-" * width for width in widths) + ("-----",), *cells]:
        print(f"{line[0]:<{widths[0]}}  {line[1]:>{widths[1]}}  {line[2]:>{widths[2]}}  {line[3]}")


if __name__ == "__main__":
    sys.exit(main())
