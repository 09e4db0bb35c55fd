"""The export pipeline and its stages: execute under observation, lock, env files, git, secrets."""

from repropack.export.pipeline import ExportResult, export_project

__all__ = ["ExportResult", "export_project"]
