"""Backends that rebuild a package's environment and run its notebooks in isolation.

A backend is one small class registered by name (like papermill's engines):
``BACKENDS.get("docker")``. Adding one (Podman, Apptainer) is one module with
``@BACKENDS.register`` plus its line in ``BUILT_IN_BACKENDS``.
"""

from repropack.sandbox.base import BACKENDS, Backend, PreparedEnvironment, RunPlan, SandboxLimits, SandboxRun

__all__ = ["BACKENDS", "Backend", "PreparedEnvironment", "RunPlan", "SandboxLimits", "SandboxRun"]
