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
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.response import HTTPResponse

from repropack.crate.versions import crate_version_of, validator_profiles
from repropack.model import layout
from repropack.resources import data_dir

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
    """Answers requests for the bundled contexts from local files."""

    def send(self, request, **kwargs):
        name = BUNDLED_CONTEXTS.get(request.url)
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


def _fill_cache(cache_name: str) -> None:
    from requests_cache import CachedSession

    session = CachedSession(cache_name=cache_name, backend="sqlite", expire_after=-1, allowable_methods=("GET",))
    session.mount("https://", _BundledContexts())
    for url in BUNDLED_CONTEXTS:
        session.get(url, headers=_LOADER_HEADERS).raise_for_status()
    session.close()


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
    """Every REQUIRED and RECOMMENDED issue roc-validator finds in the crate at ``root``.

    ``profiles`` None means those of the crate's RO-Crate version (``profiles_for``).
    """
    from rocrate_validator import services

    if profiles is None:
        profiles = profiles_for(root)

    issues: list[ProfileIssue] = []
    with tempfile.TemporaryDirectory(prefix="repropack-validator-") as tmp:
        cache_name = str(Path(tmp) / "http_cache")
        _fill_cache(cache_name)
        _drain_validator_log()
        for profile in profiles:
            settings = services.ValidationSettings(
                rocrate_uri=str(root),
                profile_identifier=profile,
                requirement_severity="RECOMMENDED",
                offline=True,
                cache_path=cache_name,
            )
            result = services.validate(settings)
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
