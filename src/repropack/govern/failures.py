"""The one failure a governance task may raise: the infrastructure failed, not the package.

An executor retries a task only for this (Dask's ``retries=`` would retry any exception, so a task raises
nothing else); a verdict, even "failed", and a refused package are outcomes, never exceptions.
"""

from __future__ import annotations


class InfrastructureFailure(Exception):
    """The engine was unavailable, the host ran out of disk, or the like: worth another attempt.

    It carries one message argument only, so it survives pickling from a worker back to the dispatcher.
    """
