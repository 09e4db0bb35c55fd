"""What the rebuilt environment is, from repropack's own probe: never from what the notebooks' run reports.

Each backend runs ``PROBE`` (``probe_script.py``, standard library only) in the
environment before any notebook, with nothing of the package mounted, and hands
its stdout to ``parse_probe``: strict JSON within ``PROBE_LIMIT`` bytes, a
version that looks like one and a flat table of distribution names to
versions. Environment drift (``replay/verdict.py``) is computed from these facts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from repropack.fs.bounded import UnsafeData, loads_bounded

PROBE = Path(__file__).with_name("probe_script.py")
#: The probe prints a few KiB (about 40 bytes per installed distribution).
PROBE_LIMIT = 4 * 2**20
#: Seconds the probe may take: it starts an interpreter and lists site-packages.
PROBE_TIMEOUT = 120

_VERSION = re.compile(r"\d+\.\d+\.\d+[0-9A-Za-z.+-]*")
_TEXT_LIMIT = 200  # characters of a distribution name or version


class ProbeFailed(Exception):
    """The probe did not run or printed something else than facts; ``str()`` is one line."""


@dataclass(frozen=True)
class EnvironmentFacts:
    """The environment's Python version ("3.11.2") and installed distributions (name -> version)."""

    python_version: str
    distributions: Mapping[str, str] = field(default_factory=dict)

    def as_mapping(self) -> dict:
        return {"python_version": self.python_version, "distributions": dict(self.distributions)}


def parse_probe(output: bytes) -> EnvironmentFacts:
    """The facts the probe printed; ProbeFailed (one line) for anything else."""
    if len(output) > PROBE_LIMIT:
        raise ProbeFailed(f"the probe printed {len(output)} bytes, more than the {PROBE_LIMIT} allowed")
    try:
        data = loads_bounded(output.strip(), max_depth=2, what="the probe's output")
    except UnsafeData as exc:
        raise ProbeFailed(str(exc)) from None
    if not isinstance(data, dict) or set(data) != {"python_version", "distributions"}:
        raise ProbeFailed("the probe's output is not an object of python_version and distributions")
    version, distributions = data["python_version"], data["distributions"]
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ProbeFailed(f"the probe's python_version {str(version)[:_TEXT_LIMIT]!r} is not a version")
    if not isinstance(distributions, dict) or not all(
        isinstance(value, str) and 0 < len(name) <= _TEXT_LIMIT and 0 < len(value) <= _TEXT_LIMIT
        for name, value in distributions.items()
    ):
        raise ProbeFailed("the probe's distributions are not a table of names to versions")
    return EnvironmentFacts(version, distributions)
