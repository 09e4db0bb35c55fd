"""Export settings and where each one came from.

Precedence, highest first: command-line flags, the project's ``repropack.toml``
(or ``[tool.repropack]`` in its ``pyproject.toml``), the user config file
(``$XDG_CONFIG_HOME/repropack/config.toml``), then the defaults below. List
settings given as flags extend the configured lists instead of replacing them,
so a flag can add one restricted file without dropping the project's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from repropack.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_BASE_IMAGE = "repropack/base:bookworm-py3.11"

#: Settings that change where or how the package is written, not what is in it;
#: they are left out of the record so identical content gives identical bytes.
_NOT_RECORDED = frozenset({"force", "json"})


@dataclass(frozen=True)
class ExportSettings:
    """Every knob of ``repropack export``; field defaults are the built-in defaults."""

    notebooks: tuple[str, ...] = ()
    execute: bool = True
    allow_errors: bool = False
    timeout: int = 600
    kernel: str = "python3"
    restrict: tuple[str, ...] = ()
    restrict_note: str = "Restricted input: not distributed with the package; obtain it from the data controller."
    exclude: tuple[str, ...] = ()
    allow_secret: tuple[str, ...] = ()
    wheelhouse: bool = False
    base_image: str = DEFAULT_BASE_IMAGE
    title: str = ""
    description: str = ""
    license: str = ""
    keywords: tuple[str, ...] = ()
    authors: tuple[Mapping[str, Any], ...] = ()
    publisher: Mapping[str, Any] = field(default_factory=dict)
    compare: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False
    json: bool = False


@dataclass(frozen=True)
class ResolvedSettings:
    """Effective settings plus the layer each one came from."""

    values: ExportSettings
    sources: Mapping[str, str]  # setting name -> "flag" | "project" | "user" | "default"

    def recorded(self) -> dict[str, Any]:
        """The settings as stored in a package: JSON-able, with their sources."""
        out: dict[str, Any] = {}
        for f in fields(ExportSettings):
            if f.name in _NOT_RECORDED:
                continue
            value = getattr(self.values, f.name)
            out[f.name] = {"value": _jsonable(value), "source": self.sources[f.name]}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


_FIELD_TYPES: dict[str, type] = {
    "notebooks": tuple,
    "execute": bool,
    "allow_errors": bool,
    "timeout": int,
    "kernel": str,
    "restrict": tuple,
    "restrict_note": str,
    "exclude": tuple,
    "allow_secret": tuple,
    "wheelhouse": bool,
    "base_image": str,
    "title": str,
    "description": str,
    "license": str,
    "keywords": tuple,
    "authors": tuple,
    "publisher": dict,
    "compare": dict,
    "force": bool,
    "json": bool,
}


def _coerce(name: str, value: Any, where: str) -> Any:
    """Check one configured value's type; lists become tuples."""
    if name not in _FIELD_TYPES:
        raise BadInput(f"{where}: unknown setting {name!r}")
    expected = _FIELD_TYPES[name]
    if expected is tuple:
        if not isinstance(value, list):
            raise BadInput(f"{where}: setting {name!r} must be a list")
        return tuple(value)
    if expected is int and isinstance(value, bool):
        raise BadInput(f"{where}: setting {name!r} must be an integer")
    if not isinstance(value, expected):
        raise BadInput(f"{where}: setting {name!r} must be a {expected.__name__}")
    if name == "timeout" and value <= 0:
        raise BadInput(f"{where}: setting 'timeout' must be positive")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None


def project_config(project: Path) -> tuple[dict[str, Any], str | None]:
    """The project's settings table and the file it came from (None when there is none)."""
    toml_path = project / "repropack.toml"
    if toml_path.is_file():
        return _read_toml(toml_path), "repropack.toml"
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("repropack")
        if table is not None:
            if not isinstance(table, dict):
                raise BadInput(f"{pyproject}: [tool.repropack] must be a table")
            return table, "pyproject.toml [tool.repropack]"
    return {}, None


def user_config_path() -> Path:
    return Path(platformdirs.user_config_dir("repropack")) / "config.toml"


def user_config() -> dict[str, Any]:
    path = Path(os.environ["REPROPACK_CONFIG"]) if "REPROPACK_CONFIG" in os.environ else user_config_path()
    if not path.is_file():
        return {}
    return _read_toml(path)


def resolve_settings(
    flags: Mapping[str, Any], project: Path, user: Mapping[str, Any] | None = None
) -> ResolvedSettings:
    """Merge the layers; ``flags`` holds only the options the user actually gave."""
    user_table = user_config() if user is None else dict(user)
    project_table, project_file = project_config(project)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for f in fields(ExportSettings):
        sources[f.name] = "default"
    # The user config's [replay] table holds replay settings, not export ones.
    user_table.pop("replay", None)
    layers = (
        ("user", user_table, str(user_config_path())),
        ("project", project_table, project_file or "project config"),
    )
    for layer_name, table, where in layers:
        for name, raw in table.items():
            values[name] = _coerce(name, raw, where)
            sources[name] = layer_name
    for name, raw in flags.items():
        value = _coerce(name, list(raw) if isinstance(raw, tuple) else raw, "command line")
        if _FIELD_TYPES[name] is tuple and name in values and name != "notebooks":
            value = tuple(values[name]) + tuple(v for v in value if v not in values[name])
        values[name] = value
        sources[name] = "flag"
    return ResolvedSettings(ExportSettings(**values), sources)
