"""The lock file's text, both ways: written by export, read back strictly by replay, check and inspect.

One requirement per distribution, sorted by canonical name::

    name==version[; marker] \\
        --hash=sha256:<hex> \\
        --hash=sha256:<hex>  # reasons

(no ``--hash`` lines when export could not reach the index). Local distributions
are comment lines (pip could not fetch them by name):
``# name==version (installed from a local path; not pinned)``.

A package's lock is untrusted: pip would obey an index option, a URL, a path or
an editable VCS checkout in it. ``parse_lock`` accepts only what ``render_lock``
writes -- pins, markers, sha256 hashes, comments -- and refuses anything else
with BadInput naming the line; replay installs the lock re-rendered from the
parsed entries, so no unparsed byte of the package's lock reaches pip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repropack.errors import BadInput
from repropack.model.package import LockedDistribution

_LOCAL_SUFFIX = " (installed from a local path; not pinned)"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # PEP 508 names: normalisable by PEP 503
_LOCAL = re.compile(rf"^#\s*(?P<name>{_NAME})==(?P<version>\S+)" + re.escape(_LOCAL_SUFFIX) + "$")
_PIN = re.compile(rf"^(?P<name>{_NAME})\s*==\s*(?P<version>[A-Za-z0-9.+!_-]+)$")
_HASH = re.compile(r"^--hash=sha256:(?P<digest>[0-9a-fA-F]{64})$")
# pip's own comment rule (a '#' at the start or after whitespace ends the line's content).
_COMMENT = re.compile(r"(^|\s+)#(?P<text>.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: packaging parses markers by recursion: a bound on parentheses keeps hostile nesting a BadInput.
_MAX_MARKER_DEPTH = 16
_MAX_SHOWN = 60


def render_lock(lock: Sequence[LockedDistribution], *, header: str) -> str:
    """pip requirements text: ``header`` as comment lines, then one requirement per distribution.

    Equal locks give equal text whatever their order; ``parse_lock`` reads it back.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for dist in sorted(lock, key=lambda d: canonicalize_name(d.name)):
        if dist.local:
            lines.append(f"# {dist.name}=={dist.version}{_LOCAL_SUFFIX}")
            continue
        requirement = f"{dist.name}=={dist.version}" + (f"; {dist.marker}" if dist.marker else "")
        reasons = f"  # {', '.join(dist.reasons)}"
        if not dist.hashes:
            lines.append(requirement + reasons)
            continue
        lines.append(requirement + " \\")
        lines += [f"    --hash=sha256:{digest} \\" for digest in dist.hashes[:-1]]
        lines.append(f"    --hash=sha256:{dist.hashes[-1]}{reasons}")
    return "".join(f"{line}\n" for line in lines)


def parse_lock(text: str) -> tuple[LockedDistribution, ...]:
    """The distributions of a lock's text, in its order.

    Accepts blank lines, comments (local distributions are read from theirs) and
    ``name==version`` lines with an optional ``; marker`` and ``--hash=sha256:``
    options, continued over lines that end in a backslash. Anything else -- any
    other option (``--index-url``, ``-e``, ``-r`` ...), a URL, a path, ``===``, a
    range, a name pinned twice, hashes on some pins but not all -- raises BadInput
    "line N: what is wrong". Never raises anything else, whatever the text.
    """
    found: list[LockedDistribution] = []
    first_line: dict[str, int] = {}
    for number, line in _logical_lines(text):
        dist = _parse_line(number, line)
        if dist is None:
            continue
        key = canonicalize_name(dist.name)
        if key in first_line:
            raise BadInput(f"line {number}: {dist.name} is pinned twice (also on line {first_line[key]})")
        first_line[key] = number
        found.append(dist)
    pinned = [d for d in found if not d.local]
    if any(d.hashes for d in pinned):
        bare = next((d for d in pinned if not d.hashes), None)
        if bare is not None:
            raise BadInput(
                f"line {first_line[canonicalize_name(bare.name)]}: {bare.name} has no --hash while other pins do "
                "(pip checks hashes for every requirement or for none)"
            )
    return tuple(found)


def pinned_versions(lock: Sequence[LockedDistribution]) -> dict[str, str]:
    """Name -> version of the distributions pip installs (local ones are not pinned)."""
    return {d.name: d.version for d in lock if not d.local}


def is_hashed(lock: Sequence[LockedDistribution]) -> bool:
    """Whether pip installs this lock in hash-checking mode (its pins carry artifact hashes)."""
    return any(d.hashes for d in lock if not d.local)


# --- parsing -------------------------------------------------------------------------------


def _shown(text: str) -> str:
    """A fragment of the lock as a message quotes it: escaped, and short."""
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(number of the first physical line, text) of each line, continuations joined as pip joins them."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if _CONTROL.search(line):
            raise BadInput(f"line {number}: control character in {_shown(line)}")
        # A comment line never continues (pip's rule), even when it ends in a backslash.
        if line.endswith("\\") and not _COMMENT.match(line):
            if not pending:
                start = number
            pending.append(line[:-1])
            continue
        if pending:
            yield start, " ".join([*pending, line])
            pending = []
        else:
            yield number, line
    if pending:
        raise BadInput(f"line {start}: the lock ends inside a continued line (a trailing backslash)")


def _parse_line(number: int, line: str) -> LockedDistribution | None:
    """The distribution one logical line pins, None for a blank or comment line; BadInput for anything else."""
    stripped = line.strip()
    if stripped.startswith("#"):
        local = _LOCAL.match(stripped)
        if local and _valid_version(local["version"]):
            return LockedDistribution(local["name"], local["version"], (), local=True)
        return None
    comment = _COMMENT.search(line)
    content = line[: comment.start()] if comment else line
    reasons = tuple(r.strip() for r in (comment["text"] if comment else "").split(",") if r.strip())
    tokens = content.split()
    if not tokens:
        return None
    split = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    requirement, options = " ".join(tokens[:split]), tokens[split:]
    for option in options:
        if not _HASH.match(option):
            name = option.split("=", 1)[0]
            what = "--hash other than sha256:<64 hex digits>" if name == "--hash" else f"option {_shown(name)}"
            raise BadInput(f"line {number}: {what} is not allowed in a lock (only name==version pins and --hash)")
    if not requirement:
        raise BadInput(f"line {number}: a --hash with no requirement before it")
    name, version, marker = _pin(number, requirement)
    hashes = tuple(sorted({_HASH.match(o)["digest"].lower() for o in options}))  # type: ignore[index]
    return LockedDistribution(name, version, reasons, hashes=hashes, marker=marker)


def _pin(number: int, requirement: str) -> tuple[str, str, str]:
    """(name, version, normalised marker) of ``name==version[; marker]``; BadInput saying what else it is."""
    head, has_marker, marker_text = requirement.partition(";")
    head = head.strip()
    pin = _PIN.match(head)
    if pin is None:
        raise BadInput(f"line {number}: {_shown(requirement)} {_what_instead(head)}")
    if not _valid_version(pin["version"]):
        raise BadInput(f"line {number}: {_shown(pin['version'])} is not a PEP 440 version")
    marker = ""
    if has_marker:
        marker = _marker(number, marker_text.strip())
    return pin["name"], pin["version"], marker


def _what_instead(head: str) -> str:
    if "://" in head or "@" in head:
        return "names a URL; a lock holds only name==version pins"
    if "===" in head:
        return "uses '===' (arbitrary equality); a lock holds only name==version pins"
    if "/" in head or "\\" in head or head.startswith((".", "~")) or head.endswith((".whl", ".zip", ".tar.gz")):
        return "names a path; a lock holds only name==version pins"
    if "[" in head:
        return "names extras; a lock holds only name==version pins"
    if re.search(r"[<>~!=,*]", head):
        return "is a version range; a lock holds only name==version pins"
    return "is not a name==version pin"


def _valid_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _marker(number: int, text: str) -> str:
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    if not text or deepest > _MAX_MARKER_DEPTH:
        raise BadInput(f"line {number}: {_shown(text)} is not a valid environment marker")
    try:
        normalised = str(Marker(text))
    except (InvalidMarker, RecursionError):
        raise BadInput(f"line {number}: {_shown(text)} is not a valid environment marker") from None
    if "#" in normalised:  # pip would take it for a comment and install another requirement
        raise BadInput(f"line {number}: {_shown(text)}: a '#' in a marker is not allowed in a lock")
    return normalised
