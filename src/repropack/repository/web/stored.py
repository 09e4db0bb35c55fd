"""What the package page reads from the store beside the catalog: the lock, the Dockerfile, the notebook runs.

Every blob read here was admitted, but it is still a stranger's bytes: reads are bounded, text is decoded
with replacement characters, and JSON is parsed strictly (``fs.bounded``). A fact that cannot be read is
left out of the page rather than failing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repropack.crate.metadata import CONTAINER_IMAGE_ID
from repropack.errors import CannotRun
from repropack.fs.bounded import UnsafeData, loads_bounded
from repropack.model import layout
from repropack.repository.queries import FileView, VersionView
from repropack.repository.store import Store

#: Support texts (lock, Dockerfile) longer than this are offered for download only.
MAX_SHOWN_TEXT = 2 * 2**20
MAX_METADATA_BYTES = 16 * 2**20


@dataclass(frozen=True)
class NotebookRunPart:
    """One notebook execution the package's metadata records (a ``CreateAction``)."""

    notebook: str
    status: str
    start: str
    end: str


@dataclass(frozen=True)
class EnvironmentPart:
    python_version: str
    lock: str | None  # the pinned requirements, as packed; None when absent or too long to show
    dockerfile: str | None
    env_files: tuple[FileView, ...]  # copies of the project's environment files


@dataclass(frozen=True)
class StoredFacts:
    environment: EnvironmentPart
    runs: tuple[NotebookRunPart, ...]


def read_blob(store: Store, file: FileView, limit: int) -> bytes | None:
    """The bytes of an unrestricted file of at most ``limit`` bytes (by the catalog and by what is read);
    None for a restricted, larger or missing one."""
    if file.restricted or file.size > limit:
        return None
    try:
        with store.open(file.sha256) as reader:
            data = reader.read(limit + 1)
    except CannotRun:  # a missing blob is the operator's to find ('repository check'); the page goes without it
        return None
    return data if len(data) <= limit else None


def stored_facts(store: Store, version: VersionView) -> StoredFacts:
    """The environment and notebook runs of ``version``, from its lock, Dockerfile and metadata blobs."""
    metadata = _metadata(store, version)
    entities = {
        e["@id"]: e for e in metadata.get("@graph", []) if isinstance(e, dict) and isinstance(e.get("@id"), str)
    }
    image = entities.get(CONTAINER_IMAGE_ID, {})
    environment = EnvironmentPart(
        python_version=_string(image.get("pythonVersion")),
        lock=_text(store, version.file(layout.LOCK)),
        dockerfile=_text(store, version.file(layout.DOCKERFILE)),
        env_files=tuple(f for f in version.files if f.path.startswith(layout.ENV_COPIES + "/")),
    )
    return StoredFacts(environment, _runs(entities))


def _metadata(store: Store, version: VersionView) -> dict:
    file = version.file(layout.METADATA)
    data = read_blob(store, file, MAX_METADATA_BYTES) if file else None
    if data is None:
        return {}
    try:
        parsed = loads_bounded(data, what=layout.METADATA)
    except UnsafeData:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(store: Store, file: FileView | None) -> str | None:
    data = read_blob(store, file, MAX_SHOWN_TEXT) if file else None
    return None if data is None else data.decode("utf-8", errors="replace")


def _runs(entities: dict[str, dict]) -> tuple[NotebookRunPart, ...]:
    runs = []
    for entity in entities.values():
        types = entity.get("@type")
        if "CreateAction" not in (types if isinstance(types, list) else [types]):
            continue
        objects = [_reference(o) for o in _as_list(entity.get("object"))]
        notebook = next((o for o in objects if entities.get(o, {}).get("fileRole") == "notebook"), None)
        runs.append(
            NotebookRunPart(
                notebook=layout.path_of_entity(notebook) if notebook else _string(entity.get("name")),
                status=_string(entity.get("actionStatus")).rsplit("/", 1)[-1],
                start=_string(entity.get("startTime")),
                end=_string(entity.get("endTime")),
            )
        )
    return tuple(sorted(runs, key=lambda r: (r.start, r.notebook)))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _reference(value: Any) -> str:
    return value["@id"] if isinstance(value, dict) and isinstance(value.get("@id"), str) else ""


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
