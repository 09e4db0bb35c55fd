"""Replay cost: `repropack replay` (image cached) vs `jupyter execute` of the same notebook in the same image.

Both run the bundled example in one run, alternately. The baseline is a bare
container from the replay's own image running `jupyter execute`, with the same
no-network sandbox flags: it measures what running the notebook costs, so the
difference is repropack's (integrity, work dir, snapshots, comparison, record).
Then a cold build: the example exported with --wheelhouse, its image removed,
replayed with --offline (network disabled during the build).

    python bench/bench_replay.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "claims-analysis"
BIN = Path(sys.executable).parent


def _run(command: list[str], cwd: Path | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0,):
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def _replay(package: Path, inputs: Path, record: Path, *extra: str) -> tuple[float, dict]:
    shutil.rmtree(record, ignore_errors=True)
    seconds, out = _run(
        [
            str(BIN / "repropack"),
            "replay",
            str(package),
            "--inputs",
            str(inputs),
            "--record",
            str(record),
            "--json",
            *extra,
        ]
    )
    return seconds, json.loads(out)


def _bare_execute(image: str, work: Path) -> float:
    shutil.rmtree(work / "outputs", ignore_errors=True)
    os.chown(work, 1000, 1000)
    for p in work.rglob("*"):
        os.chown(p, 1000, 1000)
    command = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "1000:1000",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-e",
        "HOME=/tmp",
        "-v",
        f"{work}:/work",
        "-w",
        "/work",
        image,
        "jupyter",
        "execute",
        "--inplace",
        "analysis.ipynb",
    ]
    return _run(command)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="repropack-bench-replay-") as tmp:
        root = Path(tmp)
        project = root / "claims-analysis"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("outputs"))
        package = root / "claims.crate.zip"
        _run([str(BIN / "repropack"), "export", str(project), "-o", str(package)])
        _, first = _replay(package, project, root / "record")  # builds or reuses the image
        image = first["image"]
        work = root / "bare"
        shutil.copytree(project, work, ignore=shutil.ignore_patterns("outputs", "repropack.toml"))
        _bare_execute(image, work)  # warm-up
        replays, bare = [], []
        for _ in range(args.repeat):
            bare.append(_bare_execute(image, work))
            replays.append(_replay(package, project, root / "record")[0])
        wheel_pkg = root / "claims-wheels.crate.zip"
        _run([str(BIN / "repropack"), "export", str(project), "-o", str(wheel_pkg), "--wheelhouse"])
        _, probe = _replay(wheel_pkg, project, root / "record-w", "--offline")
        subprocess.run(["docker", "rmi", "-f", probe["image"]], capture_output=True)
        cold_seconds, cold = _replay(wheel_pkg, project, root / "record-w", "--offline")
    base = statistics.median(bare)
    replay_median = statistics.median(replays)
    print(f"{'case':44} {'median s':>9} {'ratio':>6}  notes")
    print(f"{'-' * 44} {'-' * 9} {'-' * 6}  -----")
    print(f"{'jupyter execute in the same image (bare run)':44} {base:9.3f} {1.0:6.3f}  baseline, same sandbox flags")
    print(
        f"{'repropack replay, image cached':44} {replay_median:9.3f} {replay_median / base:6.3f}  goal <= 1.2 x + 2 s = {1.2 * base + 2:.3f} s; verdict {first['verdict']}"
    )
    print(
        f"{'repropack replay --offline, cold build':44} {cold_seconds:9.3f} {'':>6}  build {cold['timings']['build']:.1f} s from the wheelhouse, network none; verdict {cold['verdict']}"
    )
    print(f"({args.repeat} alternating runs; example project {EXAMPLE.name})")


if __name__ == "__main__":
    main()
