"""Backends that rebuild a package's environment and run its notebooks in isolation.

A backend is one small class registered by name (like papermill's engines):
``BACKENDS.get("docker")``. Adding one (Podman, Apptainer) is one module plus
its ``@BACKENDS.register``.
"""

from repropack.sandbox.base import BACKENDS, Backend, PreparedEnvironment, RunPlan, SandboxLimits, SandboxRun

# Importing the modules registers the built-in backends.
from repropack.sandbox import docker_backend as _docker_backend  # noqa: E402,F401
from repropack.sandbox import local_backend as _local_backend  # noqa: E402,F401

__all__ = ["BACKENDS", "Backend", "PreparedEnvironment", "RunPlan", "SandboxLimits", "SandboxRun"]
