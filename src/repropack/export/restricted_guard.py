"""The restricted-data guard: refuse a package that would carry a restricted input's bytes.

A restricted input is packed as its hash only. Its bytes can still get out
another way, so before anything is written every file the package would hold is
checked against the restricted inputs (``fs/restricted.py`` says what is sought):

- a packed file that is a hard (or symbolic) link to a restricted file, or has a
  restricted file's sha256 (a copy under another name);
- a packed file, or a cell of an executed notebook (its source and outputs),
  that holds a line or a value of a restricted input verbatim;
- a packed file whose name holds one.

The refusal is ``BadInput`` (exit 2), one line naming the packed file (and the
cell) and the restricted input, never the restricted text itself. Unlike a
suspected secret there is no flag to clear it: a false alarm is cleared by
changing what the notebook prints or writes, or by excluding the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from repropack.errors import BadInput
from repropack.fs.names import shown
from repropack.fs.restricted import Leak, RestrictedIndex
from repropack.model import Digest

_ADVICE = "a package must not carry restricted data: print or write summaries, not rows or identifiers"


def restricted_index(project: Path, restricted: Collection[str]) -> RestrictedIndex | None:
    """What gives the restricted inputs away (None when there are none); BadInput when one cannot be read."""
    if not restricted:
        return None
    try:
        return RestrictedIndex.of({path: project / path for path in restricted})
    except OSError as error:
        raise BadInput(f"cannot read a restricted input to check the package against it: {error}") from None


def refuse_restricted_leaks(
    project: Path,
    restricted: Collection[str],
    payload: Iterable[str],
    in_memory: Mapping[str, bytes],
    digests: Mapping[Path, Digest],
    *,
    index: RestrictedIndex | None = None,
    content: Mapping[str, Leak | None] | None = None,
) -> tuple[str, ...]:
    """Raise BadInput for the first packed file that leaks a restricted input; else a note per restricted
    input that could only partly be looked for (a warning for the export).

    ``payload`` is every project file the package would copy (restricted ones are
    skipped here), ``in_memory`` what it writes from memory (executed notebooks,
    repropack's own files), ``digests`` the sha256 of the project files by path.
    ``index`` is ``restricted_index``'s (built here when not given); ``content``
    what was already found in the bytes of some payload files, by path
    (``export.scan``, which reads each file once for both guards): the others are read here.
    """
    index = index or restricted_index(project, restricted)
    if index is None:
        return ()
    content = content or {}
    for path in sorted(set(payload) - set(restricted)):
        file = project / path
        leak = (
            index.same_file(file)
            or index.same_bytes(digests[file].sha256)
            or (content[path] if path in content else _in_file(index, file))
        )
        _refuse(shown(path), leak)
        _refuse(f"the name {shown(path)}", index.find(path))
    for path, data in sorted(in_memory.items()):
        leak = index.same_bytes(hashlib.sha256(data).hexdigest())
        if leak is None and path.endswith(".ipynb"):
            for cell, text in _cells(data):
                _refuse(f"{shown(path)} cell {cell}", index.find(text))
        _refuse(shown(path), leak or index.find_bytes(data))
        _refuse(f"the name {shown(path)}", index.find(path))
    return index.notes


def _in_file(index: RestrictedIndex, file: Path) -> Leak | None:
    try:
        return index.find_in_file(file)
    except OSError as error:
        raise BadInput(f"cannot read {file} to check it for restricted data: {error.strerror or error}") from None


def _refuse(where: str, leak: Leak | None) -> None:
    if leak is not None:
        raise BadInput(f"{where} {leak.describe()}; {_ADVICE}")


def _cells(notebook: bytes) -> Iterator[tuple[int, str]]:
    """(cell number from 1, every string of the cell: source and outputs) of an executed notebook.

    Images are base64 (no text to find), so they are left out; the whole file is still scanned after.
    """
    try:
        cells = json.loads(notebook).get("cells", [])
    except (ValueError, AttributeError):
        return
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        yield number, "\0".join(_strings(cell))


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value``, in document order (a notebook keeps a text as a list of its lines)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(reversed([v for k, v in item.items() if not _is_image(k)]))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _is_image(key: object) -> bool:
    return isinstance(key, str) and key.startswith("image/") and key != "image/svg+xml"
