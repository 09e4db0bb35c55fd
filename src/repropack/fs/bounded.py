"""Reading what someone else wrote: regular files only, never through a link, within size and depth limits.

Packages, sandbox output and records are hostile input. ``read_regular_file``
opens with O_NOFOLLOW and O_NONBLOCK (a planted FIFO cannot hang the host) and
refuses anything but a regular file; ``loads_bounded`` parses strict JSON
(no NaN/Infinity, no duplicate keys) and refuses a document nested deeper than
the code that walks it can follow, so no RecursionError surfaces later.
Both raise ``UnsafeData``; each caller decides what that means (bad input for a
package, a failure for a sandbox).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

#: Default limits: far above what repropack writes, far below what hurts the host.
DEFAULT_MAX_BYTES = 64 * 2**20
DEFAULT_MAX_DEPTH = 64


class UnsafeData(ValueError):
    """The file or text is not what it must be; ``str()`` is one line naming what and why."""


def read_regular_file(path: Path, *, limit: int = DEFAULT_MAX_BYTES, what: str | None = None) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises UnsafeData for a symlink, FIFO, device, socket or folder, for a file
    larger than ``limit`` and for a file that cannot be read; never follows a link
    in the last component and never blocks on a FIFO.
    """
    shown = what or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnsafeData(f"{shown}: missing") from None
    except OSError as exc:
        # ELOOP is what O_NOFOLLOW says about a symlink.
        reason = "a symlink, not a regular file" if os.path.islink(path) else (exc.strerror or "unreadable")
        raise UnsafeData(f"{shown}: {reason}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeData(f"{shown}: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeData(f"{shown}: {info.st_size} bytes, more than the {limit} allowed")
        chunks, size = [], 0
        while chunk := os.read(fd, min(2**20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise UnsafeData(f"{shown}: more than the {limit} bytes allowed")
        return b"".join(chunks)
    finally:
        os.close(fd)


def loads_bounded(
    data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH, max_values: int | None = None, what: str = "JSON"
) -> Any:
    """``data`` parsed as strict JSON (UTF-8 for bytes) nested at most ``max_depth`` deep.

    Raises UnsafeData for text that is not UTF-8, not JSON, has NaN/Infinity,
    repeats a key in an object, nests deeper than ``max_depth``, or (with
    ``max_values``) may hold more values than that (``value_count_bound``).
    """
    if max_values is not None and value_count_bound(data) > max_values:
        # Checked before parsing: 3 bytes of "{}," become a 64-byte dict, so size alone does not bound memory.
        raise UnsafeData(f"{what}: more than the {max_values} JSON values allowed")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeData(f"{what}: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise UnsafeData(f"{what}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # the parser's own guard: far deeper than any limit
        raise UnsafeData(f"{what}: nested deeper than the {max_depth} levels allowed") from None
    except _Refused as exc:
        raise UnsafeData(f"{what}: {exc}") from None
    if nesting_depth(value, stop_after=max_depth) > max_depth:
        raise UnsafeData(f"{what}: nested deeper than the {max_depth} levels allowed")
    return value


def read_json_file(
    path: Path,
    *,
    limit: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_values: int | None = None,
    what: str | None = None,
) -> Any:
    """``read_regular_file`` then ``loads_bounded``: the one way to read JSON that someone else wrote."""
    shown = what or str(path)
    data = read_regular_file(path, limit=limit, what=shown)
    return loads_bounded(data, max_depth=max_depth, max_values=max_values, what=shown)


def value_count_bound(data: bytes | str) -> int:
    """At least as many as the values a JSON text holds: its commas and opening brackets, plus one.

    Counted without parsing (commas and brackets inside strings count too, so it may be more).
    """
    if isinstance(data, str):
        return data.count(",") + data.count("[") + data.count("{") + 1
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


def nesting_depth(value: Any, *, stop_after: int | None = None) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar is 0), without recursion.

    With ``stop_after``, counting stops once that depth is exceeded (the answer is then ``stop_after + 1``).
    """
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if stop_after is not None and deepest > stop_after:
            return deepest
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"
