"""Backends that rebuild a package's environment and run its notebooks in isolation.

A backend is one small class registered by name (like papermill's engines):
``BACKENDS.get("docker")``. Another distribution adds one (Podman, Apptainer)
with a ``repropack.backends`` entry point naming its class; a built-in one is a
module with ``@BACKENDS.register`` plus its line in ``BUILT_IN_BACKENDS``.
"""

from repropack.sandbox.base import BACKENDS, Backend, PreparedEnvironment, RunPlan, SandboxLimits, SandboxRun

__all__ = ["BACKENDS", "Backend", "PreparedEnvironment", "RunPlan", "SandboxLimits", "SandboxRun"]
