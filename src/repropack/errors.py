"""Errors that carry the exit code of the shared CLI convention.

Every command maps an error to one line on stderr and its exit code:
1 the check said no, 2 usage error or bad/hostile input, 3 the work could not run.
"""

from __future__ import annotations


class RepropackError(Exception):
    """Base class: ``str(error)`` is the one-line message shown to the user."""

    exit_code = 3


class CheckFailed(RepropackError):
    """The work ran and its answer is no (invalid package, failed notebook run)."""

    exit_code = 1


class BadInput(RepropackError):
    """Usage error or bad/hostile input: nothing was done."""

    exit_code = 2


class CannotRun(RepropackError):
    """The work could not run (kernel died, engine missing)."""

    exit_code = 3


class SecretFound(BadInput):
    """A file about to be packed looks like it holds a secret."""


class BuildFailed(CannotRun):
    """The environment could not be built; the message names the requirement when known."""
