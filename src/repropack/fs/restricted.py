"""Restricted data seen elsewhere: the lines and values of restricted files, sought in other bytes and text.

A restricted input is described by its hash only: its bytes must reach no package
and no record. ``RestrictedIndex.of`` reads each restricted file once and keeps
what gives it away when it turns up somewhere else:

- its sha256 and its (device, inode): a copy under another name (of a file of at least ``MIN_LENGTH``
  bytes: an empty file's copy is any empty file, and says nothing), a hard link;
- each **line** of a text file, stripped, of at least ``MIN_LENGTH`` characters
  ("a row was printed"). The first line of a delimited file is its header:
  column names are meant to appear in outputs, so it is left out;
- each **value** of a delimited file's data rows (``.csv``, ``.tsv``, ``.tab``,
  ``.psv``) and each string of a JSON file (``.json``, ``.jsonl``, ``.ndjson``)
  that is at least ``MIN_LENGTH`` characters long, is not a decimal number and
  is found in at most ``CATEGORY_ROWS`` rows ("an identifier was printed"). A
  value in more rows is a category (``positive``, a city), the threshold being
  the usual smallest cell of statistical disclosure control; a decimal number
  is a measurement, which a minimum, maximum or median prints verbatim. A run of
  digits (a record number) is a value. A value must stand alone where it is found
  (no letter or digit right before or after it), so ``P-1001`` is not found in
  ``P-10012``.

A line or value with fewer than ``MIN_DISTINCT`` different characters
(``--------``, ``00000000``) gives nothing away and is left out. Each is sought
as written and as Python's ``repr``, JSON and HTML escape it (a notebook or a
comparison detail quotes text that way). Only the first ``INDEX_LIMIT`` bytes of
a restricted file are read; a binary one (a NUL byte in its first 8 KiB) is
known by its hash and inode only. Both are said in ``notes``.

Matching is on bytes (UTF-8 for text), with one Aho-Corasick automaton
(pyahocorasick) over every needle, so a packed file is scanned in one pass
whatever the number of restricted rows.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import ahocorasick

from repropack.fs.bounded import UnsafeData, loads_bounded
from repropack.fs.names import shown

#: Shortest line or value sought: a header like ``id,age`` or a lone ``1`` is not restricted data.
MIN_LENGTH = 8
#: Fewest different characters a line or value needs to say anything (not ``--------``).
MIN_DISTINCT = 4
#: A value found in more rows than this is a category, not an identifier.
CATEGORY_ROWS = 5
#: Bytes of each restricted file read to find its lines and values.
INDEX_LIMIT = 64 * 2**20
#: In a short text being redacted, this many characters that begin a line or value are redacted even when the
#: rest is missing: a comparison detail cuts a long line to its first 60 characters.
PREFIX_RUN = 20
#: How far into a file a NUL byte makes it binary.
BINARY_SNIFF_BYTES = 8 * 1024

_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".psv": "|"}
_JSON = {".json", ".geojson"}
_JSON_LINES = {".jsonl", ".ndjson"}
_DECIMAL = re.compile(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")
_CHUNK = 4 * 2**20


@dataclass(frozen=True)
class Leak:
    """Restricted data found: which restricted file (its package path) and how it is there.

    ``relation`` is one of ``a line of``, ``a value of``, ``a copy of``, ``a hard link to``, ``a symbolic link to``.
    """

    source: str
    relation: str

    def describe(self) -> str:
        """What is wrong with the file or text, to follow its name: ``holds a line of restricted input
        data/register.csv``, ``is a copy of restricted input ...`` (never the restricted text itself)."""
        verb = "holds" if self.relation in ("a line of", "a value of") else "is"
        return f"{verb} {self.relation} restricted input {shown(self.source)}"


@dataclass(frozen=True)
class _Needle:
    source: str
    relation: str  # "a line of" or "a value of"
    length: int  # in bytes
    alone: bool  # a value: must not touch a letter or digit on either side


def _view(data: bytes) -> str:
    """Bytes as a str of the same length, one character per byte: the automaton matches bytes this way."""
    return data.decode("latin-1")


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _says_something(text: str) -> bool:
    return len(text) >= MIN_LENGTH and len(set(text) - {" ", "\t"}) >= MIN_DISTINCT


def _variants(text: str) -> set[str]:
    """``text`` as written and as repr, JSON (ASCII or not) and HTML would show it."""
    return {
        text,
        repr(text)[1:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        html.escape(text, quote=False),
    }


def lines_and_values(path: str, data: bytes) -> tuple[set[str], set[str]]:
    """The lines and values of restricted file ``path`` (its bytes ``data``) that give it away.

    Pure; the rules are the module's. A binary file gives neither.
    """
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return set(), set()
    text = data.decode("utf-8", "surrogateescape")
    suffix = PurePosixPath(path).suffix.lower()
    physical = [line.strip() for line in text.split("\n")]
    if suffix in _DELIMITERS:
        return {line for line in physical[1:] if _says_something(line)}, _delimited_values(text, _DELIMITERS[suffix])
    if suffix in _JSON:
        strings = _json_strings(text)
        if strings is not None:  # a JSON document: its lines are its layout; its strings are the data
            return set(), _identifying(strings)
    if suffix in _JSON_LINES:
        counts: Counter[str] = Counter()
        for line in physical:
            counts.update(set(_json_strings(line) or ()))
        return {line for line in physical if _says_something(line)}, _identifying(counts)
    return {line for line in physical if _says_something(line)}, set()


def _delimited_values(text: str, delimiter: str) -> set[str]:
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = {cell.strip() for cell in next(rows, [])}
    counts: Counter[str] = Counter()
    try:
        for row in rows:
            counts.update({cell.strip() for cell in row})
    except csv.Error:  # a malformed row ends the values; its lines are still sought
        pass
    return _identifying(counts) - header


def _identifying(counts: Mapping[str, int]) -> set[str]:
    """The values (with the rows each is found in) that can point at someone: the module's rules."""
    return {
        value
        for value, rows in counts.items()
        if rows <= CATEGORY_ROWS and _says_something(value) and not _DECIMAL.fullmatch(value)
    }


def _json_strings(text: str) -> Counter[str] | None:
    """How often each string value (not key) occurs in the JSON ``text``; None when it is not JSON."""
    try:
        document = loads_bounded(text, what="restricted JSON")
    except UnsafeData:
        return None
    counts: Counter[str] = Counter()
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            counts[value.strip()] += 1
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return counts


@dataclass(frozen=True)
class _Identity:
    source: str
    sha256: str | None  # None for a file too short for its copies to say anything
    device: int
    inode: int


class RestrictedIndex:
    """What gives away a set of restricted files, and where it is found. Build it with ``of``."""

    def __init__(self, identities: tuple[_Identity, ...], needles: Mapping[str, _Needle], notes: tuple[str, ...]):
        self._identities = identities
        self._automaton: Any = None
        self._longest = 0
        if needles:
            self._automaton = ahocorasick.Automaton()
            for key, needle in needles.items():
                self._automaton.add_word(key, needle)
            self._automaton.make_automaton()
            self._longest = max(needle.length for needle in needles.values())
        self.notes = notes  # one line per restricted file known by hash only, or only in part

    @classmethod
    def of(cls, files: Mapping[str, Path | bytes]) -> RestrictedIndex:
        """The index of restricted files (package path -> file holding its plaintext, or the plaintext itself:
        a decrypted input, which no file holds, so it has no hard links to find).

        Raises OSError when a file cannot be read (the caller names it).
        """
        identities: list[_Identity] = []
        needles: dict[str, _Needle] = {}
        notes: list[str] = []
        for source, file in sorted(files.items()):
            if isinstance(file, bytes):
                data, whole, size, device, inode = file[:INDEX_LIMIT], len(file) <= INDEX_LIMIT, len(file), -1, -1
                digest = hashlib.sha256(file)
            else:
                data, info, whole = _read_head(file, INDEX_LIMIT)
                size, device, inode = info.st_size, info.st_dev, info.st_ino
                digest = hashlib.sha256(data) if whole else _sha256_of(file)
            sha256 = digest.hexdigest() if size >= MIN_LENGTH else None
            identities.append(_Identity(source, sha256, device, inode))
            lines, values = lines_and_values(source, data)
            if not lines and not values:
                notes.append(
                    f"restricted input {shown(source)} has no text lines or values to look for: "
                    "copies and hard links of it are refused, its contents are not sought elsewhere"
                )
            elif not whole:
                notes.append(
                    f"restricted input {shown(source)}: only its first {INDEX_LIMIT // 2**20} MiB are sought elsewhere"
                )
            for relation, texts in (("a line of", lines), ("a value of", values)):
                for text in texts:
                    for variant in _variants(text):
                        raw = _encoded(variant)
                        key = _view(raw)
                        if key not in needles or needles[key].alone:  # a line wins over the same text as a value
                            needles[key] = _Needle(source, relation, len(raw), texts is values)
        return cls(tuple(identities), needles, tuple(notes))

    # --- copies and links -----------------------------------------------------------------

    def same_file(self, path: Path) -> Leak | None:
        """The leak when ``path`` is (a hard or symbolic link to) a restricted file itself."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        for identity in self._identities:
            if (info.st_dev, info.st_ino) == (identity.device, identity.inode):
                relation = "a symbolic link to" if os.path.islink(path) else "a hard link to"
                return Leak(identity.source, relation)
        return None

    def same_bytes(self, sha256: str) -> Leak | None:
        """The leak when bytes with this sha256 are a restricted file's (a copy under another name)."""
        for identity in self._identities:
            if identity.sha256 == sha256:
                return Leak(identity.source, "a copy of")
        return None

    # --- contents -------------------------------------------------------------------------

    def find(self, text: str) -> Leak | None:
        """The first restricted line or value in ``text``."""
        return self.find_bytes(_encoded(text)) if self._automaton is not None else None

    def find_bytes(self, data: bytes) -> Leak | None:
        """The first restricted line or value in ``data``."""
        if self._automaton is None:
            return None
        return self._first(_view(data), final=True)

    def find_in_file(self, path: Path) -> Leak | None:
        """The first restricted line or value in the file at ``path``, read in chunks (any size, any content)."""
        if self._automaton is None:
            return None
        overlap = self._longest + 1  # a needle across two chunks, and the byte before it, is in the next one
        with open(path, "rb") as fh:
            carry, value = b"", None
            while True:
                chunk = fh.read(_CHUNK)
                haystack = carry + chunk
                # What ended inside the carried bytes was judged in the last chunk, with the byte before it.
                found = self._first(_view(haystack), final=not chunk, from_end=len(carry))
                if found is not None and (found.relation == "a line of" or value is not None or not chunk):
                    return found if found.relation == "a line of" else value or found
                if value is not None or not chunk:
                    return value  # a value, and no line ending in the next chunk either
                value = found  # a line holding it may end in the next chunk: it says more
                carry = haystack[-overlap:]

    def redact(self, text: str) -> str:
        """``text`` with each restricted line or value, and each run of ``PREFIX_RUN`` or more characters that
        begins one (a cut excerpt), replaced by ``[restricted: PATH]``. Meant for short texts (details, causes,
        log tails): its cost grows with the text's length times the longest needle."""
        if self._automaton is None or not text:
            return text
        haystack = _view(text.encode("utf-8", "surrogatepass"))
        spans = [(start, end, leak.source) for leak, start, end in self._matches(haystack, final=True)]
        spans += self._prefix_runs(haystack)
        if not spans:
            return text
        out, at = [], 0
        for start, end, source in _merged(spans):
            out.append(haystack[at:start])
            out.append(_view(_encoded(f"[restricted: {shown(source)}]")))
            at = end
        out.append(haystack[at:])
        return "".join(out).encode("latin-1").decode("utf-8", "surrogatepass")

    def _first(self, haystack: str, *, final: bool, from_end: int = 0) -> Leak | None:
        """A line found in ``haystack`` if there is one (it says more than a value), else the first value."""
        first = None
        for leak, _, _ in self._matches(haystack, final=final, from_end=from_end):
            if leak.relation == "a line of":
                return leak
            first = first or leak
        return first

    def _matches(self, haystack: str, *, final: bool, from_end: int = 0) -> Iterator[tuple[Leak, int, int]]:
        """(leak, start, end) of each needle in ``haystack`` ending at ``from_end`` or later; unless ``final``,
        none ending at its last byte (what follows it is in the next chunk)."""
        for last, needle in self._automaton.iter(haystack):
            start, end = last - needle.length + 1, last + 1
            if end < from_end or (not final and end == len(haystack)):
                continue
            if needle.alone and (_touches(haystack, start - 1) or _touches(haystack, end)):
                continue
            yield Leak(needle.source, needle.relation), start, end

    def _prefix_runs(self, haystack: str) -> list[tuple[int, int, str]]:
        runs = []
        at = 0
        while at < len(haystack):
            length = self._automaton.longest_prefix(haystack[at : at + self._longest])
            if length >= PREFIX_RUN:
                end = at + length
                while end < len(haystack) and 0x80 <= ord(haystack[end]) < 0xC0:  # end on a whole character
                    end += 1
                runs.append((at, end, self._source_of_prefix(haystack[at : at + length])))
                at = end
            else:
                at += 1
        return runs

    def _source_of_prefix(self, prefix: str) -> str:
        return self._automaton.get(next(self._automaton.keys(prefix))).source  # longest_prefix found one


def _touches(haystack: str, index: int) -> bool:
    """Whether the byte at ``index`` is an ASCII letter or digit (a value there would be part of a longer word)."""
    return 0 <= index < len(haystack) and haystack[index].isascii() and haystack[index].isalnum()


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for start, end, source in sorted(spans):
        if merged and start <= merged[-1][1]:
            previous = merged[-1]
            merged[-1] = (previous[0], max(previous[1], end), previous[2])
        else:
            merged.append((start, end, source))
    return merged


def _read_head(path: Path, limit: int) -> tuple[bytes, os.stat_result, bool]:
    """The first ``limit`` bytes of the regular file at ``path``, its stat, and whether that is all of it.

    Never blocks on a FIFO; raises OSError for what is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        data = fh.read(limit + 1)
    return data[:limit], info, len(data) <= limit


def _sha256_of(path: Path) -> Any:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest
