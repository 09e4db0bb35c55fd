"""The lock file's text, both ways: written by export, read back by replay and inspect.

One line per distribution, sorted by canonical name: ``name==version  # reasons``
for index distributions; local ones are comment lines (pip could not fetch them
by name): ``# name==version (installed from a local path; not pinned)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from repropack.model.package import LockedDistribution

_LOCAL_SUFFIX = " (installed from a local path; not pinned)"
_PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#]+)\s*(?:#\s*(?P<reasons>.*))?$")
_LOCAL = re.compile(r"^#\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)" + re.escape(_LOCAL_SUFFIX) + "$")


def render_lock(lock: Sequence[LockedDistribution], *, header: str) -> str:
    """pip requirements text: ``header`` as comment lines, then one line per distribution.

    Equal locks give equal text whatever their order.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for dist in sorted(lock, key=lambda d: canonicalize_name(d.name)):
        if dist.local:
            lines.append(f"# {dist.name}=={dist.version}{_LOCAL_SUFFIX}")
        else:
            lines.append(f"{dist.name}=={dist.version}  # {', '.join(dist.reasons)}")
    return "".join(f"{line}\n" for line in lines)


def parse_lock(text: str) -> tuple[LockedDistribution, ...]:
    """The distributions of a lock's text; header comments and lines of any other shape are skipped."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        local = _LOCAL.match(line)
        if local:
            found.append(LockedDistribution(local["name"], local["version"], (), local=True))
            continue
        pinned = _PINNED.match(line)
        if pinned:
            reasons = tuple(r.strip() for r in (pinned["reasons"] or "").split(",") if r.strip())
            found.append(LockedDistribution(pinned["name"], pinned["version"], reasons))
    return tuple(found)


def pinned_versions(lock: Sequence[LockedDistribution]) -> dict[str, str]:
    """Name -> version of the distributions pip installs (local ones are not pinned)."""
    return {d.name: d.version for d in lock if not d.local}
