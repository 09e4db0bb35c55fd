"""Run the official roc-validator offline, with the JSON-LD contexts repropack ships.

roc-validator fetches contexts from w3id.org through a requests-cache session
and has an offline mode that serves only from that cache. We build a private
cache in a temporary folder, filled from ``schemas/contexts/`` through a
transport adapter (no network is touched), and validate offline against it.
A context that was not in the cache is reported as a problem, never skipped.

Each crate is checked against the profiles of its own RO-Crate version
(``ro-crate-1.1``, ``-1.2`` or ``-1.3``, all in roc-validator 0.13) plus
``process-run-crate-0.5``; the RO-Crate 1.1, 1.2 and 1.3 contexts and the
workflow-run context are bundled.

Validation is repeated many times in one process (``repropack import`` checks
every package it admits), so what does not depend on the crate is made once per
process and reused; the findings are exactly those of a fresh validator:

- the offline context cache is built once (for each set of bundled contexts), in
  a private temporary folder removed when the process exits;
- one roc-validator ``Validator`` per profile is kept: it loads that profile's
  shapes and ontology once and reuses them for every crate (roc-validator's own
  prepared validation plans, ``Validator.validate(rocrate_uri=...)``);
- rdflib keeps the parsed form of each SPARQL query text pyshacl hands it:
  a crate runs some 200 SHACL-SPARQL queries of a few dozen distinct texts,
  and parsing them every time was ~85% of the validator's time
  (``crate.parsed_sparql``).

What is left per crate is the SHACL validation proper: loading its metadata,
OWL-RL inference over it, evaluating every shape, and roc-validator's Python
checks: about 1 s for a small crate and its two profiles, against 5.5-7 s when
each call made everything afresh (the first call of a process still takes ~4 s).
"""

from __future__ import annotations

import atexit
import functools
import io
import json
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.response import HTTPResponse

from repropack.crate.versions import crate_version_of, validator_profiles
from repropack.model import layout
from repropack.resources import data_dir

if TYPE_CHECKING:
    from rocrate_validator.models import Validator

#: URL the validator asks for -> bundled copy under schemas/contexts/.
BUNDLED_CONTEXTS = {
    "https://w3id.org/ro/crate/1.1/context": "ro-crate-1.1-context.jsonld",
    "https://w3id.org/ro/crate/1.2/context": "ro-crate-1.2-context.jsonld",
    "https://w3id.org/ro/crate/1.3/context": "ro-crate-1.3-context.jsonld",
    "https://w3id.org/ro/terms/workflow-run/context": "workflow-run-context.jsonld",
}
# The exact header roc-validator's JSON-LD loader sends; the cache key includes it.
_CACHE_MISS = re.compile(r"Resource\s+'([^']+)'\s+is\s+not\s+available\s+in\s+the\s+HTTP\s+cache")
_LOADER_HEADERS = {"Accept": "application/ld+json, application/json, */*;q=0.1"}


@dataclass(frozen=True)
class ProfileIssue:
    profile: str
    severity: str  # "REQUIRED" | "RECOMMENDED"
    check: str  # e.g. "ro-crate-1.1_22.3"
    message: str


class _BundledContexts(HTTPAdapter):
    """Answers requests for ``contexts`` (URL -> file under schemas/contexts/) from local files."""

    def __init__(self, contexts: dict[str, str]) -> None:
        super().__init__()
        self._contexts = contexts

    def send(self, request, **kwargs):
        name = self._contexts.get(request.url)
        if name is None:
            raise requests.ConnectionError(f"repropack serves no {request.url} offline")
        body = (data_dir("schemas") / "contexts" / name).read_bytes()
        raw = HTTPResponse(
            body=io.BytesIO(body),
            headers={"Content-Type": "application/ld+json", "Content-Length": str(len(body))},
            status=200,
            preload_content=False,
            request_url=request.url,
        )
        return self.build_response(request, raw)


def _fill_cache(cache_name: str, contexts: dict[str, str]) -> None:
    from requests_cache import CachedSession

    session = CachedSession(cache_name=cache_name, backend="sqlite", expire_after=-1, allowable_methods=("GET",))
    session.mount("https://", _BundledContexts(contexts))
    for url in contexts:
        session.get(url, headers=_LOADER_HEADERS).raise_for_status()
    session.close()


@functools.cache
def _offline_cache(contexts: frozenset[tuple[str, str]]) -> str:
    """The cache name of a requests-cache sqlite file holding exactly ``contexts``, built once per process.

    Keyed by the bundled contexts so that a cache never serves a context that is not bundled (now); the
    folder is private to this process and removed at exit.
    """
    folder = tempfile.mkdtemp(prefix="repropack-validator-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    cache_name = str(Path(folder) / "http_cache")
    _fill_cache(cache_name, dict(contexts))
    return cache_name


def _serve_contexts_from(cache_name: str) -> None:
    """Point roc-validator's HTTP client at ``cache_name``, offline, before validating.

    Internals (written against roc-validator 0.13.0): the client is a process-wide singleton that every
    ``ValidationSettings(...)`` re-points at its own cache; a validator made once and reused does not
    re-point it, so anything else that made settings since (another cache, since removed) would make
    every context a cache miss. This is the call ``ValidationSettings.__post_init__`` makes.
    """
    from rocrate_validator.utils.http import HttpRequester

    HttpRequester.initialize_cache(cache_path=cache_name, offline=True)


@functools.cache
def _validator(profile: str, cache_name: str) -> Validator:
    """The one validator of ``profile`` in this process: it loads the profile's shapes on first use, then reuses
    them for every crate (``Validator.validate(rocrate_uri=...)``, roc-validator's prepared validation plans)."""
    from rocrate_validator.models import ValidationSettings, Validator

    settings = ValidationSettings(
        rocrate_uri=None,  # each validation names its crate
        profile_identifier=profile,
        requirement_severity="RECOMMENDED",
        offline=True,
        cache_path=cache_name,
    )
    return Validator(settings)


#: Validation reconfigures process-wide state (the HTTP client, the validator's log): one at a time.
_VALIDATING = threading.Lock()


def _drain_validator_log() -> str:
    # roc-validator buffers its log in a module-level stream and prints it at
    # interpreter exit; read it for cache misses and empty it, so it never lands
    # on our stdout (which --json reserves for one object).
    from rocrate_validator.utils import log

    stream = getattr(log, "__log_stream__", None)
    if stream is None:
        return ""
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return text


def profiles_for(root: Path) -> tuple[str, ...]:
    """The profiles the crate at ``root`` is checked against, chosen by its RO-Crate version."""
    metadata = json.loads((root / layout.METADATA).read_text(encoding="utf-8"))
    return validator_profiles(crate_version_of(metadata))


def validate_profiles(root: Path, profiles: tuple[str, ...] | None = None) -> list[ProfileIssue]:
    """Every REQUIRED and RECOMMENDED issue roc-validator finds in the crate folder ``root``, profile by profile.

    ``profiles`` None means those of the crate's RO-Crate version (``profiles_for``). Safe to call from
    several threads (they take turns); the first call in a process also loads the profiles (seconds).
    """
    if profiles is None:
        profiles = profiles_for(root)
    if not Path(root).is_dir():
        raise FileNotFoundError(f"RO-Crate not found: {root}")

    from repropack.crate import parsed_sparql  # rdflib, only when validating

    issues: list[ProfileIssue] = []
    with _VALIDATING:
        parsed_sparql.install()
        cache_name = _offline_cache(frozenset(BUNDLED_CONTEXTS.items()))
        validators = [(profile, _validator(profile, cache_name)) for profile in profiles]
        _serve_contexts_from(cache_name)
        _drain_validator_log()
        for profile, validator in validators:
            result = validator.validate(rocrate_uri=str(root))
            for issue in result.get_issues():
                issues.append(ProfileIssue(profile, issue.severity.name, issue.check.identifier, issue.message or ""))
            for url in sorted(set(_CACHE_MISS.findall(_drain_validator_log()))):
                issues.append(
                    ProfileIssue(
                        profile,
                        "REQUIRED",
                        "offline-context",
                        f"JSON-LD context {url} is not bundled, so it was not checked",
                    )
                )
    return issues
