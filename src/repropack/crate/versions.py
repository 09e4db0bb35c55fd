"""Which RO-Crate versions repropack writes and reads, and how to tell a crate's version.

repropack writes RO-Crate 1.2 by default and 1.1 when asked (``crate_version``
in the export settings and in the replay settings); it reads 1.1, 1.2 and 1.3.
Every crate also follows Process Run Crate 0.5, which is still the latest
Process Run Crate and is a profile of RO-Crate **1.1**.

The one trade-off, for a 1.2 crate: roc-validator's ``process-run-crate-0.5``
inherits the RO-Crate 1.1 shapes, and one of them (``ro-crate-1.1_5.3``,
REQUIRED) wants ``https://w3id.org/ro/crate/1.1`` among the ``conformsTo`` of
the metadata descriptor, while ``ro-crate-1.2_44.2`` RECOMMENDS one value there.
repropack lists both, 1.2 first::

    "conformsTo": [{"@id": "https://w3id.org/ro/crate/1.2"}, {"@id": "https://w3id.org/ro/crate/1.1"}]

That costs one RECOMMENDED issue (44.2) under ``ro-crate-1.2`` and buys 0
issues under ``process-run-crate-0.5``; the claim is true, as the crate also
passes the ``ro-crate-1.1`` profile with 0 REQUIRED and 0 RECOMMENDED issues
(tests/crate/test_check.py measures it). The alternatives were worse: 1.2 alone
fails a REQUIRED check of the Process Run Crate profile, and validating that
profile with its 1.1 check filtered out would hide a real REQUIRED issue. When a
Process Run Crate for RO-Crate 1.2 exists, drop 1.1 from the list.
``check`` reports the 44.2 issue as advice, not as a problem.
"""

from __future__ import annotations

from typing import Any

from repropack.config import CRATE_VERSIONS, DEFAULT_CRATE_VERSION
from repropack.errors import BadInput

#: What repropack writes (a setting, so defined with the settings).
WRITABLE = CRATE_VERSIONS
DEFAULT = DEFAULT_CRATE_VERSION
#: What repropack reads (and checks).
READABLE = ("1.1", "1.2", "1.3")

_SPEC_BASE = "https://w3id.org/ro/crate/"
PROCESS_RUN_CRATE = "https://w3id.org/ro/wfrun/process/0.5"
PROCESS_RUN_CRATE_PROFILE = "process-run-crate-0.5"


def spec_uri(version: str) -> str:
    """``https://w3id.org/ro/crate/1.2``: what the descriptor's ``conformsTo`` names."""
    return f"{_SPEC_BASE}{version}"


def context_uri(version: str) -> str:
    """``https://w3id.org/ro/crate/1.2/context``: the crate's first ``@context``."""
    return f"{spec_uri(version)}/context"


def writable(version: str) -> str:
    """``version`` when repropack can write it; BadInput otherwise."""
    if version not in WRITABLE:
        raise BadInput(f"RO-Crate version {version!r} cannot be written; choose one of {', '.join(WRITABLE)}")
    return version


def descriptor_conforms_to(version: str) -> list[str]:
    """The specifications a descriptor of a ``version`` crate names (see the module docstring)."""
    return [spec_uri(version)] if version == "1.1" else [spec_uri(version), spec_uri("1.1")]


def validator_profiles(version: str) -> tuple[str, ...]:
    """The roc-validator profiles a ``version`` crate is checked against (roc-validator 0.13 has all three)."""
    if version not in READABLE:
        raise BadInput(f"RO-Crate version {version!r} is not supported; repropack reads {', '.join(READABLE)}")
    return (f"ro-crate-{version}", PROCESS_RUN_CRATE_PROFILE)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ids(value: Any) -> list[str]:
    return [v["@id"] if isinstance(v, dict) else v for v in _as_list(value) if isinstance(v, (dict, str))]


def _version_of(uri: Any, suffix: str = "") -> str | None:
    if not isinstance(uri, str) or not uri.startswith(_SPEC_BASE) or not uri.endswith(suffix):
        return None
    version = uri[len(_SPEC_BASE) : len(uri) - len(suffix)]
    return version if version in READABLE else None


def crate_version_of(metadata: dict) -> str:
    """The RO-Crate version of ``metadata`` ("1.1" | "1.2" | "1.3"); BadInput with one line otherwise.

    The descriptor's ``conformsTo`` decides: the highest supported version it
    names (a 1.2 crate by repropack names 1.2 and 1.1). When it names none, the
    RO-Crate context in ``@context`` decides. A crate whose descriptor and
    context disagree is refused.
    """
    graph = metadata.get("@graph") if isinstance(metadata, dict) else None
    if not isinstance(graph, list):
        raise BadInput("not an RO-Crate: the metadata has no @graph list")
    descriptor = next(
        (
            e
            for e in graph
            if isinstance(e, dict) and e.get("@id") in ("ro-crate-metadata.json", "ro-crate-metadata.jsonld")
        ),
        None,
    )
    if descriptor is None:
        raise BadInput("not an RO-Crate: the metadata has no ro-crate-metadata.json descriptor entity")
    named = [_version_of(uri) for uri in _ids(descriptor.get("conformsTo"))]
    in_context = [_version_of(uri, "/context") for uri in _as_list(metadata.get("@context"))]
    declared = sorted({v for v in named if v}, key=READABLE.index)
    contexts = sorted({v for v in in_context if v}, key=READABLE.index)
    if declared:
        version = declared[-1]
        if contexts and version not in contexts:
            raise BadInput(
                f"RO-Crate version unclear: the descriptor conforms to {version} "
                f"but the @context is the {contexts[-1]} one"
            )
        return version
    if contexts:
        return contexts[-1]
    found = ", ".join(_ids(descriptor.get("conformsTo"))) or "nothing"
    raise BadInput(
        f"unsupported RO-Crate version: the descriptor conforms to {found}; repropack reads {', '.join(READABLE)}"
    )
