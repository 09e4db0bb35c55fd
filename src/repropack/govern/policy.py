"""A governance policy read from its TOML file (``schemas/govern-policy.schema.json``), for ``repropack govern``.

Not the repository's admission policy (``repository/policy.py``): this one says which packages a policy run
replays and how. The shape, every key optional::

    name = "nightly"                     # default: the file's stem
    repository = "../repository"         # relative to this file; --repository and $REPROPACK_REPOSITORY go first
    workers = 2                          # replays at once
    retries = 2                          # extra attempts after an infrastructure failure, never for a verdict
    [select]                             # every criterion given must hold; none: every package's newest version
    ids = ["pkg-3f9a1c2b7d4e"]
    keywords = ["rainfall"]              # any of them
    authors = ["Sato", "0000-0002-1825-0097"]
    last_verdict = ["failed", "not_reproduced", "never"]
    not_replayed_for = "7d"
    imported_within = "1d"
    base_image = "repropack/base:bookworm-py3.11"
    latest_only = true
    [replay]                             # as `repropack replay`'s flags of the same names
    backend = "docker"
    offline = true
    network = false
    base_image = "repropack/base:bookworm-py3.11"
    timeout = "10m"                      # per cell; a number is seconds
    total_timeout = "2h"
    build_timeout = "30m"
    memory = "4g"
    disk = "10g"
    compare = ["outputs/*.png=image:threshold=0.05"]
    [inputs]                             # restricted inputs: per_package/<package id>/ first, else shared/
    shared = "/secure/inputs"
    per_package = "/secure/by-package"
    identity = "/secure/govern.age"      # an age identity, for inputs that travel encrypted
    [alerts]                             # where a regression is announced
    file = "alerts.jsonl"
    stdout = true
    command = ["/usr/local/bin/notify", "--channel", "repro"]   # a list: run without a shell
    [cache]                              # the image cache bounds kept after each replay
    keep_size = "50g"
    older_than = "30d"

What a caller may rely on (``load_policy``): a ``Policy`` whose paths are absolute (relative ones are taken from
the policy file's folder), durations in seconds, sizes checked; or ``BadInput``, one line "policy FILE: KEY ...".
The file is read as a regular file only (a link is never followed, a FIFO never blocks), at most 1 MiB.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from repropack.compare.compare import parse_rule_flag, rules_from_config
from repropack.config import duration_in_seconds, size_in_bytes
from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, nesting_depth, read_regular_file
from repropack.fs.shown_paths import shown_path
from repropack.model.governance import (
    AlertTargets,
    CacheBounds,
    InputsSource,
    Policy,
    ReplayOptions,
    Selection,
)
from repropack.resources import schema_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SCHEMA_FILE = "govern-policy.schema.json"
_MAX_POLICY_BYTES = 1 << 20  # a policy is a few dozen lines
_MAX_DEPTH = 8  # a policy nests three deep (the file, a table, a list); more is no policy
_MAX_SHOWN = 60


def load_policy(path: Path) -> Policy:
    """The policy the TOML file at ``path`` declares (see the module docstring)."""
    where = f"policy {shown_path(path)}"
    try:
        data = read_regular_file(path, limit=_MAX_POLICY_BYTES, what=where)
    except UnsafeData as error:
        raise BadInput(str(error)) from None
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise BadInput(f"{where}: not TOML: {error}") from None
    except RecursionError:  # the TOML parser recurses into nested arrays and inline tables
        raise BadInput(f"{where}: nested deeper than any policy (at most {_MAX_DEPTH} levels)") from None
    if nesting_depth(table, stop_after=_MAX_DEPTH) > _MAX_DEPTH:  # the schema's checks recurse too
        raise BadInput(f"{where}: nested deeper than any policy (at most {_MAX_DEPTH} levels)")
    problem = _shape_problem(table)
    if problem is not None:
        raise BadInput(f"{where}: {problem}")
    folder = path.absolute().parent
    name = table.get("name", path.stem)
    if not _validator().is_valid({"name": name}):
        raise BadInput(f'{where}: name {name!r} (from the file\'s name) is not a policy name; set name = "..."')
    return Policy(
        name=name,
        source=path.absolute(),
        sha256=hashlib.sha256(data).hexdigest(),
        repository=_path(folder, table.get("repository")),
        select=_selection(table.get("select", {})),
        replay=_replay(table.get("replay", {}), where),
        workers=table.get("workers", Policy.workers),
        retries=table.get("retries", Policy.retries),
        inputs=_inputs(table.get("inputs", {}), folder),
        alerts=_alerts(table.get("alerts", {}), folder),
        cache=CacheBounds(**table.get("cache", {})),
    )


def _selection(table: Mapping[str, Any]) -> Selection:
    return Selection(
        ids=tuple(table.get("ids", ())),
        keywords=tuple(table.get("keywords", ())),
        authors=tuple(table.get("authors", ())),
        last_verdict=tuple(table.get("last_verdict", ())),
        not_replayed_for=_seconds(table.get("not_replayed_for")),
        imported_within=_seconds(table.get("imported_within")),
        base_image=table.get("base_image"),
        latest_only=table.get("latest_only", True),
    )


def _replay(table: Mapping[str, Any], where: str) -> ReplayOptions:
    for index, rule in enumerate(table.get("compare", ())):
        try:
            glob, entry = parse_rule_flag(rule)
            rules_from_config({glob: entry})
        except BadInput as error:
            raise BadInput(f"{where}: replay.compare[{index}]: {error}") from None
    return ReplayOptions(
        backend=table.get("backend", ReplayOptions.backend),
        offline=table.get("offline", False),
        network=table.get("network", False),
        base_image=table.get("base_image"),
        timeout=_seconds(table.get("timeout")),
        total_timeout=_seconds(table.get("total_timeout")),
        build_timeout=_seconds(table.get("build_timeout")),
        memory=table.get("memory"),
        disk=table.get("disk"),
        compare=tuple(table.get("compare", ())),
    )


def _inputs(table: Mapping[str, Any], folder: Path) -> InputsSource:
    return InputsSource(
        shared=_path(folder, table.get("shared")),
        per_package=_path(folder, table.get("per_package")),
        identity=_path(folder, table.get("identity")),
    )


def _alerts(table: Mapping[str, Any], folder: Path) -> AlertTargets:
    return AlertTargets(
        file=_path(folder, table.get("file")),
        stdout=table.get("stdout", False),
        command=tuple(table.get("command", ())),
    )


def _seconds(value: int | str | None) -> int | None:
    """Seconds from a number or a duration the schema has checked."""
    if value is None or isinstance(value, int):
        return value
    return duration_in_seconds(value)


def _path(folder: Path, value: str | None) -> Path | None:
    return None if value is None else folder / Path(value).expanduser()


@cache
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_path(SCHEMA_FILE).read_text(encoding="utf-8")))


def _shape_problem(table: Mapping[str, Any]) -> str | None:
    """The first thing the schema refuses in ``table``, as "KEY must be ..., not VALUE"; None when it fits."""
    errors = sorted(_validator().iter_errors(table), key=lambda e: [str(part) for part in e.absolute_path])
    if not errors:
        return _size_problem(table)
    error = errors[0]
    path = [str(part) if not isinstance(part, int) else f"[{part}]" for part in error.absolute_path]
    key = ".".join(path).replace(".[", "[")
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(error.schema.get("properties", {}))
        unknown = sorted(str(name) for name in error.instance if name not in known)
        inside = f" in [{key}]" if key else ""
        return f"unknown key {unknown[0]!r}{inside} (known: {', '.join(known)})"
    schema = _schema_at(list(error.absolute_path))
    wanted = schema.get("errorMessage", "is not valid")
    trail = list(error.absolute_path)
    if trail and isinstance(trail[-1], int):  # an item of a list: the list's message, and which item
        key = key.rsplit("[", 1)[0]
        return f"{key} {wanted}, not {_shown(error.instance)} (item {trail[-1] + 1})"
    return f"{key or 'the file'} {wanted}, not {_shown(error.instance)}"


def _schema_at(path: list[Any]) -> Mapping[str, Any]:
    """The schema of the key at ``path``; a list's item answers with the list's own (it says what is wanted)."""
    root = _validator().schema
    node: Mapping[str, Any] = root
    for part in path:
        node = _resolved(root, node)
        if isinstance(part, str):
            node = node.get("properties", {}).get(part, node)
    return _resolved(root, node)


def _resolved(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    if "$ref" in node:
        return root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _size_problem(table: Mapping[str, Any]) -> str | None:
    """What the schema's pattern lets through and a size still is not (a size too large to mean anything)."""
    for section, key in (("replay", "memory"), ("replay", "disk"), ("cache", "keep_size")):
        value = table.get(section, {}).get(key)
        if value is None:
            continue
        try:
            if size_in_bytes(value) >= 1 << 60:
                return f"{section}.{key} is larger than any disk, not {_shown(value)}"
        except ValueError:
            return f"{section}.{key} must be a size such as 50g or 512m, not {_shown(value)}"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"
