"""Build a package's image through the Docker SDK, reusing it when it exists.

Nothing executable is taken from the package. The build context holds only
what repropack writes: its own Dockerfile, rendered from the package's facts
(``BuildRequest.inputs``) on the base image's id as this engine has it (never
pulled), the lock re-rendered from its strictly parsed entries, the CA bundle,
the package's wheels, each copied without following links and checked
against its recorded sha256, the ``uv`` binary the build installs with, and the
lock's wheels for the base image's platform as the host fetched them from the
reviewer's index into its wheel cache (``environment.wheelcache``). When those
cover the lock, the build runs with no network and no index; otherwise the
reviewer's index reaches the build as build arguments. The tag is a hash of
the rendered Dockerfile and lock (which name the base image's id): a second
replay of the same environment builds nothing.
A build that runs past ``build_timeout`` is cancelled: its stream is cut (the
engine stops the build), its intermediate containers and images are removed.
Every build, whether it succeeds or fails, then removes the images its build
stage left (each carries ``BUILD_STAGE_LABEL`` with that build's own mark), and
a build or reuse notes the tag's last use in ``ledger`` for ``repropack cache prune``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import socket
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound
from docker.utils import kwargs_from_env

from repropack.environment.dockerfile import BUILD_DIR, environment_hash, render_dockerfile
from repropack.environment.wheelcache import FetchedWheels, fetch_wheels
from repropack.errors import BadInput, BuildFailed, CannotRun
from repropack.fs.hashing import default_cache_dir
from repropack.model import layout
from repropack.sandbox.base import BuildRequest, PreparedEnvironment
from repropack.sandbox.docker.installer import Installer, image_target, installer
from repropack.sandbox.docker.ledger import record_use

IMAGE_REPOSITORY = "repropack/env"
#: On every environment image: the hash of the Dockerfile and lock it was built from.
ENVIRONMENT_LABEL = "org.repropack.environment-hash"
#: On every image of a build's first stage (the template's LABEL): that build's own mark, a new one per build.
BUILD_STAGE_LABEL = "org.repropack.build-stage"
#: The folder of the cache holding one lock file per environment image being built.
BUILD_LOCKS = "build-locks"
_DOCKERFILE = "Dockerfile"  # at the context's root, outside the package's reserved folder
_PIP_REQUIREMENT_ERRORS = (
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Failed to build (\S+)"),
    re.compile(r"Failed building wheel for (\S+)"),
    re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES"),
    # uv's words for the same failures
    re.compile(r"Because (\S+) was not found in the (?:package registry|provided package locations)"),
    re.compile(r"Failed to (?:build|download) `(\S+)`"),
    re.compile(r"Hash mismatch for `(\S+)`"),
)
# What the classic builder prints about the containers and images it makes.
_RUNNING_IN = re.compile(r"^\s*---> Running in ([0-9a-f]{12,64})\s*$")
_STEP_RESULT = re.compile(r"^\s*---> ([0-9a-f]{12,64})\s*$")
_USING_CACHE = re.compile(r"^\s*---> Using cache\s*$")
_COPY_CHUNK = 2**20


def image_tag(environment_hash: str, base_image_id: str) -> str:
    digest = hashlib.sha256(f"{environment_hash}\n{base_image_id}".encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:20]}"


def _base_image_id(client: docker.DockerClient, base_image: str) -> str:
    try:
        return client.images.get(base_image).id
    except ImageNotFound:
        raise CannotRun(
            f"base image {base_image} is not on this engine and cannot be pulled here; "
            f"build it with: repropack base build --tag {base_image}"
        ) from None


def rendered_dockerfile(request: BuildRequest, base_image_id: str) -> str:
    """The Dockerfile this build runs: repropack's template over the package's facts, FROM the base's id."""
    inputs = request.inputs
    return render_dockerfile(
        replace(inputs.environment, base_image=base_image_id),
        wheelhouse=bool(inputs.wheelhouse),
        local_wheels={PurePosixPath(path).name: sha256 for path, sha256 in inputs.local_wheels.items()},
    )


def _build_context(request: BuildRequest, dockerfile: str, into: Path, tool: Installer) -> Path:
    """Only what repropack wrote: the Dockerfile, the re-rendered lock, the CA bundle, the verified wheels, the
    verified uv binary. Returns the (empty) folder for the wheels the host fetches."""
    (into / layout.RESERVED_DIR).mkdir()
    wheels_folder = into / BUILD_DIR / "wheels"
    wheels_folder.mkdir(parents=True)
    try:
        _copy_verified(tool.path, into / BUILD_DIR / "uv", tool.sha256, str(tool.path))
    except BadInput as exc:  # the host's own file, not the package's: it could not run
        raise CannotRun(str(exc)) from None
    os.chmod(into / BUILD_DIR / "uv", 0o755)
    (into / _DOCKERFILE).write_text(dockerfile, encoding="utf-8")
    (into / layout.LOCK).write_text(request.inputs.lock_text, encoding="utf-8")
    (into / layout.CA_BUNDLE).write_bytes(request.ca_bundle.read_bytes() if request.ca_bundle else b"")
    wheels: Mapping[str, str] = {**request.inputs.wheelhouse, **request.inputs.local_wheels}
    for path, sha256 in sorted(wheels.items()):
        _copy_verified(request.package_root / path, into / path, sha256, path)
    return wheels_folder


def _fetch_lock_wheels(client: docker.DockerClient, request: BuildRequest, base_id: str, into: Path) -> FetchedWheels:
    """The lock's wheels for the base image's platform, fetched by the host (the package's wheelhouse, when it
    has one, is what the build installs from instead)."""
    if request.inputs.wheelhouse or request.offline:
        return FetchedWheels(uncovered=("the package's wheelhouse is used",))
    target = image_target(client, base_id)
    if target is None:
        return FetchedWheels(uncovered=("the base image's platform could not be probed",))
    machine = target.markers.get("platform_machine")
    if machine != platform.machine():
        raise CannotRun(f"the base image is for {machine}; this host's uv binary runs on {platform.machine()}")
    return fetch_wheels(request.inputs.environment.lock, request.index, target, into, ca_bundle=request.ca_bundle)


def _copy_verified(source: Path, target: Path, sha256: str, shown: str) -> None:
    """Copy a regular file (never through a link) and check the copy's sha256: what is built is what was checked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise BadInput(f"{shown}: cannot be read for the build ({exc.strerror})") from None
    digest = hashlib.sha256()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInput(f"{shown}: not a regular file; not built")
        with open(target, "wb") as out:
            while chunk := os.read(fd, _COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    finally:
        os.close(fd)
    if digest.hexdigest() != sha256:
        raise BadInput(f"{shown}: sha256 {digest.hexdigest()} differs from recorded {sha256}; not built")


def _failure_reason(log: list[str]) -> str:
    for pattern in _PIP_REQUIREMENT_ERRORS:
        for line in reversed(log):
            match = pattern.search(line)
            if match:
                if not pattern.groups:
                    return "a downloaded file does not match the lock's --hash (pip --require-hashes)"
                return f"cannot install requirement {match.group(1)}"
    meaningful = [line.strip() for line in log if line.strip()]
    return meaningful[-1][:300] if meaningful else "the build stopped without a message"


def build_image(client: docker.DockerClient, request: BuildRequest) -> PreparedEnvironment:
    """Build the image for ``request`` or reuse the one already tagged for it."""
    base_id = _base_image_id(client, request.base_image)
    dockerfile = rendered_dockerfile(request, base_id)
    rendered_hash = environment_hash(dockerfile, request.inputs.lock_text)
    tag = image_tag(rendered_hash, base_id)
    reused = _tagged(client, tag, base_id)
    if reused is not None:
        return reused
    # Replays of packages sharing an environment (a govern run's workers) build it once: the others wait here,
    # then reuse it. Without this, each builds its own copy and all but the last tagged are left dangling.
    with build_lock(tag):
        reused = _tagged(client, tag, base_id)
        if reused is not None:
            return reused
        return _build(client, request, dockerfile, rendered_hash, tag, base_id)


def _tagged(client: docker.DockerClient, tag: str, base_id: str) -> PreparedEnvironment | None:
    """The image already tagged ``tag``, as reused; None when there is none."""
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return None
    record_use(tag)
    return PreparedEnvironment(reference=image.id, name=tag, reused=True, base_image_id=base_id)


@contextmanager
def build_lock(tag: str) -> Iterator[None]:
    """Hold the build lock of ``tag`` on this machine (an flock in the cache folder; the kernel drops it however
    its holder dies). Without a cache folder to lock in, nothing is held: builds then only risk duplicates."""
    folder = default_cache_dir() / BUILD_LOCKS
    name = hashlib.sha256(tag.encode()).hexdigest()[:32]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _build(
    client: docker.DockerClient,
    request: BuildRequest,
    dockerfile: str,
    rendered_hash: str,
    tag: str,
    base_id: str,
) -> PreparedEnvironment:
    build_mark = uuid.uuid4().hex
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="repropack-build-") as context:
        wheels_folder = _build_context(request, dockerfile, Path(context), installer())
        fetched = _fetch_lock_wheels(client, request, base_id, wheels_folder)
        if request.on_log and not (request.inputs.wheelhouse or request.offline):
            request.on_log(fetched.summary())
        no_index = fetched.complete  # every wheel is here: the build needs neither the index nor a network
        build = _Build(client, request)
        try:
            build.run(
                path=context,
                dockerfile=_DOCKERFILE,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,  # FROM names the base by its local id: nothing is ever pulled
                decode=True,
                network_mode="none" if request.offline or no_index else None,
                buildargs={
                    **request.index.build_args(),
                    **({"REPROPACK_NO_INDEX": "1"} if no_index else {}),
                    "REPROPACK_BUILD_STAGE": build_mark,
                },
                labels={ENVIRONMENT_LABEL: rendered_hash},
            )
        finally:
            remove_build_stage(client, build_mark)
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        raise BuildFailed(
            f"build failed: the build stream ended without an image: {_failure_reason(build.log)}"
        ) from None
    record_use(tag)
    return PreparedEnvironment(
        reference=image.id, name=tag, reused=False, build_seconds=time.monotonic() - started, base_image_id=base_id
    )


def remove_build_stage(client: docker.DockerClient, build_mark: str) -> list[str]:
    """Remove the images carrying ``BUILD_STAGE_LABEL=build_mark`` (one build's first stage); returns their ids.

    Only untagged ones, and without force: the engine keeps an image a container uses or another image
    builds on, and removes with each image its untagged parents that nothing else builds on. Never raises.
    """
    removed: list[str] = []
    for _ in range(64):  # children first; a pass that removes nothing ends it (a stage has far fewer steps)
        try:
            images = client.images.list(all=True, filters={"label": f"{BUILD_STAGE_LABEL}={build_mark}"})
        except DockerException:
            return removed
        left = [image for image in images if not image.tags and image.id not in removed]
        progress = False
        for image in sorted(left, key=lambda image: str(image.attrs.get("Created", "")), reverse=True):
            try:
                client.api.remove_image(image.id)
            except NotFound:
                progress = True  # went with a child removed before it
                continue
            except (APIError, DockerException):
                continue  # another image builds on it or a container uses it: not ours to force
            removed.append(image.id)
            progress = True
        if not progress:
            break
    return removed


@dataclass
class _Build:
    """One build's stream, read until it ends, fails or runs past the request's time limit."""

    client: docker.DockerClient
    request: BuildRequest
    log: list[str] = field(default_factory=list)
    timed_out: bool = False
    _containers: list[str] = field(default_factory=list)  # intermediate containers it started
    _images: list[str] = field(default_factory=list)  # intermediate images it made (not found in the cache)
    _cached: bool = False
    _before: set[str] = field(default_factory=set)  # every image id the engine had before: never removed

    def run(self, **options) -> None:
        self._before = {image.id for image in self.client.images.list(all=True)}
        # A client of its own (the engine ``engine_client`` reaches), so cutting its stream touches nothing else.
        engine = self.client.api
        api = _StreamingAPI(version=engine.api_version, timeout=engine.timeout, **kwargs_from_env())
        timer = threading.Timer(self.request.build_timeout, self._cancel, args=(api,))
        timer.daemon = True
        timer.start()
        try:
            for chunk in api.build(**options):
                for line in str(chunk.get("stream", "")).splitlines():
                    self._note(line)
                if "error" in chunk:
                    self.log.append(str(chunk["error"]))
                    raise BuildFailed(f"build failed: {_failure_reason(self.log)}")
        except BuildFailed:
            self._raise_if_timed_out()
            raise
        except Exception as exc:  # the engine's error, or what the HTTP stack raises for a cut stream
            self._raise_if_timed_out()
            if isinstance(exc, (APIError, BuildError)):
                raise BuildFailed(f"build failed: {_failure_reason(self.log + [str(exc)])}") from None
            raise
        finally:
            timer.cancel()
            api.close()
        if not any(line.startswith("Successfully built ") for line in self.log):  # the limit fell after the end
            self._raise_if_timed_out()

    def _note(self, line: str) -> None:
        self.log.append(line)
        if self.request.on_log:
            self.request.on_log(line)
        if _USING_CACHE.match(line):
            self._cached = True
        elif match := _RUNNING_IN.match(line):
            self._containers.append(match.group(1))
        elif match := _STEP_RESULT.match(line):
            if not self._cached:
                self._images.append(match.group(1))
            self._cached = False

    def _cancel(self, api: _StreamingAPI) -> None:
        self.timed_out = True
        api.cut()

    def _raise_if_timed_out(self) -> None:
        if not self.timed_out:
            return
        self._clean_up()
        raise BuildFailed(
            f"build failed: it ran past the build time limit of {self.request.build_timeout} s and was cancelled "
            "(raise it with --build-timeout SECONDS)"
        )

    def _clean_up(self) -> None:
        """Remove what the cancelled build left: its intermediate containers, then its images, newest first."""
        for container in self._containers:
            try:
                self.client.api.remove_container(container, force=True)
            except (NotFound, APIError):
                pass  # already removed by the engine
        for image in reversed(self._images):
            try:
                if self.client.api.inspect_image(image)["Id"] not in self._before:  # the FROM lines name the base
                    self.client.api.remove_image(image, force=True, noprune=True)
            except (NotFound, APIError):
                pass


class _StreamingAPI(docker.APIClient):
    """An engine client whose build stream another thread can cut.

    The engine stops a build whose client goes away; shutting the socket down
    (not merely closing it) also wakes the reader blocked on it.
    """

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.responses: list = []

    def _post(self, url, **kwargs):
        response = super()._post(url, **kwargs)
        self.responses.append(response)
        return response

    def cut(self) -> None:
        for response in self.responses:
            sock = getattr(getattr(response.raw, "connection", None), "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            response.close()
