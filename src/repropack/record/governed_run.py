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
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from rocrate.model.contextentity import ContextEntity

from repropack import __version__
from repropack.crate import versions
from repropack.crate.metadata import (
    DOCKER_IMAGE_TYPE,
    REPROPACK_APP_ID,
    add_license,
    add_person,
    conform_to_process_run_crate,
    generate,
    iso8601,
    new_crate,
)
from repropack.fs.atomic import staged_folder
from repropack.fs.hashing import sha256_file
from repropack.model import Digest, Person, ReplayResult, Verdict
from repropack.record.report_html import render_html_report
from repropack.record.signing import sign_record

RESULT_FILE = "result.json"
REPORT_FILE = "report.html"
RECORD_LICENSE = "CC0-1.0"


def default_record_path(package: Path, started: datetime) -> Path:
    """A free path beside the package: ``NAME.replay-YYYYMMDDTHHMMSSZ``, then ``...Z-2``, ``...Z-3``
    for further replays started in the same second."""
    stem = package.parent / f"{package.name.removesuffix('.zip')}.replay-{started.strftime('%Y%m%dT%H%M%SZ')}"
    candidate, n = stem, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = stem.with_name(f"{stem.name}-{n}")
    return candidate


def _metadata(
    result: ReplayResult,
    operator: Person,
    *,
    crate_version: str = versions.DEFAULT,
    files: Mapping[str, Digest] | None = None,
) -> dict:
    """The record's ``ro-crate-metadata.json``, as RO-Crate ``crate_version`` ("1.2" or "1.1").

    ``operator`` says only what is known of who replayed: a name always; an
    identifier, an email and an affiliation when the user config (or git) gives
    them. Nothing is invented for the rest. The operator is the author; the
    record's publisher is their affiliation, and without one, in 1.2 (which
    allows a Person there) the operator, in 1.1 (which wants an Organization)
    nobody. ``files`` gives the size and sha256 of ``result.json`` and
    ``report.html`` (written before the metadata), which RO-Crate 1.2 asks for.
    """
    crate = new_crate(crate_version)
    root = crate.root_dataset
    verdict = result.verdict.value.replace("_", " ")
    root["name"] = f"Governed run: replay of {result.package.title}"
    root["description"] = (
        f"repropack {__version__} replayed {result.package.source.name} on {result.host} "
        f"({result.backend.get('backend')}); verdict: {verdict}."
    )
    root["datePublished"] = iso8601(result.ended)
    conform_to_process_run_crate(crate)
    root["license"] = add_license(crate, RECORD_LICENSE)
    person = add_person(crate, operator, default_id="#operator")
    root["author"] = person
    if operator.affiliation is not None:
        root["publisher"] = person["affiliation"]
    elif crate.version != "1.1":
        root["publisher"] = person
    digests = files or {}

    def record_file(path: str, name: str, description: str, encoding_format: str):
        props: dict[str, Any] = {"name": name, "description": description, "encodingFormat": encoding_format}
        if path in digests:
            props["contentSize"] = str(digests[path].size)
            props["sha256"] = digests[path].sha256
        return crate.add_file(dest_path=path, properties=props)

    result_file = record_file(
        RESULT_FILE,
        "Replay result",
        "The replay's verdict, output comparisons, environment and timings, as `replay --json` prints them.",
        "application/json",
    )
    report_file = record_file(
        REPORT_FILE, "Replay report", "The replay's report for people: verdict, what differed and why.", "text/html"
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
                "version": __version__,
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
    # A container engine names its images by sha256; the local backend's "image" is a virtualenv, not a container.
    if result.image and (result.image_id or "").startswith("sha256:"):
        name, _, tag = result.image.partition(":")
        action["containerImage"] = crate.add(
            ContextEntity(
                crate,
                "#replay-image",
                properties={
                    # CreativeWork: the schema.org type RO-Crate 1.2 asks every entity to have.
                    "@type": ["ContainerImage", "CreativeWork"],
                    "additionalType": {"@id": DOCKER_IMAGE_TYPE},
                    "name": name,
                    "description": f"The image the notebooks were replayed in ({result.backend.get('backend')} backend).",
                    "tag": tag or "latest",
                    "registry": "localhost",
                    "sha256": result.image_id.removeprefix("sha256:"),
                },
            )
        )
    root["mentions"] = action
    return generate(crate)


def write_governed_run(
    result: ReplayResult,
    destination: Path,
    *,
    operator: Person,
    key: Path,
    crate_version: str = versions.DEFAULT,
) -> Path:
    """Write and sign the record at ``destination`` (a folder that must not exist yet).

    ``result.record`` should already name ``destination``: the record's own
    ``result.json`` says where the record is.
    """
    refusal = f"{destination}: record already exists; choose another --record path"
    with staged_folder(destination, parents=True, exists_message=refusal) as staging:
        (staging / RESULT_FILE).write_text(
            json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (staging / REPORT_FILE).write_text(render_html_report(result), encoding="utf-8")
        files = {name: sha256_file(staging / name) for name in (RESULT_FILE, REPORT_FILE)}
        metadata = _metadata(result, operator, crate_version=crate_version, files=files)
        (staging / "ro-crate-metadata.json").write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        sign_record(staging, key)
    return destination
