"""The pinned lock of the kernel's environment, computed from facts gathered in the kernel.

The facts (installed distributions, imported modules, marker variables) are
plain data, so the computation is pure and does not need the kernel's
interpreter: it may be a different Python than repropack's.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repropack.model import LockedDistribution

DECLARED = "declared"
IMPORTED = "imported"
DEPENDENCY = "dependency"
RUNTIME = "runtime"


@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution visible to the kernel's interpreter."""

    name: str  # as in its metadata
    version: str
    requires: tuple[str, ...]  # raw Requires-Dist strings
    top_level_modules: tuple[str, ...]
    # Installed from a local path, file URL or VCS checkout (direct_url.json):
    # an index cannot serve it by name.
    local: bool


def installed_from_report(entries: Iterable[Mapping]) -> list[InstalledDistribution]:
    """Distributions as reported by the kernel-side observer (``kernel_side.installed_distributions``)."""
    return [
        InstalledDistribution(
            name=entry["name"],
            version=entry["version"],
            requires=tuple(entry["requires"]),
            top_level_modules=tuple(entry["top_level_modules"]),
            local=bool(entry["local"]),
        )
        for entry in entries
    ]


def compute_lock(
    installed: Sequence[InstalledDistribution],
    *,
    declared: Iterable[str],
    imported_modules: Iterable[str],
    runtime: Iterable[str],
    marker_environment: Mapping[str, str],
) -> tuple[tuple[LockedDistribution, ...], tuple[str, ...]]:
    """Return ``(lock, unresolved)``.

    The lock holds the installed distributions that are declared, that provide
    an imported top-level module, or that are needed at runtime, closed over
    their Requires-Dist (markers evaluated against ``marker_environment``; an
    ``extra ==`` requirement is followed only when a requirer asked for that
    extra). Each is at its installed version with its sorted reasons, and the
    lock is sorted by canonical name. Standard-library module names and modules
    no distribution provides are ignored; runtime names not installed are
    skipped. ``unresolved`` is the sorted canonical declared names that are not
    installed. Of two installed distributions with one canonical name, the first wins.
    """
    by_name: dict[str, InstalledDistribution] = {}
    for dist in installed:
        by_name.setdefault(canonicalize_name(dist.name), dist)
    providers: dict[str, list[str]] = {}
    for key, dist in by_name.items():
        for module in dist.top_level_modules:
            providers.setdefault(module, []).append(key)

    reasons: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    for name in map(canonicalize_name, declared):
        if name in by_name:
            reasons.setdefault(name, set()).add(DECLARED)
        else:
            unresolved.add(name)
    for module in imported_modules:
        if module in sys.stdlib_module_names:
            continue  # a distribution shadowing a stdlib name (a backport) is not what was imported
        for name in providers.get(module, ()):
            reasons.setdefault(name, set()).add(IMPORTED)
    for name in map(canonicalize_name, runtime):
        if name in by_name:
            reasons.setdefault(name, set()).add(RUNTIME)

    for name in _dependencies(by_name, roots=list(reasons), marker_environment=marker_environment):
        reasons.setdefault(name, set()).add(DEPENDENCY)

    lock = tuple(
        LockedDistribution(
            name=by_name[name].name,
            version=by_name[name].version,
            reasons=tuple(sorted(reasons[name])),
            local=by_name[name].local,
        )
        for name in sorted(reasons)
    )
    return lock, tuple(sorted(unresolved))


def _dependencies(
    by_name: Mapping[str, InstalledDistribution], *, roots: Iterable[str], marker_environment: Mapping[str, str]
) -> set[str]:
    """Installed distributions required, directly or not, by ``roots`` (roots included only if required)."""
    required: set[str] = set()
    # Each distribution's own requirements, and each of its extras, are expanded
    # once: that bounds the walk and ends cycles.
    expanded: dict[str, set[str]] = {}
    queue: deque[tuple[str, frozenset[str]]] = deque((name, frozenset()) for name in roots)
    while queue:
        name, extras = queue.popleft()
        done = expanded.get(name)
        # "" stands for the distribution's requirements without any extra.
        wanted = ({""} | extras) - (done or set())
        if not wanted:
            continue
        expanded.setdefault(name, set()).update(wanted)
        for requirement in _requirements(by_name[name]):
            target = canonicalize_name(requirement.name)
            if target not in by_name or not _applies(requirement, wanted, marker_environment):
                continue
            required.add(target)
            queue.append((target, frozenset(canonicalize_name(e) for e in requirement.extras)))
    return required


def _requirements(dist: InstalledDistribution) -> Iterable[Requirement]:
    for text in dist.requires:
        try:
            yield Requirement(text)
        except InvalidRequirement:
            # Old metadata that modern packaging rejects: pip would not honour
            # it either, so it adds nothing to the lock.
            continue


def _applies(requirement: Requirement, extras: Iterable[str], marker_environment: Mapping[str, str]) -> bool:
    """True when the requirement's marker holds for the environment with one of ``extras`` ("" for none)."""
    if requirement.marker is None:
        return True
    marker = requirement.marker
    return any(marker.evaluate({**marker_environment, "extra": extra}) for extra in extras)
