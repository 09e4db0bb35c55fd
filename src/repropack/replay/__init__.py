"""The replay pipeline: integrity, build, sandboxed run, comparison, verdict, record."""

from repropack.replay.pipeline import PackageFacts, ReplayOptions, ReplayResult, replay_package, replay_settings

__all__ = ["PackageFacts", "ReplayOptions", "ReplayResult", "replay_package", "replay_settings"]
