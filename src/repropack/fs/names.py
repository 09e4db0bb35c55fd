"""File names that can travel in a package, and how to show any name on one safe line.

A package carries every name byte for byte (an NFC name stays NFC, an NFD one
NFD; spaces, ``%``, ``#``, ``?``, quotes, brackets, accents, CJK and emoji are
all fine). Export refuses, before anything is written, the few names that
cannot be carried faithfully to another machine:

- a name that is not valid UTF-8 (``os.walk`` hands it over surrogate-escaped):
  RO-Crate ids and JSON are Unicode, so it has no id;
- a control character (C0, DEL, C1: Unicode category Cc), which no terminal,
  log line or report shows safely;
- a backslash, or a first component like ``C:``, which the package's own zip
  reader refuses (``fs.archive.safe_extract``) as Windows path syntax;
- a path component over 255 bytes in UTF-8, the limit of ext4, XFS, Btrfs and
  of zip extraction on most systems (macOS counts 255 UTF-16 units, so a long
  Japanese name made there may not fit elsewhere);
- two paths that are one file where letter case or Unicode normalisation is
  ignored (macOS, Windows): ``Data.csv`` and ``data.csv``, or ``é`` composed
  and decomposed.

Pure functions: ``name_problem``, ``collisions`` and ``shown`` do no I/O;
``refuse_untravelled`` raises the one-line ``BadInput``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from repropack.errors import BadInput

#: The longest path component, in UTF-8 bytes, that common file systems accept.
MAX_COMPONENT_BYTES = 255

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")  # as fs.archive refuses a zip member name
# Shown escaped, as they could reorder what a reader sees of the rest of the line.
_BIDI_FORMATTING = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def name_problem(relpath: str) -> str | None:
    """Why the project path ``relpath`` (POSIX, relative) cannot travel in a package; None when it can."""
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8; rename it in UTF-8"
    control = next((char for char in relpath if unicodedata.category(char) == "Cc"), None)
    if control is not None:
        return f"file name holds a control character (U+{ord(control):04X}); rename it"
    if "\\" in relpath:
        return "file name holds a backslash, which a package path cannot hold; rename it"
    if _DRIVE_LETTER.match(relpath):
        return "file name starts like a Windows drive (X:), which a package's zip cannot hold; rename it"
    for part in relpath.split("/"):
        size = len(part.encode("utf-8"))
        if size > MAX_COMPONENT_BYTES:
            return f"a name in this path is {size} bytes in UTF-8, over the {MAX_COMPONENT_BYTES} file systems allow; shorten it"
    return None


def _folded(path: str) -> str:
    """``path`` as a case-insensitive, normalisation-insensitive file system sees it."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def _with_folders(paths: Iterable[str]) -> list[str]:
    """Every path and every folder on the way to one, shallowest first."""
    every = set()
    for path in paths:
        parts = path.split("/")
        every.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return sorted(every, key=lambda p: (p.count("/"), p))


def collisions(paths: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of distinct paths (or folders on their way) that differ only by letter case or Unicode normalisation.

    Only the shallowest clash is reported: ``Data/x.csv`` and ``data/x.csv`` give ``("Data", "data")``.
    """
    first: dict[str, str] = {}
    clashing: set[str] = set()
    pairs = []
    for path in _with_folders(paths):
        key = _folded(path)
        if key.rpartition("/")[0] in clashing:
            continue  # inside folders already reported
        if key in first:
            pairs.append((first[key], path))
            clashing.add(key)
        else:
            first[key] = path
    return pairs


def shown(name: str) -> str:
    """``name`` on one line, readable and safe to print: undecodable bytes, control and bidi characters escaped.

    ``b"caf\\xe9"`` surrogate-escaped shows as ``caf\\xe9``, a newline as ``\\n``; everything else as it is.
    """
    out = []
    for char in name:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_FORMATTING:
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def _collision_message(a: str, b: str) -> str:
    both = f"{shown(a)} and {shown(b)}"
    if unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
        return (
            f"{both}: the same name in two Unicode normalisations ({a!a} and {b!a}), "
            "so they are one file on macOS; rename one"
        )
    if a.casefold() == b.casefold():
        return f"{both}: the names differ only by letter case, so they are one file on macOS and Windows; rename one"
    return (
        f"{both}: the names differ only by letter case and Unicode normalisation ({a!a} and {b!a}), "
        "so they are one file on macOS; rename one"
    )


def refuse_untravelled(paths: Iterable[str]) -> None:
    """``BadInput`` (one line naming the file) for the first path that cannot travel, or the first collision."""
    paths = sorted(paths)
    for path in paths:
        problem = name_problem(path)
        if problem is not None:
            raise BadInput(f"{shown(path)}: {problem}")
    clashes = collisions(paths)
    if clashes:
        raise BadInput(_collision_message(*clashes[0]))
