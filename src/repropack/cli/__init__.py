"""The ``repropack`` command line."""

from repropack.cli.main import main, run

__all__ = ["main", "run"]
