"""Every setting of every command, where each one came from, each default written once.

Precedence, highest first: command-line flags, the project's ``repropack.toml``
(or ``[tool.repropack]`` in its ``pyproject.toml``), the user config file
(``$XDG_CONFIG_HOME/repropack/config.toml``, or ``$REPROPACK_CONFIG``), then
the defaults: the field defaults of the settings dataclasses below. List
settings given as flags extend the configured lists instead of replacing them,
so a flag can add one restricted file without dropping the project's.

This is the only module that reads the user config. The pipelines take the
resolved dataclasses, so ``replay_package(path, ReplaySettings(...))`` works
from plain Python with no command line at all.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

import platformdirs

from repropack import parameters as notebook_parameters
from repropack.errors import BadInput
from repropack.model import Organization, Person

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_BASE_IMAGE = "repropack/base:bookworm-py3.11"
#: RO-Crate versions repropack writes; reading also accepts 1.3.
CRATE_VERSIONS = ("1.2", "1.1")
DEFAULT_CRATE_VERSION = "1.2"

#: Settings that change where or how the package is written, not what is in it;
#: they are left out of the record so identical content gives identical bytes.
_NOT_RECORDED = frozenset({"force", "json"})


@dataclass(frozen=True)
class ExportSettings:
    """Every knob of ``repropack export``; field defaults are the built-in defaults."""

    notebooks: tuple[str, ...] = ()
    execute: bool = True
    allow_errors: bool = False
    timeout: int = 600  # seconds a single cell may run, as at replay
    total_timeout: int | None = None  # seconds all the notebooks' runs together may take; None: no limit
    runs: int = 1  # times each notebook is run; from 2 on, outputs that differ between runs are recorded
    kernel: str = "python3"
    restrict: tuple[str, ...] = ()
    restrict_note: str = "Restricted input: not distributed with the package; obtain it from the data controller."
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # globs taking files back that the project's .gitignore leaves out
    allow_secret: tuple[str, ...] = ()
    wheelhouse: bool = False
    # Environment variables recorded at export and set at replay, beyond the built-in ones that change
    # results (PYTHONHASHSEED, TZ, LANG/LC_*, OMP_*/OPENBLAS_*/MKL_* threads: export/environ.py).
    env: tuple[str, ...] = ()
    base_image: str = DEFAULT_BASE_IMAGE
    title: str = ""
    description: str = ""
    license: str = ""
    keywords: tuple[str, ...] = ()
    version: str = ""  # of the work the package holds; also read from CITATION.cff, codemeta.json, pyproject.toml...
    doi: str = ""  # the work's DOI, "10.NNNN/..." (export/project_metadata.py reads the project's files for it too)
    authors: tuple[Mapping[str, Any], ...] = ()
    publisher: Mapping[str, Any] = field(default_factory=dict)
    compare: Mapping[str, Any] = field(default_factory=dict)
    # Values injected into each notebook's ``parameters`` cell (papermill); a "*.ipynb" key holds one notebook's.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # Statistical disclosure control over the outputs (the ``[disclosure]`` table; disclosure/rules.py reads it):
    # a violating output stops the export, or with ``suppress`` is packed as a masked copy.
    disclosure: Mapping[str, Any] = field(default_factory=dict)
    suppress: bool = False
    # age X25519 recipients ("age1...", or a file of them): restricted inputs travel encrypted to exactly these.
    encrypt_to: tuple[str, ...] = ()
    crate_version: str = DEFAULT_CRATE_VERSION
    force: bool = False
    json: bool = False

    @property
    def execution(self) -> ExecutionSettings:
        """What the capture stage needs: how to run the notebooks and which files to watch."""
        return ExecutionSettings(
            self.execute,
            self.kernel,
            self.timeout,
            self.allow_errors,
            self.exclude,
            dict(self.parameters),
            self.total_timeout,
        )


@dataclass(frozen=True)
class ExecutionSettings:
    """The settings of export's capture stage."""

    execute: bool
    kernel: str
    timeout: int  # seconds a single cell may run
    allow_errors: bool
    exclude: tuple[str, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)  # as ExportSettings.parameters
    total_timeout: int | None = None  # seconds every notebook run of the export may take together


@dataclass(frozen=True)
class ResolvedSettings:
    """Effective settings plus the layer each one came from."""

    values: ExportSettings
    sources: Mapping[str, str]  # setting name -> "flag" | "project" | "user" | "default"
    # Package metadata field -> the file or setting it came from (export/project_metadata.py); recorded with the rest.
    metadata_sources: Mapping[str, str] = field(default_factory=dict)
    # list setting -> item -> where that item was given ("--restrict", "repropack.toml", the user config's path)
    origins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def origin(self, name: str, item: str) -> str:
        """Where one item of the list setting ``name`` was given, for a message: "--restrict", "repropack.toml"."""
        return self.origins.get(name, {}).get(item, self.sources.get(name, "default"))

    def recorded(self) -> dict[str, Any]:
        """The settings as stored in a package: JSON-able, with their sources."""
        out: dict[str, Any] = {}
        for f in fields(ExportSettings):
            if f.name in _NOT_RECORDED:
                continue
            value = getattr(self.values, f.name)
            out[f.name] = {"value": _jsonable(value), "source": self.sources[f.name]}
        if self.metadata_sources:
            out["metadata_sources"] = {"value": dict(self.metadata_sources), "source": "project files and settings"}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Variables the replay sandbox sets (or must not take from the exporting host): never recorded.
_SANDBOX_VARIABLES = frozenset({"PATH", "HOME", "PYTHONPATH", "PYTHONHOME", "LD_PRELOAD", "LD_LIBRARY_PATH"})

_FIELD_TYPES: dict[str, type] = {
    "notebooks": tuple,
    "execute": bool,
    "allow_errors": bool,
    "timeout": int,
    "total_timeout": int,
    "runs": int,
    "kernel": str,
    "restrict": tuple,
    "restrict_note": str,
    "exclude": tuple,
    "include": tuple,
    "allow_secret": tuple,
    "wheelhouse": bool,
    "env": tuple,
    "base_image": str,
    "title": str,
    "description": str,
    "license": str,
    "keywords": tuple,
    "version": str,
    "doi": str,
    "authors": tuple,
    "publisher": dict,
    "compare": dict,
    "parameters": dict,
    "disclosure": dict,
    "suppress": bool,
    "encrypt_to": tuple,
    "crate_version": str,
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
        if name == "env":
            bad = [v for v in value if not isinstance(v, str) or not _ENV_NAME.fullmatch(v)]
            if bad:
                raise BadInput(f"{where}: setting 'env' lists {bad[0]!r}, which is no environment variable name")
            owned = sorted(set(value) & _SANDBOX_VARIABLES)
            if owned:
                raise BadInput(f"{where}: setting 'env' lists {owned[0]}, which the replay sandbox sets itself")
        return tuple(value)
    if expected is int and isinstance(value, bool):
        raise BadInput(f"{where}: setting {name!r} must be an integer")
    if not isinstance(value, expected):
        raise BadInput(f"{where}: setting {name!r} must be a {expected.__name__}")
    if name in ("timeout", "total_timeout") and value <= 0:
        raise BadInput(f"{where}: setting {name!r} must be positive (whole seconds)")
    if name == "runs" and value < 1:
        raise BadInput(f"{where}: setting 'runs' must be 1 or more (2 runs show what differs between runs)")
    if name == "parameters":
        return notebook_parameters.check_table(value, f"{where} [parameters]")
    if name == "crate_version" and value not in CRATE_VERSIONS:
        raise BadInput(f"{where}: setting 'crate_version' must be one of {', '.join(CRATE_VERSIONS)}")
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
    """The user config file's tables ({} when there is none); the one place it is read."""
    path = user_config_file()
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
    origins: dict[str, dict[str, str]] = {}
    for f in fields(ExportSettings):
        sources[f.name] = "default"
    # The user config's [replay] and [open] tables hold replay and opening settings, not export ones.
    user_table.pop("replay", None)
    user_table.pop(OPEN_TABLE, None)
    layers = (
        ("user", user_table, str(user_config_path())),
        ("project", project_table, project_file or "project config"),
    )
    for layer_name, table, where in layers:
        for name, raw in table.items():
            values[name] = _coerce(name, raw, where)
            sources[name] = layer_name
            if _FIELD_TYPES[name] is tuple:
                origins[name] = {item: where for item in values[name] if isinstance(item, str)}
    for name, raw in flags.items():
        value = _coerce(name, list(raw) if isinstance(raw, tuple) else raw, "command line")
        if _FIELD_TYPES[name] is tuple and name in values and name != "notebooks":
            value = tuple(values[name]) + tuple(v for v in value if v not in values[name])
        if _FIELD_TYPES[name] is tuple:  # an item given in a file and again as a flag keeps the file as its origin
            flag = "--notebook" if name == "notebooks" else f"--{name.replace('_', '-')}"
            configured = origins.get(name, {}) if name != "notebooks" else {}
            origins[name] = {**{item: flag for item in value if isinstance(item, str)}, **configured}
        if name == "parameters" and name in values:  # a flag's value wins, the project's others stay
            value = notebook_parameters.merge(values[name], value)
        values[name] = value
        sources[name] = "flag"
    return ResolvedSettings(ExportSettings(**values), sources, origins=origins)


# --- opening a package or a record --------------------------------------------------------------

#: The user config's table of opening limits.
OPEN_TABLE = "open"


@dataclass(frozen=True)
class OpeningLimits:
    """How much of a package repropack reads before refusing it as hostile, in every command that opens one.

    Set in the ``[open]`` table of the user config. A zip may also expand to no more
    than 100 times its own size (at least 256 MiB), whatever ``max_package_bytes`` says.
    """

    max_package_bytes: int = 8 * 2**30  # all the members of a zip together, as written
    max_metadata_bytes: int = 32 * 2**20  # ro-crate-metadata.json, and each JSON support file
    # Values in each of those: the parsed form, not the text, is what takes memory (~400 MB at most).
    max_metadata_values: int = 4_000_000


def resolve_opening_limits(user: Mapping[str, Any] | None = None) -> OpeningLimits:
    """The user config's ``[open]`` table over the defaults (positive whole numbers of bytes)."""
    table = (user_config() if user is None else user).get(OPEN_TABLE, {})
    where = f"{user_config_file()} [{OPEN_TABLE}]"
    if not isinstance(table, Mapping):
        raise BadInput(f"{where}: must be a table")
    known = {f.name for f in fields(OpeningLimits)}
    for name, value in table.items():
        if name not in known:
            raise BadInput(f"{where}: unknown setting {name!r} (known: {', '.join(sorted(known))})")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise BadInput(f"{where}: {name!r} must be a positive whole number of bytes")
    return OpeningLimits(**table)


# --- replay -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxLimits:
    """What a replay may use.

    ``timeout``, ``memory`` and ``disk`` None mean "derived from the package": from the wall time,
    peak memory and file sizes its recorded run measured, with headroom (``replay/limits.py``), or
    the fallbacks below for a package that recorded none. A replay runs with the derived values filled in.
    """

    # Wall-clock seconds for all notebooks, the total (``--total-timeout``); the sandbox is killed after.
    # A single cell's limit is ``ReplaySettings.timeout``, the runner's.
    timeout: int | None = None
    memory: str | None = None  # as Docker takes it: "512m", "2g"
    pids: int = 256
    network: bool = False
    disk: str | None = None  # the most the work folder may hold, as memory: "20m", "1g" (``size_in_bytes``)

    def describe(self) -> dict:
        return {
            "timeout_s": self.timeout,
            "memory": self.memory,
            "pids": self.pids,
            "network": self.network,
            "disk": self.disk,
        }


_SIZE = re.compile(r"([1-9][0-9]*)([kmgt]?)b?", re.IGNORECASE)


def size_in_bytes(text: str) -> int:
    """A size as docker writes one ("20m", "1g", "512k", "4096"; binary units) in bytes; ValueError if it is none."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a size such as 20m or 1g")
    return int(found[1]) * 1024 ** "bkmgt".index((found[2] or "b").lower())


_DURATION = re.compile(r"([1-9][0-9]{0,8})([smhdw])", re.IGNORECASE)
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_in_seconds(text: str) -> int:
    """An age such as "30d", "12h", "90m", "45s", "2w" in seconds; ValueError if it is none."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an age such as 30d or 12h")
    return int(found[1]) * _DURATION_SECONDS[found[2].lower()]


#: Seconds a replay's image build may run before it is cancelled (``--build-timeout``).
DEFAULT_BUILD_TIMEOUT = 1800

#: The replay limits of a package that recorded no wall time or peak memory (exported before they were).
FALLBACK_REPLAY_TIMEOUT = 1800
FALLBACK_REPLAY_MEMORY = "2g"


def default_ca_bundle() -> Path | None:
    """The trusted CA bundle as pip and requests find it: their standard variables, in their order."""
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    return None


@dataclass(frozen=True)
class ReplaySettings:
    """Every knob of ``repropack replay``; field defaults are the built-in defaults.

    ``base_image`` None means the one the package records; ``record`` None a
    folder beside the package; ``key`` None the user's default key (made on
    first use); ``operator`` None the person ``default_operator`` finds.
    """

    backend: str = "docker"
    base_image: str | None = None
    ca_bundle: Path | None = field(default_factory=default_ca_bundle)
    offline: bool = False
    inputs: Mapping[str, Path] = field(default_factory=dict)  # package path -> file supplying a restricted input
    inputs_dir: Path | None = None  # a folder holding restricted inputs at their package paths
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    timeout: int | None = None  # seconds a single cell may run (``--timeout``); None: the package's recorded one
    compare: tuple[str, ...] = ()  # GLOB=RULE[:k=v,...], applied over the package's declared rules
    build_timeout: int = DEFAULT_BUILD_TIMEOUT  # seconds the environment's build may take; then it is cancelled
    keep: bool = False
    keep_restricted: bool = False  # with keep: restricted inputs stay in the kept work folder too
    record: Path | None = None
    key: Path | None = None
    report: Path | None = None  # also copy the HTML report here
    operator: Person | None = None
    crate_version: str = DEFAULT_CRATE_VERSION
    opening: OpeningLimits = field(default_factory=OpeningLimits)
    # What-if values (``replay -p``): injected instead of the recorded ones; the verdict is then no reproduction.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # An age identity file: restricted inputs the package carries encrypted are decrypted into the sandbox only.
    identity: Path | None = None
    # Disclosure rules over the package's declared ones (``--min-count``; the ``[disclosure]`` key of [replay]).
    disclosure: Mapping[str, Any] = field(default_factory=dict)

    def recorded(self, sources: Mapping[str, str]) -> dict[str, Any]:
        """The settings as a record states them: JSON-able values with their sources.

        Restricted inputs are named by package path only: where the files came
        from on this machine is not part of the record.
        """
        values: dict[str, Any] = {
            "backend": self.backend,
            "base_image": self.base_image,
            "ca_bundle": bool(self.ca_bundle),
            "offline": self.offline,
            "inputs": sorted(self.inputs),
            "inputs_dir": self.inputs_dir is not None,
            "timeout": self.timeout,
            "total_timeout": self.limits.timeout,
            "memory": self.limits.memory,
            "disk": self.limits.disk,
            "compare": list(self.compare),
            "build_timeout": self.build_timeout,
            "keep": self.keep,
            "keep_restricted": self.keep_restricted,
            "crate_version": self.crate_version,
            "parameters": dict(self.parameters),
            "identity": self.identity is not None,
            "disclosure": dict(self.disclosure),
        }
        return {name: {"value": value, "source": sources.get(name, "default")} for name, value in values.items()}


SettingsT = TypeVar("SettingsT")

#: Replay settings the user config's [replay] table may hold, with their types.
_REPLAY_TABLE: dict[str, type] = {
    "backend": str,
    "base_image": str,
    "timeout": int,
    "total_timeout": int,
    "build_timeout": int,
    "memory": str,
    "disk": str,
    "crate_version": str,
    "operator": dict,
    "identity": str,
    "disclosure": dict,
}


@dataclass(frozen=True)
class Resolved(Generic[SettingsT]):
    """Effective settings plus the layer each one came from ("flag", "user", "default")."""

    values: SettingsT
    sources: Mapping[str, str]


def _replay_value(name: str, value: Any, where: str) -> Any:
    expected = _REPLAY_TABLE[name]
    if name in ("timeout", "total_timeout", "build_timeout"):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise BadInput(f"{where}: replay setting {name!r} must be a positive whole number of seconds")
    elif name == "memory":
        if not isinstance(value, str) or not value:
            raise BadInput(f"{where}: replay setting 'memory' must be a string such as '2g'")
    elif name == "disk":
        try:
            size_in_bytes(value if isinstance(value, str) else "")
        except ValueError:
            raise BadInput(f"{where}: replay setting 'disk' must be a size such as '20m' or '1g'") from None
    elif name == "crate_version":
        if value not in CRATE_VERSIONS:
            raise BadInput(f"{where}: replay setting 'crate_version' must be one of {', '.join(CRATE_VERSIONS)}")
    elif not isinstance(value, expected):
        raise BadInput(f"{where}: replay setting {name!r} must be a {expected.__name__}")
    return value


def resolve_replay_settings(
    flags: Mapping[str, Any], user: Mapping[str, Any] | None = None
) -> Resolved[ReplaySettings]:
    """Flags (only those given; ``total_timeout``/``memory``/``disk`` for the limits) over the user config's
    ``[replay]`` table over the defaults; returns ``Resolved(ReplaySettings, sources)``."""
    user_table = user_config() if user is None else dict(user)
    replay_table = user_table.get("replay", {})
    where = f"{user_config_file()} [replay]"
    if not isinstance(replay_table, Mapping):
        raise BadInput(f"{where}: must be a table")
    chosen: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in replay_table.items():
        if name not in _REPLAY_TABLE:
            raise BadInput(f"{where}: unknown replay setting {name!r}")
        chosen[name] = _replay_value(name, value, where)
        sources[name] = "user"
    for name, value in flags.items():
        if value is None:
            continue
        chosen[name] = _replay_value(name, value, "command line") if name in _REPLAY_TABLE else value
        sources[name] = "flag"
    if isinstance(chosen.get("identity"), str):  # the user config names the identity file by its path
        chosen["identity"] = Path(chosen["identity"]).expanduser()
    operator_table = chosen.pop("operator", None)
    operator = person_from_table(operator_table, f"{where} operator") if operator_table else default_operator()
    sources.setdefault("operator", "default")
    limits = SandboxLimits(
        timeout=chosen.pop("total_timeout", SandboxLimits.timeout),
        memory=chosen.pop("memory", SandboxLimits.memory),
        disk=chosen.pop("disk", SandboxLimits.disk),
    )
    known = {f.name for f in fields(ReplaySettings)}
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise BadInput(f"unknown replay setting {unknown[0]!r}")
    if chosen.get("keep_restricted") and not chosen.get("keep"):
        raise BadInput("--keep-restricted keeps restricted inputs in the kept work dir: it needs --keep")
    opening = resolve_opening_limits(user_table)
    return Resolved(ReplaySettings(limits=limits, operator=operator, opening=opening, **chosen), sources)


def user_config_file() -> Path:
    """The user config file this process reads: ``$REPROPACK_CONFIG`` or the XDG location."""
    return Path(os.environ["REPROPACK_CONFIG"]) if "REPROPACK_CONFIG" in os.environ else user_config_path()


# --- who replays ------------------------------------------------------------------------------


def _optional_text(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"{where}: {key!r} must be a string")
    return value or None


def organization_from_table(value: Any, where: str) -> Organization | None:
    """An organization given as a name, or as a table {name, url, ror, email}; None when it has no name."""
    if isinstance(value, str):
        return Organization(value) if value.strip() else None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or not value["name"].strip():
        return None
    return Organization(
        value["name"],
        _optional_text(value, "url", where),
        _optional_text(value, "ror", where),
        _optional_text(value, "email", where),
    )


def person_from_table(table: Any, where: str) -> Person:
    """A person of a settings table (an author, ``[replay.operator]``): name, orcid, email, affiliation."""
    if not isinstance(table, Mapping) or not isinstance(table.get("name"), str) or not table["name"].strip():
        raise BadInput(f"{where}: needs a name")
    return Person(
        table["name"],
        organization_from_table(table.get("affiliation"), f"{where} affiliation"),
        _optional_text(table, "orcid", where) or _optional_text(table, "identifier", where),
        _optional_text(table, "email", where),
    )


def _git_config(key: str) -> str | None:
    try:
        done = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def default_operator() -> Person:
    """Who replays when the user config does not say: git's ``user.name``/``user.email``, else the OS user.

    Only what is known is filled in: no affiliation, no identifier.
    """
    name = _git_config("user.name")
    if name:
        return Person(name, email=_git_config("user.email"))
    return Person(getpass.getuser())
