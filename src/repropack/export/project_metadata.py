"""The package's title, description, authors, license, keywords, version and DOI, from what the project says.

Each field comes from the first of these that gives it, and records which one
(``FoundMetadata.sources``): the settings (``repropack.toml``, ``[tool.repropack]``,
user config or flags), ``CITATION.cff``, ``codemeta.json``, ``.zenodo.json``,
``pyproject.toml`` ``[project]``, ``setup.cfg`` ``[metadata]``, ``setup.py`` (parsed
with ``ast`` for literal ``setup(...)`` arguments, never run), then a
``LICENSE``/``COPYING`` file identified by its text (``license_text``). Authors
come as one list from the first source that has any.

These files are the project's, and a project may be hostile: each is read as a
regular file of at most ``MAX_FILE_BYTES``, YAML aliases are refused (a "billion
laughs" document expands through them), JSON within ``fs.bounded``'s limits.
A file or value that is malformed, of the wrong type or unsafe (an ORCID that is
a ``javascript:`` URL, a DOI with markup) is left out with one note saying what
and where: notes become export warnings, never tracebacks. Settings are the
exception: they were checked by ``config`` and are taken as given, but for
identifiers, which are checked here like any other (a bad ORCID is a note, and
the person gets a local id).
"""

from __future__ import annotations

import ast
import configparser
import datetime as dt
import html
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from repropack.config import ResolvedSettings, organization_from_table, person_from_table
from repropack.export import license_text
from repropack.fs.bounded import UnsafeData, loads_bounded, nesting_depth, read_regular_file
from repropack.model import Organization, Person
from repropack.resources import schema_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: The most of any one metadata file read; a real CITATION.cff or codemeta.json is a few kilobytes.
MAX_FILE_BYTES = 1 * 2**20
_MAX_JSON_VALUES = 100_000
_MAX_DEPTH = 32
_MAX_TITLE = 500
_MAX_DESCRIPTION = 20_000
_MAX_KEYWORDS = 100
_MAX_KEYWORD = 200
_MAX_AUTHORS = 500

LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "LICENCE.md", "COPYING")
CFF_SCHEMA = "cff-1.2.0.schema.json"

_ORCID = re.compile(r"(?:https?://(?:www\.)?orcid\.org/)?([0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X])", re.IGNORECASE)
# Crossref's pattern for modern DOIs: no spaces, quotes or angle brackets.
_DOI = re.compile(r"10\.[0-9]{4,9}/[-._;()/:A-Za-z0-9]+")
_DOI_PREFIX = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s\"'<>\\`{}|^]+")
_EMAIL = re.compile(r"[^@\s\"'<>()\[\]\\,;:]+@[^@\s\"'<>()\[\]\\,;:]+\.[^@\s\"'<>()\[\]\\,;:]+")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

#: The fields read, in the order they are reported.
FIELDS = ("title", "description", "authors", "license", "keywords", "version", "doi")


@dataclass(frozen=True)
class FoundMetadata:
    """What the project says about itself; a field is None (or empty) when nothing said it.

    ``doi`` is bare (``10.5281/zenodo.123``); ``sources`` maps each field found to
    where it came from (``CITATION.cff``, ``LICENSE (text identified as MIT)``,
    ``settings (project)``); ``notes`` are one line each about what was left out and why.
    """

    title: str | None = None
    description: str | None = None
    authors: tuple[Person, ...] = ()
    license: str | None = None
    keywords: tuple[str, ...] = ()
    version: str | None = None
    doi: str | None = None
    publisher: Organization | None = None  # settings only: no project file names one
    sources: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass
class _Found:
    """What one source gave: field -> value, and field -> how it is named when it is not the source's own name."""

    values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


class Notes(list):
    """One line per value or file left out: "WHERE: WHAT"."""

    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


# --- values ---------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "a number"}.get(
        type(value), type(value).__name__
    )


def _text(value: Any, where: str, notes: Notes, limit: int = _MAX_TITLE, *, lines: bool = False) -> str | None:
    """A non-empty string of at most ``limit`` characters with no control character (newlines only with ``lines``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        notes.add(where, f"must be a string, not {_type_name(value)}; left out")
        return None
    text = value.strip() if lines else " ".join(value.split())
    if not text:
        return None
    if _CONTROL.search(text) or (not lines and "\n" in text):
        notes.add(where, "holds control characters; left out")
        return None
    if len(text) > limit:
        notes.add(where, f"longer than the {limit} characters allowed; left out")
        return None
    return text


def _version(value: Any, where: str, notes: Notes) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # "version: 2.1" in YAML is a number
    return _text(value, where, notes)


def _description(value: Any, where: str, notes: Notes) -> str | None:
    text = _text(value, where, notes, _MAX_DESCRIPTION, lines=True)
    if text is None:
        return None
    # Zenodo and codemeta descriptions may be HTML: the crate's description is text.
    return " ".join(html.unescape(_TAG.sub(" ", text)).split()) or None


def _keywords(value: Any, where: str, notes: Notes) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # codemeta, setup.cfg and setup.py allow "a, b, c"
        value = re.split(r"[,\n]", value)
    if not isinstance(value, (list, tuple)):
        notes.add(where, f"must be a list of strings, not {_type_name(value)}; left out")
        return ()
    if len(value) > _MAX_KEYWORDS:
        notes.add(where, f"more than the {_MAX_KEYWORDS} keywords allowed; left out")
        return ()
    out: list[str] = []
    for i, item in enumerate(value, start=1):
        keyword = _text(item, f"{where}[{i}]", notes, _MAX_KEYWORD)
        if keyword and keyword not in out:
            out.append(keyword)
    return tuple(out)


def orcid_url(value: str) -> str | None:
    """The ORCID ``value`` names as ``https://orcid.org/XXXX-XXXX-XXXX-XXXX``, or None when it is none or its
    check digit (ISO 7064 MOD 11-2) is wrong."""
    found = _ORCID.fullmatch(value.strip())
    if not found:
        return None
    digits = found[1].upper().replace("-", "")
    total = 0
    for digit in digits[:-1]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    if digits[-1] != ("X" if check == 10 else str(check)):
        return None
    return f"https://orcid.org/{found[1].upper()}"


def bare_doi(value: Any, where: str, notes: Notes) -> str | None:
    """``10.xxxx/...`` from a DOI given bare, as ``doi:...`` or as a doi.org URL; None (and a note) otherwise."""
    text = _text(value, where, notes)
    if text is None:
        return None
    doi = _DOI_PREFIX.sub("", text, count=1)
    if not _DOI.fullmatch(doi):
        notes.add(where, f"{text[:80]!r} is not a DOI (10.NNNN/...); left out")
        return None
    return doi


def _identifier(value: str | None, where: str, notes: Notes) -> str | None:
    """A person's identifier fit to be an ``@id``: a checked ORCID, or another http(s) URL; else a note."""
    if not value:
        return None
    if "orcid" in value.lower() or re.fullmatch(r"[0-9X-]{16,19}", value.strip(), re.IGNORECASE):
        url = orcid_url(value)
        if url is None:
            notes.add(
                where, f"{value[:80]!r} is not a valid ORCID (wrong form or check digit); the person gets a local id"
            )
        return url
    if _URL.fullmatch(value.strip()):
        return value.strip()
    notes.add(where, f"{value[:80]!r} is neither an ORCID nor an http(s) URL; the person gets a local id")
    return None


def _email(value: Any, where: str, notes: Notes) -> str | None:
    text = _text(value, where, notes)
    if text and not _EMAIL.fullmatch(text):
        notes.add(where, f"{text[:80]!r} is not an email address; left out")
        return None
    return text


def _organization(value: Any, where: str, notes: Notes) -> Organization | None:
    """An affiliation given as a name, or as a table/object with a name and perhaps a url."""
    if isinstance(value, list):  # codemeta and CFF may list several: the first is the person's main one
        value = value[0] if value else None
    if isinstance(value, Mapping):
        name = _text(value.get("name") or value.get("legalName"), f"{where}.name", notes)
        url = value.get("url") or (value.get("@id") if str(value.get("@id", "")).startswith("http") else None)
        url = _text(url, f"{where}.url", notes)
        if url and not _URL.fullmatch(url):
            notes.add(f"{where}.url", f"{url[:80]!r} is not an http(s) URL; left out")
            url = None
        ror = url if url and url.startswith("https://ror.org/") else None
        return Organization(name, None if ror else url, ror) if name else None
    name = _text(value, where, notes)
    return Organization(name) if name else None


def _person(
    name: Any, where: str, notes: Notes, *, orcid: Any = None, email: Any = None, affiliation: Any = None
) -> Person | None:
    text = _text(name, f"{where}.name", notes)
    if text is None:
        notes.add(where, "has no name; left out")
        return None
    orcid_text = _text(orcid, f"{where}.orcid", notes)
    return Person(
        text,
        _organization(affiliation, f"{where}.affiliation", notes),
        _identifier(orcid_text, f"{where}.orcid", notes),
        _email(email, f"{where}.email", notes),
    )


def _people(value: Any, where: str, notes: Notes, one: Callable[[Any, str], Person | None]) -> tuple[Person, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        notes.add(where, f"must be a list, not {_type_name(value)}; left out")
        return ()
    if len(value) > _MAX_AUTHORS:
        notes.add(where, f"more than the {_MAX_AUTHORS} authors allowed; left out")
        return ()
    found = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            notes.add(f"{where}[{i}]", f"must be a table, not {_type_name(item)}; left out")
            continue
        person = one(item, f"{where}[{i}]")
        if person is not None:
            found.append(person)
    return tuple(found)


def spdx_id(value: Any, where: str, notes: Notes) -> str | None:
    """One SPDX license id, canonically spelt (``packaging.licenses``); a note for anything else."""
    text = _text(value, where, notes)
    if text is None:
        return None
    text = re.sub(r"^https?://spdx\.org/licenses/", "", text).removesuffix(".html")
    try:
        canonical = canonicalize_license_expression(text)
    except InvalidLicenseExpression:
        notes.add(where, f"{text[:80]!r} is not an SPDX license id; left out")
        return None
    if " " in canonical:  # an expression: the crate names one license
        notes.add(where, f"{canonical[:80]!r} is a license expression, not one SPDX id; left out")
        return None
    return canonical


# --- reading files --------------------------------------------------------------------------------


def _read_text(project: Path, name: str, notes: Notes) -> str | None:
    """The text of ``project/name`` when it is there, a regular file within the limit and UTF-8."""
    path = project / name
    if not os.path.lexists(path):
        return None
    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES, what=name)
    except UnsafeData as error:
        notes.append(f"{error}; not read")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        notes.add(name, f"not UTF-8 (byte {error.start}); not read")
        return None


def _read_json(project: Path, name: str, notes: Notes) -> dict | None:
    text = _read_text(project, name, notes)
    if text is None:
        return None
    try:
        data = loads_bounded(text, max_depth=_MAX_DEPTH, max_values=_MAX_JSON_VALUES, what=name)
    except UnsafeData as error:
        notes.append(f"{error}; not read")
        return None
    if not isinstance(data, dict):
        notes.add(name, f"must hold a JSON object, not {_type_name(data)}; not read")
        return None
    return data


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases: a "billion laughs" document expands only through them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError(f"uses a YAML alias (line {self.peek_event().start_mark.line + 1}), which is refused")
        return super().compose_node(parent, index)


def _plain(value: Any) -> Any:
    """YAML's dates as the strings the CFF schema expects."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@cache
def _cff_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft7Validator(json.loads(schema_path(CFF_SCHEMA).read_text(encoding="utf-8")))


def _read_citation_cff(project: Path, notes: Notes) -> _Found | None:
    name = "CITATION.cff"
    text = _read_text(project, name, notes)
    if text is None:
        return None
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as error:
        notes.add(name, f"not YAML we read: {' '.join(str(error).split())[:200]}; not read")
        return None
    except RecursionError:
        notes.add(name, "nested too deep; not read")
        return None
    if not isinstance(data, dict):
        notes.add(name, f"must be a YAML mapping, not {_type_name(data)}; not read")
        return None
    if nesting_depth(data, stop_after=_MAX_DEPTH) > _MAX_DEPTH:
        notes.add(name, f"nested deeper than the {_MAX_DEPTH} levels allowed; not read")
        return None
    data = _plain(data)
    errors = sorted(_cff_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(root)"
        notes.add(name, f"not valid CFF 1.2.0 at {where}: {errors[0].message[:200]}; what is valid is used")

    def author(item: Mapping[str, Any], where: str) -> Person | None:
        parts = [item.get(k) for k in ("given-names", "name-particle", "family-names")]
        person_name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        if isinstance(item.get("name-suffix"), str) and person_name:
            person_name += f" {item['name-suffix'].strip()}"
        return _person(
            person_name or item.get("name") or item.get("alias"),
            where,
            notes,
            orcid=item.get("orcid"),
            email=item.get("email"),
            affiliation=item.get("affiliation"),
        )

    doi = data.get("doi")
    if doi is None and isinstance(data.get("identifiers"), list):
        doi = next(
            (i.get("value") for i in data["identifiers"] if isinstance(i, dict) and i.get("type") == "doi"), None
        )
    license = data.get("license")
    if isinstance(license, list):
        if len(license) != 1:
            notes.add(f"{name} license", "names several licenses; the crate names one: left out")
            license = None
        else:
            license = license[0]
    return _Found(
        {
            "title": _text(data.get("title"), f"{name} title", notes),
            "description": _description(data.get("abstract"), f"{name} abstract", notes),
            "authors": _people(data.get("authors"), f"{name} authors", notes, author),
            "license": spdx_id(license, f"{name} license", notes),
            "keywords": _keywords(data.get("keywords"), f"{name} keywords", notes),
            "version": _version(data.get("version"), f"{name} version", notes),
            "doi": bare_doi(doi, f"{name} doi", notes),
        }
    )


def _read_codemeta(project: Path, notes: Notes) -> _Found | None:
    name = "codemeta.json"
    data = _read_json(project, name, notes)
    if data is None:
        return None

    def author(item: Mapping[str, Any], where: str) -> Person | None:
        given, family = item.get("givenName"), item.get("familyName")
        full = " ".join(p.strip() for p in (given, family) if isinstance(p, str) and p.strip())
        identifier = item.get("@id") or item.get("identifier")
        return _person(
            full or item.get("name"),
            where,
            notes,
            orcid=identifier if isinstance(identifier, str) else None,
            email=item.get("email"),
            affiliation=item.get("affiliation"),
        )

    identifier = data.get("identifier")
    doi = None
    if isinstance(identifier, str) and ("doi" in identifier.lower() or identifier.startswith("10.")):
        doi = bare_doi(identifier, f"{name} identifier", notes)
    license = data.get("license")
    if isinstance(license, list):
        license = license[0] if len(license) == 1 else None
    return _Found(
        {
            "title": _text(data.get("name"), f"{name} name", notes),
            "description": _description(data.get("description"), f"{name} description", notes),
            "authors": _people(data.get("author"), f"{name} author", notes, author),
            "license": spdx_id(license, f"{name} license", notes),
            "keywords": _keywords(data.get("keywords"), f"{name} keywords", notes),
            "version": _version(data.get("version") or data.get("softwareVersion"), f"{name} version", notes),
            "doi": doi,
        }
    )


def _read_zenodo(project: Path, notes: Notes) -> _Found | None:
    name = ".zenodo.json"
    data = _read_json(project, name, notes)
    if data is None:
        return None

    def creator(item: Mapping[str, Any], where: str) -> Person | None:
        given = item.get("name")
        # Zenodo writes "Family, Given".
        if isinstance(given, str) and given.count(",") == 1:
            family, first = (p.strip() for p in given.split(","))
            given = f"{first} {family}" if first and family else given
        return _person(given, where, notes, orcid=item.get("orcid"), affiliation=item.get("affiliation"))

    license = data.get("license")
    if isinstance(license, Mapping):
        license = license.get("id")
    return _Found(
        {
            "title": _text(data.get("title"), f"{name} title", notes),
            "description": _description(data.get("description"), f"{name} description", notes),
            "authors": _people(data.get("creators"), f"{name} creators", notes, creator),
            "license": spdx_id(license, f"{name} license", notes),
            "keywords": _keywords(data.get("keywords"), f"{name} keywords", notes),
            "version": _version(data.get("version"), f"{name} version", notes),
            "doi": bare_doi(data.get("doi"), f"{name} doi", notes),
        }
    )


def _license_file(project: Path, relative: str, where: str, notes: Notes) -> tuple[str, str] | None:
    """(SPDX id, label) of the license file at ``relative``, identified by its text; a note when it is not."""
    text = _read_text(project, relative, notes)
    if text is None:
        return None
    identified = license_text.identify(text)
    if identified.spdx is None:
        notes.add(
            where,
            f'{identified.note}; add `license = "…"` to repropack.toml'
            if identified.note != "empty"
            else 'empty; add `license = "…"` to repropack.toml',
        )
        return None
    return identified.spdx, f"{relative} (text identified as {identified.spdx})"


def _inside(relative: str) -> bool:
    path = PurePosixPath(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts and "\\" not in relative


def _read_pyproject(project: Path, notes: Notes) -> _Found | None:
    name = "pyproject.toml"
    text = _read_text(project, name, notes)
    if text is None:
        return None
    try:
        table = tomllib.loads(text).get("project")
    except tomllib.TOMLDecodeError as error:
        notes.add(name, f"invalid TOML: {error}; not read")
        return None
    if table is None:
        return None
    where = f"{name} [project]"
    if not isinstance(table, dict):
        notes.add(where, "must be a table; not read")
        return None
    found = _Found()
    dynamic = table.get("dynamic") if isinstance(table.get("dynamic"), list) else []

    def author(item: Mapping[str, Any], at: str) -> Person | None:
        return _person(item.get("name"), at, notes, email=item.get("email"))

    license = table.get("license")
    if isinstance(license, str):  # PEP 639: an SPDX expression
        found.values["license"] = spdx_id(license, f"{where} license", notes)
    elif isinstance(license, Mapping) and isinstance(license.get("text"), str):
        short = license["text"].strip()
        if len(short) <= 64 and "\n" not in short:  # {text = "MIT"}: an id written as text
            found.values["license"] = spdx_id(short, f"{where} license.text", notes)
        else:
            identified = license_text.identify(license["text"])
            if identified.spdx:
                found.values["license"] = identified.spdx
                found.labels["license"] = f"{where} license.text (identified as {identified.spdx})"
            else:
                notes.add(f"{where} license.text", f'{identified.note}; add `license = "…"` to repropack.toml')
    elif isinstance(license, Mapping) and isinstance(license.get("file"), str):
        relative = license["file"]
        if not _inside(relative):
            notes.add(f"{where} license.file", f"{relative[:80]!r} is not a path inside the project; not read")
        else:
            got = _license_file(project, relative, f"{where} license.file", notes)
            if got:
                found.values["license"], found.labels["license"] = got[0], f"{where} license.file: {got[1]}"
    elif license is not None:
        notes.add(f"{where} license", f"must be a string or a table, not {_type_name(license)}; left out")
    found.values.update(
        title=_text(table.get("name"), f"{where} name", notes),
        description=_description(table.get("description"), f"{where} description", notes),
        authors=_people(table.get("authors"), f"{where} authors", notes, author),
        keywords=_keywords(table.get("keywords"), f"{where} keywords", notes),
        version=None if "version" in dynamic else _version(table.get("version"), f"{where} version", notes),
    )
    return found


def _directive(value: str | None) -> bool:
    """setup.cfg's ``attr:``/``file:`` values are computed at build time: not metadata to take as written."""
    return bool(value) and value.split(":", 1)[0].strip() in ("attr", "file")


def _read_setup_cfg(project: Path, notes: Notes) -> _Found | None:
    name = "setup.cfg"
    text = _read_text(project, name, notes)
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=name)
    except configparser.Error as error:
        notes.add(name, f"not an INI file we read: {' '.join(str(error).split())[:200]}; not read")
        return None
    if not parser.has_section("metadata"):
        return None
    meta = parser["metadata"]
    where = f"{name} [metadata]"
    values = {
        k: meta.get(k) for k in ("name", "description", "author", "author_email", "license", "keywords", "version")
    }
    values = {k: (None if _directive(v) else v) for k, v in values.items()}
    return _Found(_from_setup_values(values, where, notes))


def _from_setup_values(values: Mapping[str, Any], where: str, notes: Notes) -> dict[str, Any]:
    """setup.cfg's and setup.py's shared keywords, as fields."""
    authors: tuple[Person, ...] = ()
    if values.get("author") is not None:
        person = _person(values.get("author"), f"{where} author", notes, email=values.get("author_email"))
        authors = (person,) if person else ()
    return {
        "title": _text(values.get("name"), f"{where} name", notes),
        "description": _description(values.get("description"), f"{where} description", notes),
        "authors": authors,
        "license": spdx_id(values.get("license"), f"{where} license", notes),
        "keywords": _keywords(values.get("keywords"), f"{where} keywords", notes),
        "version": _version(values.get("version"), f"{where} version", notes),
    }


_SETUP_KEYWORDS = ("name", "description", "author", "author_email", "license", "keywords", "version")


def _read_setup_py(project: Path, notes: Notes) -> _Found | None:
    """The literal keyword arguments of ``setup(...)`` in setup.py, read with ``ast``: the file is never run."""
    name = "setup.py"
    text = _read_text(project, name, notes)
    if text is None:
        return None
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        notes.add(name, f"not Python we parse ({type(error).__name__}); not read")
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called != "setup":
            continue
        values: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg not in _SETUP_KEYWORDS:
                continue
            try:
                values[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                pass  # computed (read from a file, a variable): only literals are metadata we can take as written
        return _Found(_from_setup_values(values, f"{name} setup()", notes))
    return None


def _read_license_file(project: Path, notes: Notes) -> _Found | None:
    for candidate in LICENSE_FILES:
        if os.path.lexists(project / candidate):
            got = _license_file(project, candidate, candidate, notes)
            return _Found({"license": got[0]}, {"license": got[1]}) if got else None
    return None


#: The project files read, highest precedence first (the settings come before all of them).
READERS: tuple[tuple[str, Callable[[Path, Notes], _Found | None]], ...] = (
    ("CITATION.cff", _read_citation_cff),
    ("codemeta.json", _read_codemeta),
    (".zenodo.json", _read_zenodo),
    ("pyproject.toml [project]", _read_pyproject),
    ("setup.cfg [metadata]", _read_setup_cfg),
    ("setup.py", _read_setup_py),
    ("LICENSE", _read_license_file),
)


# --- settings and precedence ----------------------------------------------------------------------


def _from_settings(settings: ResolvedSettings, notes: Notes) -> tuple[_Found, Organization | None]:
    s = settings.values
    found = _Found()
    for name in ("title", "description", "license", "keywords", "version", "doi"):
        value = getattr(s, name, None)
        if value:
            found.values[name] = value
            found.labels[name] = f"settings ({settings.sources.get(name, 'default')})"
    if found.values.get("doi"):
        found.values["doi"] = bare_doi(found.values["doi"], "setting 'doi'", notes)
    if s.authors:
        people = []
        for i, table in enumerate(s.authors, start=1):
            person = person_from_table(table, f"authors[{i}]")
            people.append(
                replace(person, identifier=_identifier(person.identifier, f"setting authors[{i}].orcid", notes))
            )
        found.values["authors"] = tuple(people)
        found.labels["authors"] = f"settings ({settings.sources.get('authors', 'default')})"
    return found, organization_from_table(s.publisher, "publisher")


def project_metadata(project: Path, settings: ResolvedSettings) -> FoundMetadata:
    """Each field from the first source that gives it: the settings, then ``READERS`` in order."""
    notes = Notes()
    given, publisher = _from_settings(settings, notes)
    chosen: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def take(found: _Found, source: str) -> None:
        for name in FIELDS:
            value = found.values.get(name)
            if value and name not in chosen:
                chosen[name] = value
                sources[name] = found.labels.get(name, source)

    take(given, "settings")
    for source, reader in READERS:
        found = reader(project, notes)
        if found is not None:
            take(found, source)
    return FoundMetadata(
        **chosen,
        publisher=publisher,
        sources=sources,
        notes=tuple(notes),
    )


# --- what is still missing ------------------------------------------------------------------------


def missing_metadata(found: FoundMetadata) -> tuple[str, ...]:
    """One warning per fact the package lacks that RO-Crate requires or recommends, with the line that adds it."""
    out = []
    if not found.title:
        out.append(
            'no title found: the package is named after its folder; add title = "…" to repropack.toml '
            "(or title: to CITATION.cff)"
        )
    if not found.description:
        out.append(
            'no description found: the package says only what it is; add description = "…" to repropack.toml '
            "(or abstract: to CITATION.cff)"
        )
    if not found.license:
        out.append(
            "no license found: RO-Crate requires one, so `repropack check` will call the package invalid; "
            'add license = "SPDX-ID" to repropack.toml (or a LICENSE file, or license: to CITATION.cff)'
        )
    if not found.authors:
        out.append(
            'no author found: add authors = [{name = "…", orcid = "https://orcid.org/…", '
            'affiliation = {name = "…", url = "https://…"}}] to repropack.toml or a CITATION.cff'
        )
    for person in found.authors:
        if not (person.identifier or "").startswith("https://orcid.org/"):
            out.append(
                f"author {person.name!r} has no ORCID, which RO-Crate 1.2 recommends: add orcid: to their "
                'CITATION.cff entry, or orcid = "https://orcid.org/…" to their [[authors]] entry in repropack.toml'
            )
        if person.affiliation is None:
            out.append(
                f"author {person.name!r} has no affiliation, which RO-Crate recommends: add "
                f'affiliation = {{name = "…", url = "https://…"}} to their [[authors]] entry in repropack.toml'
            )
        elif not (person.affiliation.url or person.affiliation.ror):
            out.append(
                f"affiliation {person.affiliation.name!r} has no url, which RO-Crate recommends: add "
                f'affiliation = {{name = "{person.affiliation.name}", url = "https://…"}} to the [[authors]] '
                "entries in repropack.toml (repropack init writes them)"
            )
    if found.publisher is None:
        out.append(
            'no publisher set, which RO-Crate recommends: add publisher = {name = "…", url = "https://…"} '
            "to repropack.toml"
        )
    return tuple(dict.fromkeys(out))
