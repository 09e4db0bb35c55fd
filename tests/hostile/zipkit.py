"""Zips built byte by byte, so a test can make one that lies: sizes, counts, compression, as an attacker would.

``zipfile`` writes honest archives only (and deflates every copy of a member again); this writes
the local headers, the central directory and its end record directly from what a test declares.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STORED, DEFLATED = 0, 8
_UNIX = 3 << 8  # "made by" unix, version 0
_REGULAR_0644 = 0o100644 << 16


@dataclass(frozen=True)
class Member:
    """One member: its bytes as stored, and what the headers say about them."""

    name: str
    stored: bytes  # the member's data as it sits in the archive (deflated when method is DEFLATED)
    size: int  # the uncompressed size the headers declare
    crc: int
    method: int = DEFLATED
    compressed: int | None = None  # the compressed size the headers declare; None: the true one

    @property
    def declared_compressed(self) -> int:
        return len(self.stored) if self.compressed is None else self.compressed


def member(name: str, content: bytes, *, method: int = DEFLATED) -> Member:
    """An honest member holding ``content``."""
    stored = _deflate(content) if method == DEFLATED else content
    return Member(name, stored, len(content), zlib.crc32(content), method)


@cache
def zeros_member_data(size: int) -> tuple[bytes, int]:
    """``size`` zero bytes deflated, and their CRC: built once, shared by every member that holds them."""
    zeros = bytes(size)
    return _deflate(zeros), zlib.crc32(zeros)


def zeros(name: str, size: int) -> Member:
    """An honest member of ``size`` zero bytes (about a thousandth of that in the archive)."""
    stored, crc = zeros_member_data(size)
    return Member(name, stored, size, crc)


def write_zip(path: Path, members: Iterable[Member]) -> Path:
    """Write ``members`` as a zip at ``path`` exactly as they declare themselves (Zip64 end records past 65,535)."""
    with path.open("wb") as out:
        central = bytearray()
        count = 0
        for m in members:
            name = m.name.encode("utf-8", "surrogateescape")
            offset = out.tell()
            fields = (0x800, m.method, 0, 0x21, m.crc, m.declared_compressed, m.size, len(name), 0)  # flags .. extra
            out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, *fields) + name + m.stored)
            central += struct.pack(
                "<4s6H3I5H2I", b"PK\x01\x02", _UNIX | 20, 20, *fields, 0, 0, 0, _REGULAR_0644, offset
            )
            central += name
            count += 1
        start = out.tell()
        out.write(central)
        if count > 0xFFFF:
            end64 = out.tell()
            out.write(
                struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, _UNIX | 45, 45, 0, 0, count, count, len(central), start)
            )
            out.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, end64, 1))
        shown = min(count, 0xFFFF)
        out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, shown, shown, len(central), start, 0))
    return path


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip members hold it
    return compressor.compress(data) + compressor.flush()
