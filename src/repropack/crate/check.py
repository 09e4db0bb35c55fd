"""``repropack check``: is a package intact and valid?

Three independent checks, all reported (not just the first failure): every
described file against its recorded size and sha256, the metadata against the
repropack JSON Schema, and the RO-Crate profiles through roc-validator offline:
those of the package's RO-Crate version (``crate.versions``) and Process Run
Crate 0.5. A RECOMMENDED profile issue that only a fact nobody gave can clear
(a ROR id, a contact point, an affiliation) is advice naming the setting that
supplies it, not a problem; so is the one ``crate.versions`` accepts on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from repropack.config import OpeningLimits
from repropack.crate.profiles import validate_profiles
from repropack.crate.reader import OpenedPackage, open_package
from repropack.crate.support import schema_validator
from repropack.crate.versions import crate_version_of, validator_profiles
from repropack.errors import BadInput
from repropack.fs.hashing import hash_files
from repropack.fs.walk import EntryKind, walk_tree
from repropack.model import FileRecord, layout
from repropack.model.layout import is_safe_package_path
from repropack.parameters import verify_recorded

SCHEMA_FILE = "package.schema.json"


@dataclass(frozen=True)
class Problem:
    kind: str  # "hash" | "layout" | "schema" | "profile" | "lock"
    message: str


#: Problem kinds that are an attempt to make a replay fetch or run what repropack did not write: the
#: lock parsed strictly (``model.lock``) found an index option, a URL, a path...; a support file
#: (settings.json, capture.json) re-hashed with values repropack never writes; recorded notebook parameters
#: that are not what the packaged notebooks' injected cells run. ``check`` exits 2 for them.
HOSTILE_KINDS = frozenset({"lock", "support", "parameters"})


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    #: RECOMMENDED profile issues that a missing fact explains, each with the setting that supplies it; not problems.
    advice: list[Advice] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 valid, 1 invalid, 2 when a problem is hostile input (a lock pip would read as more than pins)."""
        if any(p.kind in HOSTILE_KINDS for p in self.problems):
            return 2
        return 0 if self.valid else 1

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "files_checked": self.files_checked,
            "problems": [{"kind": p.kind, "message": p.message} for p in self.problems],
            "advice": [{"check": a.check, "message": a.message, "setting": a.setting} for a in self.advice],
        }


def _listing(root: Path) -> tuple[list[str], list[str], list[str]]:
    """The symlinks, the regular files and the folders that could not be listed under ``root``,
    relative and sorted; no link is followed."""
    unlistable: list[str] = []

    def note(path: Path, error: OSError) -> None:
        # A folder that cannot be listed could hide a symlink the hash step would follow.
        unlistable.append(path.relative_to(root).as_posix() if path != root else ".")

    entries = list(walk_tree(root, on_error=note))
    links = sorted(entry.relpath for entry in entries if entry.kind is EntryKind.SYMLINK)
    files = sorted(entry.relpath for entry in entries if entry.kind is EntryKind.FILE)
    return links, files, sorted(unlistable)


def check_files(package: OpenedPackage) -> tuple[list[Problem], int]:
    """Compare every described file with its recorded size and sha256.

    A package holds regular files only: a symlink (which could make a check
    read, and vouch for, bytes from outside the package) is a problem itself.
    """
    links, present_files, unlistable = _listing(package.root)
    problems = [Problem("layout", f"{link}: symlink in the package") for link in links]
    problems += [Problem("layout", f"{folder}: folder in the package cannot be listed") for folder in unlistable]
    to_hash: dict[Path, FileRecord] = {}
    described = set()
    for unreadable in package.problems:
        if is_safe_package_path(unreadable.path):
            described.add(unreadable.path)
        problems.append(Problem(unreadable.kind, unreadable.message))
    for record in package.package.files:
        path = record.path
        if not is_safe_package_path(path):
            problems.append(Problem("layout", f"{path}: described path escapes the package"))
            continue
        if any(path == link or path.startswith(link + "/") for link in links):
            problems.append(Problem("layout", f"{path}: reached through a symlink; not checked"))
            continue
        described.add(path)
        on_disk = package.root / path
        if record.restricted:
            if on_disk.exists():
                problems.append(Problem("layout", f"{path}: restricted file is present in the package"))
            problems += _encrypted_copy_problems(package, record)
            continue
        if not on_disk.is_file():
            problems.append(Problem("hash", f"{path}: described but missing from the package"))
            continue
        to_hash[on_disk] = record
    digests = hash_files(list(to_hash))
    for on_disk, record in sorted(to_hash.items(), key=lambda kv: kv[1].path):
        digest = digests[on_disk]
        if digest.size != record.size:
            problems.append(Problem("hash", f"{record.path}: size {digest.size} differs from recorded {record.size}"))
        elif digest.sha256 != record.sha256:
            problems.append(
                Problem("hash", f"{record.path}: sha256 {digest.sha256} differs from recorded {record.sha256}")
            )
    for present in present_files:
        if present != layout.METADATA and present not in described:
            problems.append(Problem("layout", f"{present}: file in the package is not described by its metadata"))
    return problems, len(to_hash)


def _encrypted_copy_problems(package: OpenedPackage, record: FileRecord) -> list[Problem]:
    """A restricted file's ciphertext must be a described, present file (its own record checks its hash).

    The reader already refused a copy outside ``.repropack/encrypted/`` (a ``layout`` read problem).
    """
    copy = record.encrypted_copy
    if copy is None:
        return []
    described = any(f.path == copy and not f.restricted for f in package.package.files)
    if not described or not (package.root / copy).is_file():
        return [Problem("layout", f"{record.path}: its encrypted copy {copy} is not a described file of the package")]
    if not record.recipients:
        return [Problem("layout", f"{record.path}: has an encrypted copy but names no recipient")]
    return []


def check_schema(metadata: dict) -> list[Problem]:
    validator = schema_validator(SCHEMA_FILE)
    return [
        Problem("schema", f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:300]}")
        for error in sorted(validator.iter_errors(metadata), key=lambda e: list(map(str, e.absolute_path)))
    ]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

_USER_CONFIG = "[replay.operator] of the user config ($REPROPACK_CONFIG or ~/.config/repropack/config.toml)"
#: RECOMMENDED issues that only a fact nobody gave can clear -> (what is missing, the package setting, the record
#: setting). Matched on the validator's message, which is the same in the ro-crate-1.1/1.2/1.3 profiles (check ids
#: are numbered per profile). Anything else the validator says stays a problem.
_MISSING_FACTS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (
        re.compile(r"Organization entity SHOULD have a ROR identifier"),
        "a ROR id for {orgs_without_ror}",
        "set publisher.ror / authors[].affiliation.ror (https://ror.org/...) in repropack.toml",
        f"set affiliation.ror (https://ror.org/...) in {_USER_CONFIG}",
    ),
    (
        re.compile(r"Organization's contactPoint SHOULD reference a ContactPoint"),
        "a contact point for {orgs_without_contact}",
        "set publisher.email / authors[].affiliation.email in repropack.toml",
        f"set affiliation.email in {_USER_CONFIG}",
    ),
    (
        re.compile(r"author or publisher Person/Organization SHOULD have a contactPoint"),
        "a contact point for an author or the publisher",
        "set authors[].email (or publisher.email) in repropack.toml",
        f"set email in {_USER_CONFIG} (or git config user.email)",
    ),
    (
        re.compile(r"Person entity SHOULD have an ORCID identifier"),
        "an ORCID for {people_without_orcid}",
        "set authors[].orcid in repropack.toml",
        f"set orcid in {_USER_CONFIG}",
    ),
    (
        re.compile(r"author SHOULD have .*affiliation"),
        "an affiliation for {authors_without_affiliation}",
        "set authors[].affiliation = {{name, url}} in repropack.toml",
        f"set affiliation = {{{{name, url}}}} in {_USER_CONFIG}",
    ),
    (
        re.compile(r"organization SHOULD have a URL"),
        "a url for {orgs_without_url}",
        "set publisher.url / authors[].affiliation.url in repropack.toml",
        f"set affiliation.url in {_USER_CONFIG}",
    ),
    (
        re.compile(r"`publisher` property"),
        "a publishing organization",
        "set publisher = {{name, url}} in repropack.toml",
        f"set affiliation = {{{{name, url}}}} in {_USER_CONFIG}: the operator's organization publishes the record",
    ),
    (
        re.compile(r"file descriptor SHOULD have a single `conformsTo` value"),
        "",
        "nothing to set: the descriptor also names RO-Crate 1.1 on purpose, as Process Run Crate 0.5 requires "
        "(see repropack.crate.versions)",
        "nothing to set: the descriptor also names RO-Crate 1.1 on purpose, as Process Run Crate 0.5 requires "
        "(see repropack.crate.versions)",
    ),
)


@dataclass(frozen=True)
class Advice:
    """A RECOMMENDED profile issue that is not a fault: a fact nobody gave, and the setting that supplies it."""

    check: str  # e.g. "ro-crate-1.2_89.0"
    message: str  # the validator's
    setting: str  # what to set, and where

    def __str__(self) -> str:
        return f"RECOMMENDED {self.check}: {self.message} ({self.setting})"


def _names(entities: list[dict]) -> str:
    names = sorted({str(e.get("name") or e.get("@id")) for e in entities})
    return ", ".join(names) or "an entity"


def _gaps(metadata: dict) -> dict[str, str]:
    """Who lacks what, to name them in the advice."""
    graph = [e for e in metadata.get("@graph", []) if isinstance(e, dict)]

    def typed(name: str) -> list[dict]:
        return [e for e in graph if name in (e["@type"] if isinstance(e.get("@type"), list) else [e.get("@type")])]

    authors = {
        ref.get("@id")
        for e in graph
        for ref in (e.get("author") if isinstance(e.get("author"), list) else [e.get("author")])
        if isinstance(ref, dict)
    }
    people = typed("Person")
    orgs = typed("Organization")
    return {
        "orgs_without_ror": _names([o for o in orgs if not str(o.get("@id")).startswith("https://ror.org/")]),
        "orgs_without_contact": _names([o for o in orgs if "contactPoint" not in o]),
        "orgs_without_url": _names([o for o in orgs if "url" not in o]),
        "people_without_orcid": _names([p for p in people if not str(p.get("@id")).startswith("https://orcid.org/")]),
        "authors_without_affiliation": _names(
            [p for p in people if p.get("@id") in authors and "affiliation" not in p]
        ),
    }


def _is_record(metadata: dict) -> bool:
    return any(isinstance(e, dict) and "replayVerdict" in e for e in metadata.get("@graph", []))


def explain_profile_issues(issues, metadata: dict) -> tuple[list[Problem], list[Advice]]:
    """Split validator issues into problems and advice (RECOMMENDED issues that a missing fact explains).

    Each issue is reported once: process-run-crate re-runs the ro-crate-1.1
    checks, and the validator's messages may embed object addresses, which must
    not defeat the match. ``metadata`` is a package's, or a governed-run
    record's (then the advice names the user config's operator table).
    """
    record = _is_record(metadata)
    gaps = None
    seen = set()
    problems: list[Problem] = []
    advice: list[Advice] = []
    for issue in issues:
        key = (issue.check, _ADDRESS.sub("", issue.message))
        if key in seen:
            continue
        seen.add(key)
        fact = next((f for f in _MISSING_FACTS if f[0].search(issue.message)), None)
        if issue.severity != "RECOMMENDED" or fact is None:
            problems.append(Problem("profile", f"{issue.severity} {issue.check}: {issue.message}"))
            continue
        gaps = gaps if gaps is not None else _gaps(metadata)
        _, missing, package_setting, record_setting = fact
        setting = (record_setting if record else package_setting).format(**gaps)
        if missing:
            setting = f"missing {missing.format(**gaps)}: {setting}"
        advice.append(Advice(issue.check, issue.message, setting))
    return problems, advice


def profile_findings(package: OpenedPackage) -> tuple[list[Problem], list[Advice]]:
    """The roc-validator issues of the package, checked against the profiles of its RO-Crate version."""
    profiles = validator_profiles(crate_version_of(package.metadata))
    return explain_profile_issues(validate_profiles(package.root, profiles), package.metadata)


def check_profiles(package: OpenedPackage) -> list[Problem]:
    return profile_findings(package)[0]


def check_parameters(package: OpenedPackage) -> list[Problem]:
    """A package whose recorded parameters and its notebooks' injected cells disagree: a forged one."""
    recorded = package.package
    try:
        verify_recorded(package.root, package.source, recorded.runs, recorded.setting("parameters"))
    except BadInput as exc:
        return [Problem("parameters", str(exc))]
    return []


def check_package(source: Path, limits: OpeningLimits | None = None) -> CheckReport:
    """Check the package at ``source`` (folder or zip) opened within ``limits``; BadInput when it cannot be opened."""
    with open_package(source, limits) as package:
        file_problems, checked = check_files(package)
        profile_problems, advice = profile_findings(package)
        problems = file_problems + check_schema(package.metadata) + profile_problems + check_parameters(package)
    return CheckReport(problems, checked, advice)
