"""The governed run: a signed RO-Crate saying what was replayed, where, how, and what matched.

The record is a folder: ``ro-crate-metadata.json`` (Process Run Crate 0.5, one
``CreateAction`` for the replay), ``result.json`` (the ``replay --json``
object), ``report.html``, and ``signature.json`` (Ed25519 over the canonical
metadata and the files' hashes). It is written beside its final path and
renamed into place, so a half-written record never exists.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.person import Person as CratePerson
from rocrate.rocrate import ROCrate

from repropack import __version__
from repropack.crate.metadata import (
    DOCKER_IMAGE_TYPE,
    PROCESS_RUN_CRATE,
    REPROPACK_APP_ID,
    WORKFLOW_RUN_CONTEXT,
    collapse_singletons,
    iso8601,
    license_id,
    own_terms,
)
from repropack.errors import BadInput
from repropack.model import Verdict
from repropack.record.report_html import render_html_report
from repropack.record.signing import sign_record

RESULT_FILE = "result.json"
REPORT_FILE = "report.html"
RECORD_LICENSE = "CC0-1.0"


@dataclass(frozen=True)
class Operator:
    """Who replays: from the ``[replay] operator`` table of the user config."""

    name: str
    affiliation_name: str | None = None
    affiliation_url: str | None = None
    identifier: str | None = None

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None, fallback_name: str) -> Operator:
        if not table:
            return cls(fallback_name)
        if not isinstance(table.get("name"), str):
            raise BadInput("user config: [replay.operator] needs a name")
        affiliation = table.get("affiliation") or {}
        return cls(table["name"], affiliation.get("name"), affiliation.get("url"), table.get("orcid"))


def default_record_path(package: Path, started_compact: str) -> Path:
    return package.parent / f"{package.name.removesuffix('.zip')}.replay-{started_compact}"


def _metadata(result, operator: Operator) -> dict:
    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(WORKFLOW_RUN_CONTEXT)
    crate.metadata.extra_terms = own_terms()
    root = crate.root_dataset
    verdict = result.verdict.value.replace("_", " ")
    root["name"] = f"Governed run: replay of {result.package.title}"
    root["description"] = (
        f"repropack {__version__} replayed {result.package.source.name} on {result.host} "
        f"({result.backend.get('backend')}); verdict: {verdict}."
    )
    root["datePublished"] = iso8601(result.ended)
    root["conformsTo"] = crate.add(
        ContextEntity(
            crate,
            PROCESS_RUN_CRATE,
            properties={"@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"},
        )
    )
    root["license"] = crate.add(
        ContextEntity(
            crate,
            license_id(RECORD_LICENSE),
            properties={"@type": "CreativeWork", "name": RECORD_LICENSE, "identifier": RECORD_LICENSE},
        )
    )
    person = crate.add(CratePerson(crate, operator.identifier or "#operator", properties={"name": operator.name}))
    if operator.affiliation_name:
        org_props = {"@type": "Organization", "name": operator.affiliation_name}
        if operator.affiliation_url:
            org_props["url"] = operator.affiliation_url
        org = crate.add(
            ContextEntity(crate, operator.affiliation_url or "#operator-organization", properties=org_props)
        )
        person["affiliation"] = org
        root["publisher"] = org
    root["author"] = person
    result_file = crate.add_file(
        dest_path=RESULT_FILE, properties={"name": "Replay result", "encodingFormat": "application/json"}
    )
    report_file = crate.add_file(
        dest_path=REPORT_FILE, properties={"name": "Replay report", "encodingFormat": "text/html"}
    )
    package_entity = crate.add(
        ContextEntity(
            crate,
            "#replayed-package",
            properties={
                "@type": "CreativeWork",
                "name": result.package.title,
                "identifier": result.package.source.name,
                "sha256": result.package.metadata_sha256,
                "description": "The package replayed; sha256 is that of its ro-crate-metadata.json.",
            },
        )
    )
    app = crate.add(
        ContextEntity(
            crate,
            REPROPACK_APP_ID,
            properties={
                "@type": "SoftwareApplication",
                "name": "repropack",
                "url": REPROPACK_APP_ID,
                "softwareVersion": __version__,
            },
        )
    )
    comparisons = [
        crate.add(
            ContextEntity(
                crate,
                f"#output-{i}",
                properties={
                    "@type": "PropertyValue",
                    "name": o.path,
                    "value": o.status.value,
                    "comparisonRule": o.rule,
                    "description": o.detail or o.status.value,
                },
            )
        )
        for i, o in enumerate(result.outputs, start=1)
    ]
    props: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"Replay of {result.package.source.name}",
        "description": f"Rebuilt the environment, re-executed the notebooks in a sandbox and compared every output; verdict: {verdict}.",
        "startTime": iso8601(result.started),
        "endTime": iso8601(result.ended),
        "actionStatus": "http://schema.org/FailedActionStatus"
        if result.verdict is Verdict.FAILED
        else "http://schema.org/CompletedActionStatus",
        "replayVerdict": result.verdict.value,
        "replayBackend": result.backend.get("backend"),
        "replayHost": result.host,
        "engineVersion": str(result.backend.get("engine_version")),
        "isolation": result.isolation,
        "sandboxSettings": json.dumps(result.limits, sort_keys=True),
        "imageReused": result.image_reused,
    }
    if result.cause:
        props["replayCause"] = str(result.cause)
        props["error"] = str(result.cause)
    if result.drift:
        props["environmentDrift"] = list(result.drift)
    action = crate.add(ContextEntity(crate, "#replay", properties=props))
    action["instrument"] = app
    action["agent"] = person
    action["object"] = package_entity
    action["result"] = [result_file, report_file]
    if comparisons:
        action["outputComparison"] = comparisons
    if result.image:
        name, _, tag = result.image.partition(":")
        action["containerImage"] = crate.add(
            ContextEntity(
                crate,
                "#replay-image",
                properties={
                    "@type": "ContainerImage",
                    "additionalType": {"@id": DOCKER_IMAGE_TYPE},
                    "name": name,
                    "tag": tag or "latest",
                    "registry": "localhost",
                    **(
                        {"sha256": result.image_id.removeprefix("sha256:")}
                        if (result.image_id or "").startswith("sha256:")
                        else {}
                    ),
                },
            )
        )
    root["mentions"] = action
    return collapse_singletons(crate.metadata.generate())


def write_governed_run(result, destination: Path, operator: Operator, key: Path) -> Path:
    """Write and sign the record at ``destination`` (a folder that must not exist yet)."""
    if os.path.lexists(destination):
        raise BadInput(f"{destination}: record already exists; choose another --record path")
    staging = destination.parent / f".{destination.name}.tmp-{secrets.token_hex(4)}"
    try:
        staging.mkdir(parents=True)
        result.record = destination
        (staging / RESULT_FILE).write_text(
            json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (staging / REPORT_FILE).write_text(render_html_report(result), encoding="utf-8")
        metadata = _metadata(result, operator)
        (staging / "ro-crate-metadata.json").write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        sign_record(staging, key)
        os.replace(staging, destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return destination
