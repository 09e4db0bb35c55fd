"""The governed run: a signed RO-Crate saying what was replayed, where, how, and what matched.

The record is a folder: ``ro-crate-metadata.json`` (Process Run Crate 0.5, one
``CreateAction`` for the replay), ``result.json`` (the ``replay --json``
object), ``report.html``, ``replayed/<package path>`` (the outputs and executed
notebooks the replay produced, never an input), and ``signature.json``
(Ed25519 over the canonical metadata and every file's hash). It is written beside its final path and
renamed into place, so a half-written record never exists.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.data_entity import DataEntity

from repropack import __version__
from repropack.crate import versions
from repropack.crate.assess import add_disclosure_check
from repropack.crate.formats import encoding_format
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
from repropack.model import Digest, Person, ReplayResult, Verdict, layout
from repropack.model.results import RECORD_REPLAYED_DIR, RECORD_REPORT, WHAT_IF_NOTE
from repropack.record.report_html import render_html_report
from repropack.record.signing import sign_record

RESULT_FILE = "result.json"
REPORT_FILE = RECORD_REPORT
REPLAYED_DIR = RECORD_REPLAYED_DIR
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
    replayed_files = []
    for path in result.replayed:
        kept = f"{REPLAYED_DIR}/{path}"
        props = {
            "@type": "File",
            "name": f"Replayed {path}",
            "description": (
                f"What the replay produced at {path} (the package holds what was recorded there), "
                "kept so a reviewer can open it; `repropack diff` shows the two side by side."
            ),
            "encodingFormat": encoding_format(path),
        }
        if kept in digests:
            props["contentSize"] = str(digests[kept].size)
            props["sha256"] = digests[kept].sha256
        replayed_files.append(crate.add(DataEntity(crate, layout.entity_id(kept, False), properties=props)))
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
        if result.verdict is Verdict.FAILED:  # schema.org's error is for failed actions; nondeterminism is not one
            props["error"] = str(result.cause)
    if result.drift:
        props["environmentDrift"] = list(result.drift)
    if result.what_if:  # other parameter values than the recorded ones: said wherever the verdict is
        props["whatIf"] = [WHAT_IF_NOTE, *result.what_if_lines()]
        props["description"] = f"{props['description']} {WHAT_IF_NOTE[0].upper()}{WHAT_IF_NOTE[1:]}."
        root["description"] = f"{root['description']} {WHAT_IF_NOTE[0].upper()}{WHAT_IF_NOTE[1:]}."
        root["name"] = f"Governed run: what-if replay of {result.package.title} (not a reproduction)"
    action = crate.add(ContextEntity(crate, "#replay", properties=props))
    action["instrument"] = app
    action["agent"] = person
    action["object"] = package_entity
    action["result"] = [result_file, report_file, *replayed_files]
    if result.rejudged_from:
        old = result.rejudged_from
        rejudged = crate.add(
            ContextEntity(
                crate,
                "#rejudged-record",
                properties={
                    "@type": "CreativeWork",
                    "name": f"Governed run {Path(str(old['record'])).name}",
                    "identifier": str(old["record"]),
                    "sha256": old["signature_sha256"],
                    "description": (
                        f"The signed record whose kept outputs were compared again (its verdict: {old['verdict']}); "
                        f"sha256 is that of its signature.json, signed by {old.get('key_id')}."
                    ),
                },
            )
        )
        root["isBasedOn"] = rejudged
        root["name"] = f"Governed run: re-judgement of a replay of {result.package.title}"
        root["description"] = (
            f"repropack {__version__} compared the outputs kept in the signed record {Path(str(old['record'])).name} "
            f"with the recorded ones again, without re-running; verdict: {verdict} (was {old['verdict'].replace('_', ' ')})."
        )
        root["datePublished"] = str(old.get("rejudged") or root["datePublished"])
        action["object"] = [package_entity, rejudged]
        action["name"] = f"Re-judgement of {Path(str(old['record'])).name}"
        action["description"] = (
            f"Compared the outputs kept in {Path(str(old['record'])).name} with the recorded ones again, under "
            f"other comparison rules, without re-running anything; verdict: {verdict} (was {old['verdict']})."
        )
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
    if result.disclosure is not None:  # the replay's disclosure check, over the replayed files the record keeps
        kept = {path: entity.id for path, entity in zip(result.replayed, replayed_files)}
        checked = [kept[f.path] for f in result.disclosure.files if f.path in kept]
        add_disclosure_check(crate, result.disclosure, agent=app, object_ids=checked)
    return generate(crate)


def write_governed_run(
    result: ReplayResult,
    destination: Path,
    *,
    operator: Person,
    key: Path,
    crate_version: str = versions.DEFAULT,
    replayed: Path | None = None,
) -> Path:
    """Write and sign the record at ``destination`` (a folder that must not exist yet).

    ``result.record`` should already name ``destination``: the record's own
    ``result.json`` says where the record is. ``replayed`` is the folder that
    holds each of ``result.replayed`` at its package path; they are copied to
    ``replayed/`` in the record, described, hashed and signed with the rest.
    """
    if result.replayed and replayed is None:
        raise ValueError("write_governed_run: result.replayed names files, but no folder holding them was given")
    refusal = f"{destination}: record already exists; choose another --record path"
    with staged_folder(destination, parents=True, exists_message=refusal) as staging:
        for path in result.replayed if replayed is not None else ():
            target = staging / REPLAYED_DIR / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(replayed / path, target, follow_symlinks=False)
        (staging / RESULT_FILE).write_text(
            json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (staging / REPORT_FILE).write_text(render_html_report(result), encoding="utf-8")
        names = (RESULT_FILE, REPORT_FILE, *(f"{REPLAYED_DIR}/{path}" for path in result.replayed))
        files = {name: sha256_file(staging / name) for name in names}
        metadata = _metadata(result, operator, crate_version=crate_version, files=files)
        (staging / "ro-crate-metadata.json").write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        sign_record(staging, key)
    return destination
