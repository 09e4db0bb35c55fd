"""Package model -> RO-Crate 1.1 metadata with the Process Run Crate 0.5 profile.

Entities are built with the ``rocrate`` library; the result is returned as a
JSON-able dict so the writer controls the bytes (deterministic zips). Terms of
our own come from ``schemas/repropack-context.jsonld`` and are inlined in the
crate's ``@context`` so that no validator has to fetch them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.person import Person as CratePerson
from rocrate.rocrate import ROCrate

from repropack.model import FileRecord, NotebookRun, Organization, Package, Person, RunStatus, layout
from repropack.resources import schema_path

WORKFLOW_RUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
PROCESS_RUN_CRATE = "https://w3id.org/ro/wfrun/process/0.5"
DOCKER_IMAGE_TYPE = "https://w3id.org/ro/terms/workflow-run#DockerImage"
CONTAINER_IMAGE_ID = "#container-image"
KERNEL_APP_ID = "https://ipython.org/"
REPROPACK_APP_ID = "https://pypi.org/project/repropack/"
# The profile allows only these two; roc-validator's shape compares them as
# plain strings, so they are not {"@id": ...}.
_ACTION_STATUS = {
    RunStatus.COMPLETED: "http://schema.org/CompletedActionStatus",
    RunStatus.FAILED: "http://schema.org/FailedActionStatus",
}


def own_terms() -> dict[str, Any]:
    """The repropack JSON-LD term definitions, as shipped in ``schemas/``."""
    return json.loads(schema_path("repropack-context.jsonld").read_text(encoding="utf-8"))["@context"]


def iso8601(moment: datetime) -> str:
    """UTC, whole seconds, ``+00:00`` offset: the form the run-crate validator accepts."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def license_id(license: str) -> str:
    return license if re.match(r"https?://", license) else f"https://spdx.org/licenses/{license}"


def _organization(crate: ROCrate, org: Organization) -> ContextEntity:
    props: dict[str, Any] = {"@type": "Organization", "name": org.name}
    if org.url:
        props["url"] = org.url
    return crate.add(ContextEntity(crate, org.url or f"#org-{_slug(org.name)}", properties=props))


def _person(crate: ROCrate, person: Person) -> CratePerson:
    props: dict[str, Any] = {"name": person.name}
    if person.email:
        props["email"] = person.email
    entity = crate.add(CratePerson(crate, person.identifier or f"#person-{_slug(person.name)}", properties=props))
    if person.affiliation:
        entity["affiliation"] = _organization(crate, person.affiliation)
    return entity


def _file_properties(record: FileRecord) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": record.path.rsplit("/", 1)[-1],
        "sha256": record.sha256,
        "contentSize": str(record.size),
        "encodingFormat": record.encoding_format,
        "fileRole": record.role.value,
    }
    if record.restricted:
        props["restricted"] = True
        props["accessNote"] = record.access_note or ""
        props["description"] = "Restricted input: described here, its bytes are not in the package."
    return props


def _run_action(
    crate: ROCrate, index: int, run: NotebookRun, files: dict[str, Any], agent, image, app
) -> ContextEntity:
    props: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"Execution of {run.notebook}",
        "description": (
            f"repropack executed {run.notebook} with the {run.kernel_display_name} kernel "
            f"({run.kernel_name}); object lists the files it read, result the files it wrote."
        ),
        "kernelName": run.kernel_name,
    }
    props["actionStatus"] = _ACTION_STATUS[run.status]
    if run.start_time:
        props["startTime"] = iso8601(run.start_time)
    if run.end_time:
        props["endTime"] = iso8601(run.end_time)
    if run.errors:
        props["error"] = "; ".join(run.errors)
    action = crate.add(ContextEntity(crate, f"#run-{index}-{_slug(run.notebook)}", properties=props))
    action["instrument"] = app
    action["agent"] = agent
    action["containerImage"] = image
    action["object"] = [files[p] for p in (run.notebook, *run.inputs) if p in files]
    action["result"] = [files[p] for p in (run.notebook, *run.outputs) if p in files]
    return action


def collapse_singletons(value: Any) -> Any:
    """Replace one-element lists by their element, as RO-Crate 1.1 recommends (not in @context)."""
    if isinstance(value, dict):
        return {k: (v if k == "@context" else collapse_singletons(v)) for k, v in value.items()}
    if isinstance(value, list):
        items = [collapse_singletons(v) for v in value]
        return items[0] if len(items) == 1 else items
    return value


def build_metadata(
    package: Package, *, dockerfile_path: str, lock_path: str, settings_path: str, env_hash: str
) -> dict:
    """The ``ro-crate-metadata.json`` document for ``package``."""
    meta = package.metadata
    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(WORKFLOW_RUN_CONTEXT)
    crate.metadata.extra_terms = own_terms()
    root = crate.root_dataset
    root["name"] = meta.title
    root["description"] = meta.description
    root["datePublished"] = iso8601(meta.date_published)
    root["conformsTo"] = crate.add(
        ContextEntity(
            crate,
            PROCESS_RUN_CRATE,
            properties={"@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"},
        )
    )
    if meta.license:
        root["license"] = crate.add(
            ContextEntity(
                crate,
                license_id(meta.license),
                properties={"@type": "CreativeWork", "name": meta.license, "identifier": meta.license},
            )
        )
    if meta.keywords:
        root["keywords"] = list(meta.keywords)
    authors = [_person(crate, a) for a in meta.authors]
    if authors:
        root["author"] = authors
    if meta.publisher:
        root["publisher"] = _organization(crate, meta.publisher)

    files = {}
    for record in sorted(package.files, key=lambda r: r.path):
        if record.restricted:
            # add_file would percent-encode the fragment id, so add it as a plain entity.
            entity = crate.add(
                ContextEntity(
                    crate, layout.entity_id(record.path, True), properties={"@type": "File", **_file_properties(record)}
                )
            )
        else:
            entity = crate.add_file(dest_path=record.path, properties=_file_properties(record))
        files[record.path] = entity
    restricted = [files[r.path] for r in package.files if r.restricted]
    if restricted:
        root.append_to("hasPart", restricted)

    env = package.environment
    image = crate.add(
        ContextEntity(
            crate,
            CONTAINER_IMAGE_ID,
            properties={
                "@type": "ContainerImage",
                "additionalType": {"@id": DOCKER_IMAGE_TYPE},
                "name": "repropack/env",
                "tag": env_hash[:16],
                "registry": "localhost",
                "description": f"Built locally at replay from {dockerfile_path} on base image {env.base_image}.",
                "environmentHash": env_hash,
                "pythonVersion": env.python_version,
            },
        )
    )
    image["buildRecipe"] = files[dockerfile_path]
    image["lockFile"] = files[lock_path]
    kernel_version = next((d.version for d in env.lock if d.name.lower() == "ipykernel"), env.python_version)
    app = crate.add(
        ContextEntity(
            crate,
            KERNEL_APP_ID,
            properties={
                "@type": "SoftwareApplication",
                "name": "IPython kernel",
                "url": KERNEL_APP_ID,
                "softwareVersion": kernel_version,
                "description": f"The Jupyter kernel that executed the notebooks, on {env.implementation} {env.python_version}.",
            },
        )
    )
    agent = _person(crate, package.agent) if package.agent else (authors[0] if authors else None)
    # A notebook packaged with --no-execute did not run: there is no action to describe.
    actions = [
        _run_action(crate, i, run, files, agent, image, app)
        for i, run in enumerate(package.runs, start=1)
        if run.status is not RunStatus.NOT_EXECUTED
    ]
    if actions:
        root["mentions"] = actions
    tool = crate.add(
        ContextEntity(
            crate,
            REPROPACK_APP_ID,
            properties={
                "@type": "SoftwareApplication",
                "name": "repropack",
                "url": REPROPACK_APP_ID,
                "softwareVersion": package.tool_version,
            },
        )
    )
    root["settingsFile"] = files[settings_path]
    if package.git:
        git = package.git
        props: dict[str, Any] = {
            "@type": "CreativeWork",
            "name": "Git commit the project was exported from",
            "version": git.commit,
            "gitDirty": git.dirty,
        }
        if git.branch:
            props["gitBranch"] = git.branch
        if git.remote_url:
            props["codeRepository"] = git.remote_url
        if git.changed_paths:
            props["gitChangedPaths"] = list(git.changed_paths)
        root["isBasedOn"] = crate.add(ContextEntity(crate, "#git", properties=props))
    crate.metadata["creator"] = tool
    return collapse_singletons(crate.metadata.generate())
