"""Shared pieces of the hostile-input suite: a watch on everything outside the output path, and a
listener that proves nothing contacted an address a package names."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class OutsideWatch:
    """What existed in the watched folders when the test began; ``assert_nothing_new`` names any newcomer.

    Every hostile test has a temp folder of its own under ``tmp_path`` (``private_temp``), so a temp
    folder a refused command left behind is new there, and other tests' temp folders are never seen.
    """

    folders: tuple[Path, ...]
    before: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.before = self._entries()

    def _entries(self) -> set[Path]:
        found: set[Path] = set()
        for folder in self.folders:
            found |= set(folder.rglob("*"))
        return found

    def new_entries(self, *, allowed: tuple[Path, ...] = ()) -> list[str]:
        """Entries that appeared since the start, outside ``allowed`` (and their contents)."""
        fresh = self._entries() - self.before
        return sorted(str(p) for p in fresh if not any(p == a or p.is_relative_to(a) for a in allowed))

    def assert_nothing_new(self, *, allowed: tuple[Path, ...] = ()) -> None:
        assert self.new_entries(allowed=allowed) == []


@pytest.fixture(autouse=True)
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own temp folder, for repropack in this process and in the commands it starts (``TMPDIR``)."""
    folder = tmp_path / "tmp"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> OutsideWatch:
    """Watches ``tmp_path`` (call ``outside.__post_init__()`` again after building the hostile input)."""
    return OutsideWatch((tmp_path,))


@dataclass
class Listener:
    """A TCP listener on every host address: ``contacts`` lists the peers that connected."""

    port: int
    contacts: list[tuple[str, int]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # 0.0.0.0, not only loopback: a build container reaches the host through the bridge's gateway.
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    server.settimeout(0.2)
    contacts: list[tuple[str, int]] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            contacts.append(peer)
            with conn:
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Listener(server.getsockname()[1], contacts)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
