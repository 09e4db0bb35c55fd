"""The replay pipeline: integrity, build, sandboxed run, comparison, verdict, record."""

from repropack.replay.pipeline import replay_package

__all__ = ["replay_package"]
