"""``repropack init``: a project's ``repropack.toml``, written from what its files say and what the user adds.

``plan_init`` reads the project (``project_metadata``) and lays the user's own
values over it (flags, or answers to prompts: ``given``); ``write_init`` writes the
file, each value followed by a comment naming where it came from. The file is
ordinary settings: ``config.resolve_settings`` reads it back to the same values.

It never overwrites a ``repropack.toml`` without ``force``, and not even then
when that file holds settings other than the package metadata (a ``[compare]``
table, restricted inputs...), which would be lost; nor does it write one beside a
``pyproject.toml`` with ``[tool.repropack]``, which it would silently shadow.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repropack.config import project_config, resolve_settings
from repropack.errors import BadInput
from repropack.export.project_metadata import FoundMetadata, Notes, bare_doi, orcid_url, project_metadata, spdx_id
from repropack.fs.atomic import write_bytes_atomically
from repropack.model import Organization, Person

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "repropack.toml"
#: What a package needs to be valid RO-Crate (license) and to say whose it is (title, authors).
REQUIRED = ("title", "license", "authors")
#: The settings ``init`` writes; a repropack.toml holding any other is not overwritten.
METADATA_SETTINGS = frozenset({"title", "description", "license", "keywords", "version", "doi", "authors", "publisher"})


@dataclass(frozen=True)
class InitPlan:
    """What ``write_init`` will write: each field's value and where it came from, and what is still missing."""

    project: Path
    values: Mapping[str, Any]  # title, description, license, keywords, version, doi, authors (Persons), publisher
    sources: Mapping[str, str]
    notes: tuple[str, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in REQUIRED if not self.values.get(name))

    @property
    def path(self) -> Path:
        return self.project / CONFIG_FILE

    def summary(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {
            "config": str(self.path),
            "fields": {name: self.sources[name] for name in self.values if self.values.get(name)},
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GivenMetadata:
    """Values the user typed (flags or answers): each wins over what the project's files say."""

    values: dict[str, Any] = field(default_factory=dict)
    source: str = "the command line"


def parse_author(text: str) -> Person:
    """``"Name"``, ``"Name <ORCID>"`` or ``"Name <ORCID> <email>"``; BadInput naming what is wrong."""
    name, _, rest = text.partition("<")
    name = " ".join(name.split())
    if not name:
        raise BadInput(f"--author {text!r}: needs a name, as in --author 'Ada Lovelace <0000-0002-1825-0097>'")
    parts = [p.strip().rstrip(">").strip() for p in ("<" + rest).split("<")[1:]] if rest else []
    orcid = email = None
    for part in parts:
        if "@" in part and email is None:
            email = part
        elif orcid is None:
            orcid = orcid_url(part)
            if orcid is None:
                raise BadInput(f"--author {text!r}: {part!r} is not a valid ORCID (wrong form or check digit)")
        else:
            raise BadInput(f"--author {text!r}: give at most an ORCID and an email, each in <...>")
    return Person(name, identifier=orcid, email=email)


def parse_publisher(text: str) -> Organization:
    """``"Name"`` or ``"Name <https://url>"``."""
    name, _, rest = text.partition("<")
    name, url = " ".join(name.split()), rest.rstrip().rstrip(">").strip() or None
    if not name:
        raise BadInput(
            f"--publisher {text!r}: needs a name, as in --publisher 'Example Institute <https://example.org>'"
        )
    if url is not None and not url.startswith(("https://", "http://")):
        raise BadInput(f"--publisher {text!r}: {url!r} is not an http(s) URL")
    return Organization(name, url)


def check_given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The user's own values, checked strictly (a bad one is BadInput, not a note): SPDX license, DOI."""
    out = dict(values)
    notes = Notes()
    if out.get("license"):
        out["license"] = spdx_id(out["license"], "--license", notes)
    if out.get("doi"):
        out["doi"] = bare_doi(out["doi"], "--doi", notes)
    if notes:
        raise BadInput(notes[0].removesuffix("; left out"))
    return out


def refuse_overwrite(project: Path, force: bool) -> None:
    """BadInput when writing ``repropack.toml`` would lose or shadow settings."""
    path = project / CONFIG_FILE
    if not path.exists():
        table, where = project_config(project)
        if where and table:
            raise BadInput(
                f"{project / 'pyproject.toml'}: has [tool.repropack], which a repropack.toml would shadow; "
                "add the metadata there instead"
            )
        return
    if not force:
        raise BadInput(f"{path}: already exists; pass --force to rewrite it")
    table, _ = project_config(project)
    other = sorted(set(table) - METADATA_SETTINGS)
    if other:
        raise BadInput(f"{path}: holds settings init does not write ({', '.join(other)}); edit it by hand instead")


def plan_init(project: Path, *given: GivenMetadata) -> InitPlan:
    """What the project says (its settings included), with each of ``given`` over it in turn."""
    found: FoundMetadata = project_metadata(project, resolve_settings({}, project, user={}))
    values: dict[str, Any] = {
        "title": found.title,
        "description": found.description,
        "license": found.license,
        "keywords": found.keywords,
        "version": found.version,
        "doi": found.doi,
        "authors": found.authors,
        "publisher": found.publisher,
    }
    sources = dict(found.sources)
    if found.publisher:
        sources["publisher"] = "settings (project)"
    for layer in given:
        for name, value in layer.values.items():
            if value:
                values[name] = value
                sources[name] = layer.source
    return InitPlan(project, values, sources, found.notes)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes, which TOML shares, and DEL escaped as TOML requires."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _inline_table(pairs: Mapping[str, str | None]) -> str:
    return "{ " + ", ".join(f"{k} = {toml_string(v)}" for k, v in pairs.items() if v) + " }"


def render(plan: InitPlan) -> str:
    """The repropack.toml text for ``plan``: top-level keys, then ``[publisher]``, then ``[[authors]]``."""
    v, src = plan.values, plan.sources
    lines = [
        "# repropack.toml, written by `repropack init`: the package metadata, each value with where it came from.",
        "# `repropack export` reads it; flags win over it. Add other settings (restrict, compare...) below.",
        "",
    ]
    for name in ("title", "description", "license", "version", "doi"):
        if v.get(name):
            lines.append(f"{name} = {toml_string(v[name])}  # from {src[name]}")
        elif name in REQUIRED:
            lines.append(f'# {name} = "…"  # missing: nothing in the project says it')
    if v.get("keywords"):
        keywords = ", ".join(toml_string(k) for k in v["keywords"])
        lines.append(f"keywords = [{keywords}]  # from {src['keywords']}")
    publisher: Organization | None = v.get("publisher")
    if publisher:
        lines += ["", f"[publisher]  # from {src['publisher']}", f"name = {toml_string(publisher.name)}"]
        lines += [f"{k} = {toml_string(x)}" for k, x in (("url", publisher.url), ("ror", publisher.ror)) if x]
        if publisher.email:
            lines.append(f"email = {toml_string(publisher.email)}")
    authors: tuple[Person, ...] = tuple(v.get("authors") or ())
    if authors:
        lines += ["", f"# authors from {src['authors']}"]
    else:
        lines += ["", '# [[authors]]  # missing: name = "…", orcid = "https://orcid.org/…"']
    for person in authors:
        lines += ["[[authors]]", f"name = {toml_string(person.name)}"]
        if person.identifier:
            key = "orcid" if person.identifier.startswith("https://orcid.org/") else "identifier"
            lines.append(f"{key} = {toml_string(person.identifier)}")
        if person.email:
            lines.append(f"email = {toml_string(person.email)}")
        org = person.affiliation
        if org:
            lines.append(f"affiliation = {_inline_table({'name': org.name, 'url': org.url, 'ror': org.ror})}")
    return "\n".join(lines) + "\n"


def write_init(plan: InitPlan) -> Path:
    """Write ``plan`` to PROJECT/repropack.toml, atomically."""
    text = render(plan)
    tomllib.loads(text)  # a file init writes must parse: a mistake here is a bug, never a half-written file
    write_bytes_atomically(plan.path, text.encode("utf-8"))
    return plan.path
