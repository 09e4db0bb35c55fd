"""The operator's admission policy: ``ROOT/policy.toml``, its defaults, and what it says about one package.

A repository without ``policy.toml`` admits by ``Policy()``. The file is strict: an unknown key, a value
of the wrong type or out of range is ``BadInput`` naming the key and the file (``schemas/policy.schema.json``
says the same for other tools). ``policy_violations`` is pure: the one-line reasons a package that is
intact still may not enter (each naming the file or the package, and the rule), which admission raises
as ``CheckFailed``.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_regular_file
from repropack.fs.names import shown
from repropack.model.layout import METADATA

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

POLICY_FILE = "policy.toml"
PROFILE_MODES = ("required", "off")
_MAX_POLICY_BYTES = 1 << 20
# A pattern naming a media type ("text/csv", "image/*"), not a file name: an IANA top-level type, a slash.
_MEDIA_TYPE = re.compile(r"(application|audio|example|font|haptics|image|message|model|multipart|text|video)/[^/]+")


@dataclass(frozen=True)
class Policy:
    """What a repository admits. Sizes are bytes; ``max_ratio`` is uncompressed/compressed per zip member."""

    max_package_bytes: int = 8 * 2**30  # every file together, as stored
    max_entries: int = 100_000  # files and folders (a zip's members)
    max_file_bytes: int = 8 * 2**30  # any one file
    max_ratio: float = 200.0  # for zip members over 1 MiB
    require_license: bool = True
    require_author: bool = True
    #: File-name globs ("*.csv", "data/*.parquet") or media types ("text/csv", "image/*"); "*" admits every file.
    allowed_file_types: tuple[str, ...] = ("*",)
    allow_archives: bool = False  # a zip/tar/gz/7z... inside the package (never expanded either way)
    profiles: str = "required"  # "required": a REQUIRED roc-validator issue refuses; "off": no profile check

    def allows_file_type(self, path: str, media_type: str | None) -> bool:
        """Whether ``allowed_file_types`` admits the file at package ``path`` with ``media_type``.

        A glob without "/" matches the file's name, one with "/" its whole path, both ignoring case;
        a media type matches the file's encodingFormat (parameters ignored), ``type/*`` any subtype.
        """
        name = path.rpartition("/")[2].casefold()
        media = (media_type or "").split(";", 1)[0].strip().casefold()
        for pattern in self.allowed_file_types:
            folded = pattern.casefold()
            if _MEDIA_TYPE.fullmatch(folded):
                if media and fnmatch.fnmatchcase(media, folded):
                    return True
            elif fnmatch.fnmatchcase(path.casefold() if "/" in folded else name, folded):
                return True
        return False


_DEFAULT = Policy()

#: Each key's TOML types and a description: the commented file ``repository init`` writes, and the checks.
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "max_package_bytes": ((int,), "Largest package, all its files together, in bytes."),
    "max_entries": ((int,), "Most files and folders in one package (a zip's members)."),
    "max_file_bytes": ((int,), "Largest single file, in bytes."),
    "max_ratio": ((int, float), "Most a zip member over 1 MiB may expand (uncompressed / compressed): bombs."),
    "require_license": ((bool,), "Refuse a package that names no license."),
    "require_author": ((bool,), "Refuse a package that names no author."),
    "allowed_file_types": (
        (list,),
        'File-name globs ("*.csv", "data/*.parquet") or media types ("text/csv", "image/*") a payload file\n'
        '# must match (repropack\'s own .repropack/ files and the metadata are always admitted); "*" admits all.\n'
        "# A pattern that starts with a media top-level type (text/, image/, application/...) is a media type.",
    ),
    "allow_archives": (
        (bool,),
        "Admit files that are archives (zip, tar, gzip, 7z...; found by their bytes, never expanded).\n"
        "# The package's own wheels under .repropack/wheelhouse/ and .repropack/local/ are always admitted.\n"
        "# Note: .xlsx, .docx, .odt and .npz files are zip archives too.",
    ),
    "profiles": (
        (str,),
        'RO-Crate profile validation (roc-validator, offline): "required" refuses a package with a REQUIRED\n'
        '# issue (RECOMMENDED ones are reported), "off" skips it.',
    ),
}


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list"}


def default_policy_text() -> str:
    """The commented ``policy.toml`` that ``repository init`` writes: every key at its default, explained."""
    lines = [
        "# What this repository admits (repropack). Every key is optional; a missing key keeps its default.",
        "# A package over a limit, or with a link, a device file, an unsafe name or a nested archive, is refused",
        "# as hostile (exit 2); one that is intact but breaks a rule below is refused with exit 1.",
        "",
    ]
    for key, (_, description) in _KEYS.items():
        lines += [f"# {description}", f"{key} = {_toml_value(getattr(_DEFAULT, key))}", ""]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int) and value >= 2**20 and value % 2**20 == 0:
        return f"{value:_}"
    return repr(value)


def load_policy(root: Path) -> Policy:
    """The policy of the repository at ``root``: ``root/policy.toml`` read strictly, ``Policy()`` when absent.

    BadInput (one line naming the file and the key) for a file that is not TOML, an unknown key, a value of
    the wrong type, a limit that is not positive, a ``profiles`` other than "required" or "off".
    """
    path = Path(root) / POLICY_FILE
    if not path.exists() and not path.is_symlink():
        return _DEFAULT
    try:
        text = read_regular_file(path, limit=_MAX_POLICY_BYTES, what=str(path)).decode("utf-8")
    except UnsafeData as exc:
        raise BadInput(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 (byte {exc.start})") from None
    return parse_policy(text, str(path))


def parse_policy(text: str, where: str) -> Policy:
    """``text`` (a policy.toml) as a Policy; BadInput naming ``where`` and the key, as ``load_policy``."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{where}: not TOML: {exc}") from None
    return Policy(**{key: _checked(key, value, where) for key, value in table.items()})


def _checked(key: str, value: Any, where: str) -> Any:
    if key not in _KEYS:
        raise BadInput(f"{where}: unknown key {key!r} (known: {', '.join(_KEYS)})")
    types, _ = _KEYS[key]
    if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
        wanted = " or ".join(_TYPE_NAMES[t] for t in types)
        raise BadInput(f"{where}: {key} must be {wanted}, not {value!r}")
    if key == "profiles" and value not in PROFILE_MODES:
        raise BadInput(f"{where}: profiles must be one of {', '.join(map(repr, PROFILE_MODES))}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
        raise BadInput(f"{where}: {key} must be positive, not {value!r}")
    if key == "max_ratio":
        return float(value)
    if key == "allowed_file_types":
        if not value or not all(isinstance(item, str) and item for item in value):
            raise BadInput(f"{where}: allowed_file_types must be a non-empty list of non-empty strings")
        return tuple(value)
    return value


def policy_violations(
    policy: Policy, files: Iterable[tuple[str, str | None]], *, license: str | None, authors: int
) -> list[str]:
    """Why ``policy`` refuses an intact package, one line each naming the file and the rule; empty if none.

    ``files``: the (package path, media type) of every payload file the file-type rule applies to;
    ``license`` and ``authors``: what the package's metadata names.
    """
    found = []
    if policy.require_license and not license:
        found.append(f"{METADATA}: names no license; policy.toml require_license")
    if policy.require_author and authors == 0:
        found.append(f"{METADATA}: names no author; policy.toml require_author")
    found += [
        f"{shown(path)}: file type not allowed by policy.toml allowed_file_types"
        for path, media_type in files
        if not policy.allows_file_type(path, media_type)
    ]
    return found
