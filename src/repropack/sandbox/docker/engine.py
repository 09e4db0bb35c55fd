"""The Docker engine connection, with errors a person can act on."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from repropack.errors import CannotRun


def engine_client() -> docker.DockerClient:
    """A client for the local engine (API version negotiated: engines here are older than clients)."""
    try:
        client = docker.from_env(version="auto", timeout=120)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:200]
        raise CannotRun(
            f"no Docker engine is reachable ({reason}); start one (dockerd) or replay with --backend local"
        ) from None
    return client
