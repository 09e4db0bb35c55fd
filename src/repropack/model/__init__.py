"""The package model shared by every pipeline: plain typed dataclasses, no I/O."""

from repropack.model.package import *  # noqa: F403 - the model's public names, one import away
from repropack.model.package import __all__ as _package_names

__all__ = list(_package_names)
