"""Package model -> RO-Crate metadata (1.2 by default, 1.1 on request) with the Process Run Crate 0.5 profile.

Entities are built with the ``rocrate`` library (0.16 writes the 1.1 and 1.2
contexts and descriptors itself); the result is returned as a JSON-able dict so
the writer controls the bytes (deterministic zips). Terms of our own come from
``schemas/repropack-context.jsonld`` and are inlined in the crate's
``@context`` so that no validator has to fetch them.

Every fact written is one repropack knows: what it cannot know (a ROR id, a
contact point) is left out, and ``repropack check`` names the setting that
supplies it. ``crate.versions`` explains why a 1.2 descriptor also names 1.1.
The helpers below (``new_crate``, ``conform_to_process_run_crate``,
``add_license``, ``add_person``, ``generate``) are shared with the governed-run
record, which is a crate of the same shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from rocrate.model.contextentity import ContextEntity
from rocrate.model.data_entity import DataEntity
from rocrate.model.person import Person as CratePerson
from rocrate.rocrate import ROCrate

from repropack.crate import versions
from repropack.crate.versions import PROCESS_RUN_CRATE
from repropack.model import FileRecord, FileRole, NotebookRun, Organization, Package, Person, RunStatus, layout
from repropack.model.disclosure import DisclosureReport
from repropack.resources import schema_path

WORKFLOW_RUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
DOCKER_IMAGE_TYPE = "https://w3id.org/ro/terms/workflow-run#DockerImage"
CONTAINER_IMAGE_ID = "#container-image"
KERNEL_APP_ID = "https://ipython.org/"
REPROPACK_APP_ID = "https://pypi.org/project/repropack/"
DOI_PREFIX = "https://doi.org/"
DOI_ENTITY_ID = "#doi"
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


def new_crate(crate_version: str) -> ROCrate:
    """An empty crate of ``crate_version`` with the workflow-run context and our own terms."""
    crate = ROCrate(version=versions.writable(crate_version))
    crate.metadata.extra_contexts.append(WORKFLOW_RUN_CONTEXT)
    crate.metadata.extra_terms = own_terms()
    return crate


def conform_to_process_run_crate(crate: ROCrate) -> ContextEntity:
    """Declare the Process Run Crate profile on the root; from 1.2 on, its entity is a ``Profile``."""
    profile = crate.add(
        ContextEntity(
            crate,
            PROCESS_RUN_CRATE,
            properties={
                "@type": "CreativeWork" if crate.version == "1.1" else ["CreativeWork", "Profile"],
                "name": "Process Run Crate",
                "version": "0.5",
                "description": "Profile of RO-Crate for describing the execution of computational processes.",
            },
        )
    )
    crate.root_dataset["conformsTo"] = profile
    return profile


def add_license(crate: ROCrate, license: str) -> ContextEntity:
    """The license as a contextual entity: an SPDX URL for an SPDX identifier."""
    url = license_id(license)
    if url == license:
        description = f"The license whose text is at {url}."
    else:
        description = f"The license with SPDX identifier {license}; its text is at {url}.html."
    return crate.add(
        ContextEntity(
            crate,
            url,
            properties={"@type": "CreativeWork", "name": license, "identifier": license, "description": description},
        )
    )


def add_doi(crate: ROCrate, doi: str) -> ContextEntity:
    """The work's DOI as RO-Crate 1.2 recommends an identifier: a ``PropertyValue`` (Science On Schema.org).

    Its value is ``doi:...``, not a URL: roc-validator tries to resolve an http(s) identifier to the crate
    itself, and a DOI names the work, not this package. ``cite-as`` on the root carries the doi.org URL.
    """
    return crate.add(
        ContextEntity(
            crate,
            DOI_ENTITY_ID,
            properties={
                "@type": "PropertyValue",
                "name": "DOI",
                "propertyID": "https://registry.identifiers.org/registry/doi",
                "value": f"doi:{doi}",
            },
        )
    )


def _contact_point(crate: ROCrate, email: str, whose: str) -> ContextEntity:
    return crate.add(
        ContextEntity(
            crate,
            f"mailto:{email}",
            properties={"@type": "ContactPoint", "name": f"Email address of {whose}", "email": email},
        )
    )


def add_organization(crate: ROCrate, org: Organization) -> ContextEntity:
    """An Organization: its ROR id as @id when known, else its url, else a local id."""
    ror, email = org.ror, org.email
    props: dict[str, Any] = {"@type": "Organization", "name": org.name}
    if org.url:
        props["url"] = org.url
    entity = crate.add(ContextEntity(crate, ror or org.url or f"#org-{_slug(org.name)}", properties=props))
    if email:
        entity["contactPoint"] = _contact_point(crate, email, org.name)
    return entity


def add_person(crate: ROCrate, person: Person, default_id: str | None = None) -> CratePerson:
    """A Person with what is known of them: identifier (as @id), email (and contact point), affiliation."""
    props: dict[str, Any] = {"name": person.name}
    if person.email:
        props["email"] = person.email
    entity = crate.add(
        CratePerson(crate, person.identifier or default_id or f"#person-{_slug(person.name)}", properties=props)
    )
    if person.email:
        entity["contactPoint"] = _contact_point(crate, person.email, person.name)
    if person.affiliation:
        entity["affiliation"] = add_organization(crate, person.affiliation)
    return entity


def generate(crate: ROCrate) -> dict:
    """The crate's JSON-LD, with the descriptor naming its specification(s) and singletons collapsed."""
    crate.metadata["conformsTo"] = [{"@id": uri} for uri in versions.descriptor_conforms_to(crate.version)]
    return collapse_singletons(crate.metadata.generate())


_SUPPORT_DESCRIPTIONS = {
    layout.DOCKERFILE: "Dockerfile, rendered by repropack, that rebuilds the notebooks' environment at replay.",
    layout.LOCK: "Pinned requirements of the kernel's environment, installed by the Dockerfile.",
    layout.SETTINGS: "The export settings, each with the layer it came from (flag, project, user or default).",
    layout.CAPTURE: "Audit log of what repropack observed while executing the notebooks.",
    layout.CA_BUNDLE: "Placeholder for a CA bundle: a replay that needs one supplies it here.",
}


def _file_description(record: FileRecord, runs_by_file: dict[str, list[str]], executed: set[str]) -> str:
    """True sentences about why the file is in the package."""
    by = ", ".join(runs_by_file.get(record.path, ()))
    if record.restricted:
        kind = {FileRole.INPUT: "input", FileRole.OUTPUT: "output"}.get(record.role, "file")
        read = f" Read by {by}." if by and record.role is FileRole.INPUT else ""
        if record.encrypted_copy:
            return (
                f"Restricted {kind}: described here, its bytes are not in the package in the clear; "
                f"they travel age-encrypted in {record.encrypted_copy} for the recipients listed.{read}"
            )
        return f"Restricted {kind}: described here, its bytes are not in the package.{read}"
    if record.role is FileRole.NOTEBOOK:
        if record.path in executed:
            return f"Notebook {record.path} as repropack executed it at export, with the outputs of that run."
        return f"Notebook {record.path} with its saved outputs; it was not executed at export."
    if record.role is FileRole.INPUT:
        return f"Input read by {by}." if by else "Input of the notebook runs."
    if record.role is FileRole.OUTPUT:
        return f"Output written by {by}." if by else "Output of the notebook runs."
    if record.role is FileRole.SUPPORT:
        if record.path in _SUPPORT_DESCRIPTIONS:
            return _SUPPORT_DESCRIPTIONS[record.path]
        if record.path.startswith(layout.ENV_COPIES + "/"):
            original = record.path[len(layout.ENV_COPIES) + 1 :]
            return f"Copy of the project's environment file {original}, as repropack read it."
        if record.path.startswith(layout.WHEELHOUSE + "/"):
            return "Wheel of a locked distribution, so the environment can be rebuilt without an index."
        if record.path.startswith(layout.ENCRYPTED + "/"):
            original = record.path[len(layout.ENCRYPTED) + 1 :].removesuffix(".age")
            return f"age ciphertext of the restricted file {original}; only its recipients can decrypt it."
        if record.path.startswith(layout.LOCAL_WHEELS + "/"):
            return (
                "Wheel of the project's own distribution as it was installed at export (pip install .), "
                "packed from the installed files; the rebuilt environment installs it."
            )
        return "repropack's own material for rebuilding and replaying the package."
    return "Project file packaged as it was at export; no notebook run read or wrote it."


def _file_properties(record: FileRecord, description: str, crate_version: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": record.path.rsplit("/", 1)[-1],
        "description": description,
        "sha256": record.sha256,
        "contentSize": str(record.size),
        "encodingFormat": record.encoding_format,
        "fileRole": record.role.value,
    }
    if record.restricted:
        props["restricted"] = True
        props["accessNote"] = record.access_note or ""
        if crate_version != "1.1":  # the term is new in RO-Crate 1.2
            # A deliberately absent file with a local id says where it belongs.
            props["localPath"] = record.path
        if record.encrypted_copy:  # export --encrypt-to: the ciphertext is a data entity of its own
            props["encryptedCopy"] = {"@id": layout.entity_id(record.encrypted_copy, False)}
            props["ageRecipient"] = list(record.recipients)
    return props


def _run_action(
    crate: ROCrate, index: int, run: NotebookRun, files: dict[str, Any], agent, image, app, environment=()
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
    action["object"] = [files[p] for p in (run.notebook, *run.inputs) if p in files] + _parameters(
        crate, action.id, run
    )
    action["result"] = [files[p] for p in (run.notebook, *run.outputs) if p in files]
    usage = _resource_usage(crate, action.id, run)
    if usage:
        action["resourceUsage"] = usage
    if environment:
        action["environment"] = environment
    return action


#: Process Run Crate ``resourceUsage`` PropertyValues: propertyID -> (model field, QUDT unit).
PEAK_MEMORY_ID = "https://w3id.org/repropack/terms#peakMemory"
WALL_TIME_ID = "https://w3id.org/repropack/terms#wallTime"
_USAGE = {
    PEAK_MEMORY_ID: ("peak_memory", "peak memory", "https://qudt.org/vocab/unit/BYTE"),
    WALL_TIME_ID: ("wall_seconds", "wall time", "https://qudt.org/vocab/unit/SEC"),
}


def _resource_usage(crate: ROCrate, action_id: str, run: NotebookRun) -> list[ContextEntity]:
    """What the run used, as Process Run Crate ``resourceUsage``: its peak memory and wall time."""
    usage = []
    for property_id, (attribute, name, unit) in _USAGE.items():
        value = getattr(run, attribute)
        if value is None:
            continue
        props = {"@type": "PropertyValue", "name": name, "propertyID": property_id, "unitCode": unit, "value": value}
        usage.append(crate.add(ContextEntity(crate, f"{action_id}-{attribute.replace('_', '-')}", properties=props)))
    return usage


#: propertyID of a notebook parameter's PropertyValue; a list, mapping or null value is JSON text in ``value``.
PARAMETER_ID = "https://w3id.org/repropack/terms#notebookParameter"
JSON_VALUE_FORMAT = "application/json"


def parameter_value(value: Any) -> dict[str, Any]:
    """A parameter's value as PropertyValue properties: text, numbers and booleans as themselves, anything
    else as JSON text (a one-item list would otherwise read back as its item, a mapping as an entity)."""
    if isinstance(value, (str, bool, int, float)):
        return {"value": value}
    return {"value": json.dumps(value, sort_keys=True, ensure_ascii=False), "encodingFormat": JSON_VALUE_FORMAT}


def _parameters(crate: ROCrate, action_id: str, run: NotebookRun) -> list[ContextEntity]:
    """The values injected into the notebook's parameters cell, as ``object`` PropertyValues (Process Run Crate)."""
    return [
        crate.add(
            ContextEntity(
                crate,
                f"{action_id}-parameter-{quote(name, safe='')}",
                properties={
                    "@type": "PropertyValue",
                    "name": name,
                    "propertyID": PARAMETER_ID,
                    "description": f"Value injected for parameter {name} of {run.notebook} before it ran (papermill).",
                    **parameter_value(value),
                },
            )
        )
        for name, value in run.parameters.items()
    ]


def _environment_variables(crate: ROCrate, variables: Mapping[str, str]) -> list[ContextEntity]:
    """The kernel's recorded environment variables as Process Run Crate ``environment`` PropertyValues."""
    return [
        crate.add(
            ContextEntity(
                crate,
                f"#environment-{quote(name, safe='')}",
                properties={"@type": "PropertyValue", "name": name, "value": value},
            )
        )
        for name, value in sorted(variables.items())
    ]


def collapse_singletons(value: Any) -> Any:
    """Replace one-element lists by their element, as RO-Crate 1.1 recommends (not in @context)."""
    if isinstance(value, dict):
        return {k: (v if k == "@context" else collapse_singletons(v)) for k, v in value.items()}
    if isinstance(value, list):
        items = [collapse_singletons(v) for v in value]
        return items[0] if len(items) == 1 else items
    return value


def build_metadata(
    package: Package,
    *,
    dockerfile_path: str,
    lock_path: str,
    settings_path: str,
    env_hash: str,
    crate_version: str = versions.DEFAULT,
    disclosure: DisclosureReport | None = None,
) -> dict:
    """The ``ro-crate-metadata.json`` document for ``package``, as RO-Crate ``crate_version`` ("1.2" or "1.1").

    ``disclosure``: the export's disclosure check, added as an ``AssessAction`` (``crate.assess``; no values).
    """
    meta = package.metadata
    crate = new_crate(crate_version)
    root = crate.root_dataset
    root["name"] = meta.title
    root["description"] = meta.description
    root["datePublished"] = iso8601(meta.date_published)
    conform_to_process_run_crate(crate)
    if meta.license:
        root["license"] = add_license(crate, meta.license)
    if meta.keywords:
        root["keywords"] = list(meta.keywords)
    if meta.version:
        root["version"] = meta.version
    if meta.doi:
        root["identifier"] = add_doi(crate, meta.doi)
        root["cite-as"] = DOI_PREFIX + meta.doi
    authors = [add_person(crate, a) for a in meta.authors]
    if authors:
        root["author"] = authors
    if meta.publisher:
        root["publisher"] = add_organization(crate, meta.publisher)

    executed = [run for run in package.runs if run.status is not RunStatus.NOT_EXECUTED]
    runs_by_file: dict[str, list[str]] = {}
    for run in executed:
        for path in {*run.inputs, *run.outputs}:
            runs_by_file.setdefault(path, []).append(run.notebook)
    executed_notebooks = {run.notebook for run in executed}
    files = {}
    for record in sorted(package.files, key=lambda r: r.path):
        props = _file_properties(record, _file_description(record, runs_by_file, executed_notebooks), crate.version)
        # Every id comes from layout.entity_id (add_file would percent-encode non-ASCII and the fragment).
        if record.restricted:  # a context entity: not put in hasPart here, appended below
            entity = crate.add(
                ContextEntity(crate, layout.entity_id(record.path, True), properties={"@type": "File", **props})
            )
        else:  # a data entity: crate.add puts it in the root's hasPart, as add_file did
            entity = crate.add(
                DataEntity(crate, layout.entity_id(record.path, False), properties={"@type": "File", **props})
            )
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
                # CreativeWork: the schema.org type RO-Crate 1.2 asks every entity to have.
                "@type": ["ContainerImage", "CreativeWork"],
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
    # A notebook packaged with --no-execute did not run: there is no action to describe.
    numbered = [(i, run) for i, run in enumerate(package.runs, start=1) if run.status is not RunStatus.NOT_EXECUTED]
    if numbered:
        kernel_version = next((d.version for d in env.lock if d.name.lower() == "ipykernel"), env.python_version)
        app = crate.add(
            ContextEntity(
                crate,
                KERNEL_APP_ID,
                properties={
                    "@type": "SoftwareApplication",
                    "name": "IPython kernel",
                    "url": KERNEL_APP_ID,
                    # RO-Crate 1.2 requires ``version``; Process Run Crate wants it or softwareVersion, not both.
                    "version": kernel_version,
                    "description": (
                        f"The Jupyter kernel that executed the notebooks, on {env.implementation} {env.python_version}."
                    ),
                },
            )
        )
        agent = add_person(crate, package.agent) if package.agent else (authors[0] if authors else None)
        variables = _environment_variables(crate, package.environment_variables)
        root["mentions"] = [_run_action(crate, i, run, files, agent, image, app, variables) for i, run in numbered]
    else:
        # Nothing ran, so no action names the image a replay builds: the root does (no entity is left dangling).
        root["mentions"] = image
    tool = crate.add(
        ContextEntity(
            crate,
            REPROPACK_APP_ID,
            properties={
                "@type": "SoftwareApplication",
                "name": "repropack",
                "url": REPROPACK_APP_ID,
                **({"version": package.tool_version} if package.tool_version else {}),
            },
        )
    )
    root["settingsFile"] = files[settings_path]
    if disclosure is not None:
        from repropack.crate.assess import add_disclosure_check  # assess imports this module

        add_disclosure_check(
            crate, disclosure, agent=tool, object_ids=[files[f.path].id for f in disclosure.files if f.path in files]
        )
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
    return generate(crate)
