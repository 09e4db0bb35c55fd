"""repropack's own JSON support files in a package (settings.json, capture.json), read as hostile input.

A package is untrusted, and these files are re-hashed as easily as any other. Each is
read as a regular file within the package's size limit, parsed as strict JSON within
the depth limit (``fs.bounded``) and checked against its schema
(``schemas/settings.schema.json``, ``schemas/capture.schema.json``: the shapes the reader
takes values from) before anything is taken from it. A file that fails any of this is
read as empty, and its one-line problem is returned instead, so ``check`` reports it and
``replay`` refuses the package: no code after the reader meets a value of the wrong type.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from repropack.fs.bounded import UnsafeData, read_json_file
from repropack.model import layout
from repropack.resources import schema_path

#: The support files read as JSON, and the schema each must meet.
SCHEMAS = {layout.SETTINGS: "settings.schema.json", layout.CAPTURE: "capture.schema.json"}

_MAX_SHOWN = 200  # characters of a schema message: it quotes the offending value


@dataclass(frozen=True)
class SupportFile:
    """One support file as the reader may use it."""

    data: dict[str, Any]  # {} when the file is absent or refused
    problem: str | None  # one line naming the file and what is wrong with it; None when it is usable


def read_support_file(root: Path, package_path: str, *, max_bytes: int, max_values: int | None = None) -> SupportFile:
    """The support file at ``package_path`` under ``root`` (one of ``SCHEMAS``), checked; never raises for its content.

    ``max_bytes`` and ``max_values`` bound its size and how many JSON values it may hold.

    An absent file is empty with no problem (``check`` reports a described file that is missing).
    """
    path = root / package_path
    if not os.path.lexists(path):
        return SupportFile({}, None)
    try:
        data = read_json_file(path, limit=max_bytes, max_values=max_values, what=package_path)
    except UnsafeData as error:
        return SupportFile({}, str(error))
    problem = schema_problem(SCHEMAS[package_path], data, package_path)
    return SupportFile({}, problem) if problem else SupportFile(data, None)


def schema_problem(schema_file: str, data: Any, shown: str) -> str | None:
    """The first way ``data`` fails the schema in ``schemas/<schema_file>``, as one line starting with ``shown``."""
    errors = sorted(schema_validator(schema_file).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if not errors:
        return None
    # A key may hold anything, newlines too: quoted unless printable, so the problem stays one line.
    where = "/".join(str(part) if str(part).isprintable() else repr(part) for part in errors[0].path) or "(root)"
    message = errors[0].message
    if len(message) > _MAX_SHOWN:
        message = message[:_MAX_SHOWN] + "…"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{shown}: {where}: {message}{more}"


@cache
def schema_validator(schema_file: str) -> jsonschema.protocols.Validator:
    """The validator of ``schemas/<schema_file>``, built once per process (building one costs ~30 ms).

    It reports exactly the errors the schema as written does: its local ``$ref``s are only inlined
    (``inlined_refs``), which makes a package's validation about twice as fast.
    """
    schema = json.loads(schema_path(schema_file).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(inlined_refs(schema))


#: Keywords whose values are data, not schemas: a ``$ref`` in them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def inlined_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``{"$ref": "#/..."}`` (a reference alone in its object) replaced by what it names.

    A reference inside its own target (a recursive schema) stays, as does every other kind of reference;
    a schema with an ``$id`` below its root is returned as it is, since ``#`` may mean another resource there.
    """

    def target(ref: str) -> Any:
        node: Any = schema
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def nested_id(node: Any, depth: int) -> bool:
        if isinstance(node, list):
            return any(nested_id(item, depth) for item in node)
        if not isinstance(node, dict):
            return False
        if depth and "$id" in node:
            return True
        return any(nested_id(value, depth + 1) for key, value in node.items() if key not in _DATA_KEYWORDS)

    def inline(node: Any, within: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [inline(item, within) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/") and ref not in within:
            return inline(target(ref), within | {ref})
        return {key: value if key in _DATA_KEYWORDS else inline(value, within) for key, value in node.items()}

    return schema if nested_id(schema, 0) else inline(schema, frozenset())
