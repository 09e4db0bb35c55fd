"""Disclosure rules as a project declares them: the ``[disclosure]`` table of ``repropack.toml``, or an ACRO config.

The table is strict (``schemas/disclosure.schema.json``): an unknown key, a value of the wrong type or out of
range is ``BadInput`` naming the key and where it was written. Keys, all optional (defaults: ACRO's)::

    [disclosure]
    min_count = 10                      # a count below it is disclosive (ACRO's safe_threshold)
    zeros_are_disclosive = true
    counts = ["n", "count_*", "outputs/by_region.csv:patients"]   # the columns holding counts
    dominance = {n = 2, k = 0.9}        # the top n contributors may hold at most k of a cell
    p_ratio = 0.1                       # p %: the rest must exceed p of the largest contribution
    magnitudes = [{file = "outputs/income.csv", cell = ["region"], value = "income"}]  # rows are contributors
    outputs = ["outputs/*"]             # the files checked (default: every output and executed notebook)
    acro_config = "acro.yaml"           # an ACRO YAML config under the project: its thresholds under these keys
    [disclosure.files."outputs/rare_*.csv"]
    min_count = 20                      # the first matching glob's rules replace these for its files

Precedence: the keys written in the table, then the ACRO config's, then ACRO's defaults. Each per-file
override is a whole ``DisclosureRules`` (the table's rules with the override's keys replaced), so whoever
applies one takes it as it is. The same rules may come back from a package's recorded settings, which are
hostile: ``acro_config`` must stay inside the folder it is read from.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from repropack.config import project_config
from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.model.disclosure import DisclosureRules
from repropack.resources import schema_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SCHEMA_FILE = "disclosure.schema.json"
TABLE = "disclosure"
_MAX_CONFIG_BYTES = 1 << 20  # a rules file is a few lines; more is not one
_MAX_SHOWN = 60  # characters of an offending value quoted in a message
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

#: ACRO config keys repropack applies, and the DisclosureRules field each sets. ACRO's other keys
#: (safe_dof_threshold, check_missing_values, survival_safe_threshold...) govern analyses repropack
#: does not check and are ignored.
_ACRO_KEYS = {
    "safe_threshold": "min_count",
    "zeros_are_disclosive": "zeros_are_disclosive",
    "safe_nk_n": "nk_n",
    "safe_nk_k": "nk_k",
    "safe_pratio_p": "p_ratio",
}


def is_declared(table: Any) -> bool:
    """Whether a ``[disclosure]`` table turns the export and replay gates on: it is a non-empty table."""
    return isinstance(table, Mapping) and bool(table)


def rules_from_table(table: Mapping[str, Any], where: str, base_dir: Path | None) -> DisclosureRules:
    """The rules a ``[disclosure]`` table declares; ``where`` names it in messages ("repropack.toml [disclosure]").

    ``base_dir`` is the folder ``acro_config`` is relative to (the project, or an unpacked package); a
    table naming ``acro_config`` without one, or naming a path that leaves it, is refused. BadInput, one
    line naming ``where`` and the key, for anything the schema refuses or an ACRO config that cannot be used.
    """
    if not isinstance(table, Mapping):
        raise BadInput(f"{where}: must be a table")
    problem = _shape_problem(_validator("#"), table)
    if problem:
        raise BadInput(f"{where}: {problem}")
    fields: dict[str, Any] = {}
    source = where
    if "acro_config" in table:
        relative = table["acro_config"]
        fields.update(_acro_fields(_acro_path(relative, where, base_dir), f"{where} acro_config"))
        source = f"{where} with ACRO config {relative}"
    fields.update(_fields(table))
    base = replace(DisclosureRules(), **fields, source=source)
    overrides = {
        glob: replace(base, **_fields(override), source=f"{where} files.{_quoted(glob)}")
        for glob, override in table.get("files", {}).items()
    }
    return replace(base, overrides=overrides)


def with_overrides(
    rules: DisclosureRules, overrides: Mapping[str, Any], *, where: str = "the replayer's disclosure settings"
) -> DisclosureRules:
    """``rules`` with the keys of ``overrides`` (a rules table as in ``[disclosure.files."GLOB"]``) replaced.

    The replayer's word wins everywhere: over the rules and over each per-file override. Empty ``overrides``
    return ``rules`` as they are. BadInput naming ``where`` and the key for a table the schema refuses.
    """
    if not overrides:
        return rules
    if not isinstance(overrides, Mapping):
        raise BadInput(f"{where}: must be a table")
    problem = _shape_problem(_validator("#/$defs/override"), overrides)
    if problem:
        raise BadInput(f"{where}: {problem}")
    fields = _fields(overrides)
    said = ", ".join(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in overrides.items())
    overridden = f"overridden by {where} ({said})"
    return replace(
        rules,
        **fields,
        overrides={
            glob: replace(rule, **fields, source=f"{rule.source}, {overridden}")
            for glob, rule in rules.overrides.items()
        },
        source=f"{rules.source}, {overridden}",
    )


def rules_from_acro_yaml(path: Path) -> DisclosureRules:
    """ACRO's defaults with the thresholds an ACRO YAML config at ``path`` sets; ``source`` is the path.

    Read as a regular file of at most 1 MiB, YAML aliases refused. Keys repropack does not apply are ignored;
    a key it applies with a value of the wrong type or range is BadInput naming the file and the key.
    """
    return replace(DisclosureRules(), **_acro_fields(path, str(path)), source=str(path))


def rules_from_file(path: Path) -> DisclosureRules:
    """The rules in the file ``--rules`` names: an ACRO config (``.yaml``/``.yml``) or a ``repropack.toml`` /
    ``pyproject.toml`` whose ``[disclosure]`` (``[tool.repropack.disclosure]``) table is read; BadInput otherwise."""
    if path.suffix.lower() in (".yaml", ".yml"):
        return rules_from_acro_yaml(path)
    if path.suffix.lower() != ".toml":
        raise BadInput(f"{path}: not a rules file: give a repropack.toml or an ACRO config (.yaml)")
    document = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = document.get("tool", {}).get("repropack", {}) if isinstance(document.get("tool"), dict) else {}
        table = tool.get(TABLE) if isinstance(tool, dict) else None
        where = f"{path} [tool.repropack.{TABLE}]"
    else:
        table, where = document.get(TABLE), f"{path} [{TABLE}]"
    if table is None:
        raise BadInput(f"{path}: has no [{TABLE}] table")
    return rules_from_table(table, where, path.parent)


def nearest_project_rules(start: Path) -> tuple[DisclosureRules, Path | None]:
    """The rules of the project ``start`` is in, and that project's folder.

    The project is the nearest folder at or above ``start`` holding a ``repropack.toml`` (or a
    ``pyproject.toml`` with ``[tool.repropack]``); its ``[disclosure]`` table, or ACRO's defaults when it
    declares none. ``(DisclosureRules(), None)`` when no folder above is a project.

    The walk stops at a git work tree's top and at the home folder, and passes over folders owned by
    another user: a ``repropack.toml`` planted in a shared folder such as ``/tmp`` must not relax the rules.
    """
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in _project_candidates(folder):
        table, found = project_config(candidate)
        if found is None:
            continue
        disclosure = table.get(TABLE, {})
        if isinstance(disclosure, Mapping) and not disclosure:
            return DisclosureRules(), candidate
        if found == "repropack.toml":
            where = f"{candidate / found} [{TABLE}]"
        else:
            where = f"{candidate / 'pyproject.toml'} [tool.repropack.{TABLE}]"
        return rules_from_table(disclosure, where, candidate), candidate
    return DisclosureRules(), None


def _project_candidates(folder: Path) -> list[Path]:
    """``folder`` and its parents up to the first git work tree's top or the home folder, whichever is nearer,
    leaving out folders whose project config neither this user nor root owns."""
    home = Path.home().resolve()
    trusted = (os.getuid(), 0)
    found = []
    for candidate in (folder, *folder.parents):
        owners = [_owner(candidate / name) for name in ("repropack.toml", "pyproject.toml")]
        if all(owner is None or owner in trusted for owner in owners):
            found.append(candidate)
        if candidate == home or (candidate / ".git").exists():
            break
    return found


def _owner(path: Path) -> int | None:
    try:
        return path.lstat().st_uid
    except OSError:
        return None


# --- the table's shape -------------------------------------------------------------------------------


@cache
def _validator(pointer: str) -> jsonschema.protocols.Validator:
    """A validator of the whole schema ("#") or one of its definitions ("#/$defs/override")."""
    schema = json.loads(schema_path(SCHEMA_FILE).read_text(encoding="utf-8"))
    if pointer != "#":
        schema = {"$defs": schema["$defs"], "$ref": pointer}
    return jsonschema.Draft202012Validator(schema)


def _shape_problem(validator: jsonschema.protocols.Validator, table: Mapping[str, Any]) -> str | None:
    """The first thing the schema refuses in ``table``, as "KEY must be ..., not VALUE"; None when it fits."""
    errors = sorted(validator.iter_errors(table), key=lambda e: [str(part) for part in e.absolute_path])
    if not errors:
        return None
    error = errors[0]
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(error.schema.get("properties", {}))
        unknown = sorted(str(key) for key in error.instance if key not in known)
        if unknown and known:
            return f"unknown key {_key([*path, unknown[0]])} (known: {', '.join(known)})"
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [key for key in error.schema["required"] if key not in error.instance]
        wanted = error.schema.get("errorMessage")
        return f"{_key(path)} needs {_quoted(missing[0])}" + (f": it {wanted}" if wanted else "")
    wanted = error.schema.get("errorMessage", "is not valid")
    return f"{_key(path) or 'the table'} {wanted}, not {_value(error.instance)}"


def _key(path: list[Any]) -> str:
    """A key path as TOML writes it: ``files."outputs/*.csv".min_count``, ``magnitudes[0].cell``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _quoted(str(part))
    return out


def _quoted(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


def _fields(table: Mapping[str, Any]) -> dict[str, Any]:
    """The DisclosureRules fields a table (already checked against the schema) sets."""
    fields: dict[str, Any] = {}
    if "min_count" in table:
        fields["min_count"] = table["min_count"]
    if "zeros_are_disclosive" in table:
        fields["zeros_are_disclosive"] = table["zeros_are_disclosive"]
    if "counts" in table:
        fields["counts"] = tuple(table["counts"])
    if "n" in table.get("dominance", {}):
        fields["nk_n"] = table["dominance"]["n"]
    if "k" in table.get("dominance", {}):
        fields["nk_k"] = float(table["dominance"]["k"])
    if "p_ratio" in table:
        fields["p_ratio"] = float(table["p_ratio"])
    if "magnitudes" in table:
        fields["magnitudes"] = tuple(
            {"file": m["file"], "cell": tuple(m["cell"]), "value": m["value"]} for m in table["magnitudes"]
        )
    if "outputs" in table:
        fields["outputs"] = tuple(table["outputs"])
    return fields


# --- files ---------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = read_regular_file(path, limit=_MAX_CONFIG_BYTES)
        return tomllib.loads(data.decode("utf-8"))
    except UnsafeData as exc:
        raise BadInput(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: invalid TOML: {exc}") from None


def _acro_path(relative: str, where: str, base_dir: Path | None) -> Path:
    """Where ``acro_config`` points: a relative POSIX path under ``base_dir``, never out of it."""
    if base_dir is None:
        raise BadInput(f"{where}: acro_config {relative!r} cannot be read here: no project folder to read it from")
    parts = relative.split("/")
    if relative.startswith("/") or "\\" in relative or ".." in parts or re.match(r"[A-Za-z]:", relative):
        raise BadInput(f"{where}: acro_config {relative!r} must be a path inside the project, such as 'acro.yaml'")
    return base_dir / posixpath.normpath(relative)


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing aliases: a "billion laughs" document only expands through them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise yaml.YAMLError(f"uses a YAML alias (line {line}), which is refused")
        return super().compose_node(parent, index)


def _acro_fields(path: Path, where: str) -> dict[str, Any]:
    """The DisclosureRules fields an ACRO YAML config sets; BadInput naming the file (and ``where``) and the key."""
    shown = str(path) if where == str(path) else f"{path} ({where})"
    try:
        data = read_regular_file(path, limit=_MAX_CONFIG_BYTES, what=shown)
        document = yaml.load(data, Loader=_NoAliasLoader)
    except UnsafeData as exc:
        raise BadInput(str(exc)) from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{shown}: not a YAML config we read: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:
        raise BadInput(f"{shown}: nested too deep") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise BadInput(f"{shown}: must be a YAML mapping of ACRO settings (safe_threshold: 10, ...)")
    fields = {}
    for key, field_name in _ACRO_KEYS.items():
        if key in document:
            fields[field_name] = _acro_value(key, document[key], shown)
    return fields


def _acro_value(key: str, value: Any, shown: str) -> Any:
    if key == "zeros_are_disclosive":
        if not isinstance(value, bool):
            raise BadInput(f"{shown}: {key} must be true or false, not {_value(value)}")
        return value
    if key in ("safe_threshold", "safe_nk_n"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadInput(f"{shown}: {key} must be a whole number, 1 or more, not {_value(value)}")
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or not 0 < value <= 1:
        raise BadInput(f"{shown}: {key} must be a number above 0 and at most 1, not {_value(value)}")
    return float(value)
