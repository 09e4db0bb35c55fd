"""``repropack check``: is a package intact and valid?

Three independent checks, all reported (not just the first failure): every
described file against its recorded size and sha256, the metadata against the
repropack JSON Schema, and the RO-Crate profiles through roc-validator offline.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import jsonschema

from repropack.crate.profiles import validate_profiles
from repropack.crate.reader import OpenedPackage, open_package
from repropack.fs.hashing import hash_files
from repropack.model import layout
from repropack.resources import schema_path

SCHEMA_FILE = "package.schema.json"


@dataclass(frozen=True)
class Problem:
    kind: str  # "hash" | "layout" | "schema" | "profile"
    message: str


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "files_checked": self.files_checked,
            "problems": [{"kind": p.kind, "message": p.message} for p in self.problems],
        }


def is_safe_package_path(path: str) -> bool:
    """A relative POSIX path that stays inside the package."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path and "\x00" not in path


def _symlinks(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                found.append(full.relative_to(root).as_posix())
    return sorted(found)


def check_files(package: OpenedPackage) -> tuple[list[Problem], int]:
    """Compare every described file with its recorded size and sha256.

    A package holds regular files only: a symlink (which could make a check
    read, and vouch for, bytes from outside the package) is a problem itself.
    """
    links = _symlinks(package.root)
    problems = [Problem("layout", f"{link}: symlink in the package") for link in links]
    to_hash: dict[Path, dict] = {}
    described = set()
    for record in package.files():
        path = record["path"]
        if not is_safe_package_path(path):
            problems.append(Problem("layout", f"{path}: described path escapes the package"))
            continue
        if any(path == link or path.startswith(link + "/") for link in links):
            problems.append(Problem("layout", f"{path}: reached through a symlink; not checked"))
            continue
        described.add(path)
        if record["size"] is None:
            problems.append(Problem("schema", f"{path}: contentSize is not a whole number of bytes"))
            continue
        on_disk = package.root / path
        if record["restricted"]:
            if on_disk.exists():
                problems.append(Problem("layout", f"{path}: restricted file is present in the package"))
            continue
        if not on_disk.is_file():
            problems.append(Problem("hash", f"{path}: described but missing from the package"))
            continue
        to_hash[on_disk] = record
    digests = hash_files(list(to_hash))
    for on_disk, record in sorted(to_hash.items(), key=lambda kv: kv[1]["path"]):
        digest = digests[on_disk]
        if digest.size != record["size"]:
            problems.append(
                Problem("hash", f"{record['path']}: size {digest.size} differs from recorded {record['size']}")
            )
        elif digest.sha256 != record["sha256"]:
            problems.append(
                Problem("hash", f"{record['path']}: sha256 {digest.sha256} differs from recorded {record['sha256']}")
            )
    present_files = (p for p in package.root.rglob("*") if p.is_file() and not p.is_symlink())
    for present in sorted(p.relative_to(package.root).as_posix() for p in present_files):
        if present != layout.METADATA and present not in described:
            problems.append(Problem("layout", f"{present}: file in the package is not described by its metadata"))
    return problems, len(to_hash)


def check_schema(metadata: dict) -> list[Problem]:
    schema = json.loads(schema_path(SCHEMA_FILE).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        Problem("schema", f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:300]}")
        for error in sorted(validator.iter_errors(metadata), key=lambda e: list(map(str, e.absolute_path)))
    ]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def check_profiles(package: OpenedPackage) -> list[Problem]:
    seen = set()
    problems = []
    for issue in validate_profiles(package.root):
        # process-run-crate re-runs the ro-crate-1.1 checks; the validator's
        # messages may embed object addresses, which must not defeat the match.
        key = (issue.check, _ADDRESS.sub("", issue.message))
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem("profile", f"{issue.severity} {issue.check}: {issue.message}"))
    return problems


def check_package(source: Path) -> CheckReport:
    """Check the package at ``source`` (folder or zip); BadInput when it cannot be opened."""
    with open_package(source) as package:
        file_problems, checked = check_files(package)
        problems = file_problems + check_schema(package.metadata) + check_profiles(package)
    return CheckReport(problems, checked)
