"""What a long pipeline tells its caller while it works; the CLI draws it with rich."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def stage(self, text: str) -> None:
        """A new stage begins (the previous one is done)."""

    def detail(self, text: str) -> None:
        """The latest line of the current stage's work (a build log line)."""

    def cells(self, notebook: str, done: int, total: int) -> None:
        """``done`` of ``total`` cells of ``notebook`` have run."""

    def hashing(self, total_bytes: int) -> None:
        """Hashing of ``total_bytes`` begins."""

    def hashed(self, nbytes: int) -> None:
        """``nbytes`` more bytes were hashed (called from worker threads)."""


class SilentProgress:
    """Progress for callers that show none (tests, library use)."""

    def stage(self, text: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass

    def cells(self, notebook: str, done: int, total: int) -> None:
        pass

    def hashing(self, total_bytes: int) -> None:
        pass

    def hashed(self, nbytes: int) -> None:
        pass
