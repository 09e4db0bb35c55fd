"""Image builds: pip (the old way) against uv from the host's wheel cache, and a warm replay against a bare run.

In one run, alternately, each from cold (no image, no build stage, an empty wheel cache):

- pip: the Dockerfile replays rendered before uv (kept here, in ``_pip_dockerfile``, for this
  baseline only), ``pip install --require-hashes`` from the reviewer's index through the CA bundle;
- uv: ``sandbox.docker.image.build_image`` as a replay runs it: the host fetches the lock's wheels
  into the wheel cache (parallel, verified), the build installs them with uv, no network, no index.

Then a second environment that shares most wheels (the same lock plus statsmodels and patsy), built
with the cache the first left: it downloads only the rest. Then, from the bundled example exported
once, a warm replay (image cached) against ``jupyter execute`` in the same image with the same
sandbox flags (``bench_replay``'s two commands). Locks: ``bench/locks/`` (``uv pip compile
--generate-hashes`` for CPython 3.11 on manylinux_2_36 x86_64, pinned so the runs are comparable).

    python bench/bench_build.py [--repeat 3] [--replays 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_replay  # noqa: E402  (its replay and bare-run commands)
from repropack.config import DEFAULT_BASE_IMAGE  # noqa: E402
from repropack.environment.build_inputs import BuildInputs  # noqa: E402
from repropack.environment.pipindex import configured_index  # noqa: E402
from repropack.environment.wheelcache import cached_files  # noqa: E402
from repropack.model import Environment, layout  # noqa: E402
from repropack.model.lock import parse_lock, render_lock  # noqa: E402
from repropack.sandbox.base import BuildRequest  # noqa: E402
from repropack.sandbox.docker.engine import engine_client  # noqa: E402
from repropack.sandbox.docker.image import build_image  # noqa: E402

LOCK = HERE / "locks" / "pandas-matplotlib-scipy.txt"
SECOND_LOCK = HERE / "locks" / "pandas-matplotlib-scipy-statsmodels.txt"
PIP_TAG = "repropack-bench/pip-build:latest"


def _pip_dockerfile(base_id: str) -> str:
    """The Dockerfile replay rendered before uv, for a hashed lock with no wheelhouse: the baseline."""
    return f"""FROM {base_id} AS build
ARG REPROPACK_INDEX_URL
ARG REPROPACK_EXTRA_INDEX_URL
COPY .repropack/ca-bundle.crt /opt/repropack/ca-bundle.crt
COPY .repropack/requirements.lock.txt /opt/repropack/requirements.lock.txt
RUN if [ -s /opt/repropack/ca-bundle.crt ]; then export PIP_CERT=/opt/repropack/ca-bundle.crt; fi \\
 && if [ -n "$REPROPACK_INDEX_URL" ]; then export PIP_INDEX_URL="$REPROPACK_INDEX_URL"; fi \\
 && if [ -n "$REPROPACK_EXTRA_INDEX_URL" ]; then export PIP_EXTRA_INDEX_URL="$REPROPACK_EXTRA_INDEX_URL"; fi \\
 && python3 -m venv /opt/repropack/venv \\
 && /opt/repropack/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \\
    -r /opt/repropack/requirements.lock.txt

FROM {base_id}
COPY --from=build /opt/repropack/venv /opt/repropack/venv
ENV PATH=/opt/repropack/venv/bin:$PATH \\
    HOME=/tmp \\
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /work
USER 1000:1000
"""


@dataclass
class Build:
    """One build: wall seconds, the seconds of its final stage's ``COPY --from``, what it left to remove."""

    seconds: float
    image: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    summary: str = ""

    def step_seconds(self, starts: str) -> float:
        """Seconds from the step line that starts with ``starts`` to the next step line."""
        steps = [(t, line) for t, line in self.lines if line.startswith("Step ")]
        for (t, line), (after, _) in itertools.pairwise(steps):
            if line.split(" : ", 1)[-1].startswith(starts):
                return after - t
        return 0.0

    def uv_says(self) -> str:
        """uv's own timings of the install step ("Prepared 48 packages in 1.3s", ...), joined."""
        said = [
            line.strip() for _, line in self.lines if re.search(r"(Prepared|Installed|Bytecode compiled) .* in ", line)
        ]
        return ", ".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in said)

    def fetch_seconds(self) -> float:
        return next((t for t, line in self.lines if line.startswith("wheels: ")), 0.0)

    def build_stage(self) -> str | None:
        """The image the build stage ended with (the classic builder leaves it behind, unnamed)."""
        froms = [i for i, (_, line) in enumerate(self.lines) if line.startswith("Step ") and " : FROM " in line]
        for _, line in reversed(self.lines[: froms[-1]] if len(froms) > 1 else []):
            if line.startswith(" ---> ") and "Running in" not in line and "Using cache" not in line:
                return line.split()[-1]
        return None


def _ca_bundle() -> Path | None:
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            return Path(os.environ[name])
    return None


def _request(lock_path: Path, root: Path) -> BuildRequest:
    lock = parse_lock(lock_path.read_text())
    environment = Environment("3.11.2", "CPython", "Linux", "x86_64", lock, base_image=DEFAULT_BASE_IMAGE)
    inputs = BuildInputs(environment=environment, lock_text=render_lock(lock, header=f"bench: {lock_path.name}"))
    return BuildRequest(
        root, inputs.environment_hash, DEFAULT_BASE_IMAGE, inputs, ca_bundle=_ca_bundle(), index=configured_index()
    )


def _uv_build(client, request: BuildRequest) -> Build:
    lines: list[tuple[float, str]] = []
    start = time.perf_counter()
    env = build_image(client, _with_log(request, lambda line: lines.append((time.perf_counter() - start, line))))
    seconds = time.perf_counter() - start
    assert not env.reused, "the uv image was there already: not a cold build"
    summary = next((line for _, line in lines if line.startswith("wheels: ")), "")
    return Build(seconds, env.reference, lines, summary)


def _with_log(request: BuildRequest, on_log) -> BuildRequest:
    from dataclasses import replace

    return replace(request, on_log=on_log)


def _pip_build(client, request: BuildRequest, base_id: str) -> Build:
    lines: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory(prefix="repropack-bench-pip-") as context:
        root = Path(context)
        (root / layout.RESERVED_DIR).mkdir()
        (root / "Dockerfile").write_text(_pip_dockerfile(base_id))
        (root / layout.LOCK).write_text(request.inputs.lock_text)
        (root / layout.CA_BUNDLE).write_bytes(request.ca_bundle.read_bytes() if request.ca_bundle else b"")
        start = time.perf_counter()
        for chunk in client.api.build(
            path=context, tag=PIP_TAG, rm=True, forcerm=True, pull=False, decode=True,
            buildargs=request.index.build_args(),
        ):  # fmt: skip
            for line in str(chunk.get("stream", "")).splitlines():
                lines.append((time.perf_counter() - start, line))
            if "error" in chunk:
                sys.exit(f"the pip build failed: {chunk['error']}")
        seconds = time.perf_counter() - start
    return Build(seconds, client.images.get(PIP_TAG).id, lines)


def _remove(client, build: Build) -> None:
    """The build's image and the build stage it left (with their unnamed parents): the next build is cold."""
    for image in (build.image, build.build_stage()):
        if image:
            try:
                client.images.remove(image, force=True)
            except Exception:
                pass  # already gone


def _clear_cache(cache: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)


def _warm_replay(replays: int) -> tuple[float, float, str]:
    """Median seconds of ``jupyter execute`` in the replay's image and of ``repropack replay`` (image cached)."""
    with tempfile.TemporaryDirectory(prefix="repropack-bench-warm-") as tmp:
        root = Path(tmp)
        project = root / "claims-analysis"
        shutil.copytree(bench_replay.EXAMPLE, project, ignore=shutil.ignore_patterns("outputs"))
        package = root / "claims.crate.zip"
        bench_replay._run([str(bench_replay.BIN / "repropack"), "export", str(project), "-o", str(package)])
        _, first = bench_replay._replay(package, project, root / "record")  # builds or reuses the image
        work = root / "bare"
        shutil.copytree(project, work, ignore=shutil.ignore_patterns("outputs", "repropack.toml"))
        bench_replay._bare_execute(first["image"], work)  # warm-up
        bare, warm = [], []
        for _ in range(replays):
            bare.append(bench_replay._bare_execute(first["image"], work))
            warm.append(bench_replay._replay(package, project, root / "record")[0])
    return statistics.median(bare), statistics.median(warm), first["verdict"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold builds of each installer, alternating")
    parser.add_argument("--replays", type=int, default=5, help="warm replays and bare runs, alternating")
    args = parser.parse_args()
    client = engine_client()
    base_id = client.images.get(DEFAULT_BASE_IMAGE).id
    with tempfile.TemporaryDirectory(prefix="repropack-bench-build-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        os.environ["REPROPACK_CACHE_DIR"] = str(cache)  # the bench's own wheel cache, emptied before cold runs
        first, second = _request(LOCK, root), _request(SECOND_LOCK, root)
        pips, uvs, shared = [], [], []
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeat):
            _clear_cache(cache)
            pip = _pip_build(client, first, base_id)
            _remove(client, pip)
            uv = _uv_build(client, first)
            second_uv = _uv_build(client, second)  # the cache holds the first lock's wheels
            downloaded = len(list(cached_files(cache / "wheels")))
            _remove(client, uv)
            _remove(client, second_uv)
            pips.append(pip)
            uvs.append(uv)
            shared.append((second_uv, downloaded))
            loads.append(os.getloadavg()[0])
    bare, warm, verdict = _warm_replay(args.replays)
    _print(pips, uvs, shared, bare, warm, verdict, loads, args)


def _median(values) -> float:
    return statistics.median(values)


def _print(pips, uvs, shared, bare, warm, verdict, loads, args) -> None:
    pip_s = _median(b.seconds for b in pips)
    uv_s = _median(b.seconds for b in uvs)
    second_s = _median(b.seconds for b, _ in shared)
    rows = [
        ("cold build, pip --require-hashes", pip_s, 1.0,
         f"baseline; install step {_median(b.step_seconds('RUN ') for b in pips):.1f} s, COPY --from "
         f"{_median(b.step_seconds('COPY --from') for b in pips):.1f} s"),
        ("cold build, uv from the wheel cache", uv_s, uv_s / pip_s,
         f"goal <= 0.4 x; host fetch {_median(b.fetch_seconds() for b in uvs):.1f} s, install step "
         f"{_median(b.step_seconds('RUN ') for b in uvs):.1f} s, COPY --from "
         f"{_median(b.step_seconds('COPY --from') for b in uvs):.1f} s; {uvs[-1].summary}; uv: {uvs[-1].uv_says()}"),
        ("second environment, uv, cache warm", second_s, second_s / pip_s,
         f"{shared[-1][0].summary}; cache now {shared[-1][1]} files"),
    ]  # fmt: skip
    print(f"{'case':38} {'median s':>9} {'ratio':>6}  notes")
    print(f"{'-' * 38} {'-' * 9} {'-' * 6}  -----")
    for name, seconds, ratio, notes in rows:
        print(f"{name:38} {seconds:9.3f} {ratio:6.3f}  {notes}")
    goal = 1.1 * bare + 1
    print(f"{'jupyter execute in the replay image':38} {bare:9.3f} {1.0:6.3f}  baseline, same sandbox flags")
    print(f"{'repropack replay, image cached':38} {warm:9.3f} {warm / bare:6.3f}  goal <= 1.1 x + 1 s = {goal:.3f} s: "
          f"{'met' if warm <= goal else 'MISSED'}; verdict {verdict}")  # fmt: skip
    print(
        f"({args.repeat} alternating cold builds per installer, {args.replays} alternating warm runs; "
        f"load average 1 min {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} CPUs; "
        f"all builds: pip {[round(b.seconds, 1) for b in pips]}, uv {[round(b.seconds, 1) for b in uvs]})"
    )


if __name__ == "__main__":
    main()
