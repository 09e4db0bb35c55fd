"""Open a package (folder or zip) and read it back into the typed model export wrote.

A zip is untrusted input: it is extracted with ``fs.archive.safe_extract`` into
a temporary folder that lives as long as the ``with`` block. Every JSON-LD
shape is read here and nowhere else: callers get ``repropack.model`` types.
Entities the reader cannot type (a size that is not a whole number, an unknown
file role) are left out of the model and listed in ``OpenedPackage.problems``,
so ``check`` reports them and ``replay`` refuses the package.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from repropack.config import OpeningLimits
from repropack.crate.metadata import (
    CONTAINER_IMAGE_ID,
    DOI_PREFIX,
    JSON_VALUE_FORMAT,
    PARAMETER_ID,
    PEAK_MEMORY_ID,
    REPROPACK_APP_ID,
    WALL_TIME_ID,
)
from repropack.crate.support import SCHEMAS, SupportFile, read_support_file
from repropack.crate.versions import crate_version_of
from repropack.environment.dockerfile import environment_hash
from repropack.errors import BadInput
from repropack.fs.archive import ExtractionLimits, safe_extract
from repropack.fs.bounded import DEFAULT_MAX_DEPTH, UnsafeData, loads_bounded, read_json_file, read_regular_file
from repropack.fs.stale import owned_temp_dir
from repropack.model import (
    Environment,
    FileRecord,
    FileRole,
    GitProvenance,
    LocalPackage,
    LockedDistribution,
    NondeterministicOutput,
    NotebookRun,
    Organization,
    Package,
    PackageMetadata,
    Person,
    RunStatus,
    layout,
)
from repropack.model.lock import parse_lock

_RUN_STATUS = {
    "CompletedActionStatus": RunStatus.COMPLETED,
    "FailedActionStatus": RunStatus.FAILED,
}
_SPDX_PREFIX = "https://spdx.org/licenses/"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    return value.get("@id") if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _size(value: Any) -> int | None:
    """A recorded contentSize as an int, None when it is not a whole number."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).isdigit():
        return int(value)
    return None


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _nondeterminism(capture: dict) -> tuple[int, tuple[NondeterministicOutput, ...]]:
    """capture.json's ``nondeterministic``: how many runs export compared and what differed between them."""
    found = capture.get("nondeterministic")
    if not isinstance(found, dict) or not isinstance(found.get("runs"), int) or isinstance(found["runs"], bool):
        return 1, ()
    entries = tuple(
        NondeterministicOutput(
            entry["path"],
            tuple(c for c in _as_list(entry.get("cells")) if isinstance(c, int) and not isinstance(c, bool) and c > 0),
            _text(entry.get("detail")) or "",
        )
        for entry in _as_list(found.get("outputs"))
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    )
    return max(found["runs"], 1), entries


def _variables(capture: dict) -> dict[str, str]:
    """capture.json's ``environment_variables``: name -> value as the kernel started at export."""
    found = capture.get("environment_variables")
    if not isinstance(found, dict):
        return {}
    return {name: value for name, value in found.items() if isinstance(name, str) and isinstance(value, str)}


def _encrypted_copy(path: str, entity: dict, restricted: bool) -> tuple[str | None, str | None]:
    """A restricted file's ``encryptedCopy`` as a package path, or the problem with it.

    The ciphertext must be a file of the reserved folder ``.repropack/encrypted/``: a replay reads
    it from there and nowhere else (not a payload file, not a path out of the package).
    """
    if "encryptedCopy" not in entity:
        return None, None
    ref = _ref(entity["encryptedCopy"])
    copy = layout.path_of_entity(ref) if isinstance(ref, str) else ""
    if not restricted:
        return None, f"{path}: has an encryptedCopy but is not restricted"
    if not layout.is_safe_package_path(copy) or not copy.startswith(layout.ENCRYPTED + "/"):
        return None, f"{path}: its encrypted copy {copy!r} is not a file of {layout.ENCRYPTED}/"
    return copy, None


def _types(entity: dict) -> set[str]:
    return {t for t in _as_list(entity.get("@type")) if isinstance(t, str)}


@dataclass(frozen=True)
class ReadProblem:
    """An entity the reader could not turn into the model; ``kind`` as ``check`` reports it."""

    path: str  # the package path the entity describes
    kind: str  # "schema" (an entity), "lock", "support" (settings.json, capture.json)
    message: str


@dataclass
class OpenedPackage:
    """A package on disk: its raw metadata (for validators) and the typed model read from it."""

    root: Path
    metadata: dict
    source: Path
    limits: OpeningLimits = field(default_factory=OpeningLimits)

    @cached_property
    def entities(self) -> dict[str, dict]:
        """Entities by @id, built once."""
        return {
            e["@id"]: e
            for e in self.metadata.get("@graph", [])
            if isinstance(e, dict) and isinstance(e.get("@id"), str)
        }

    @cached_property
    def metadata_sha256(self) -> str:
        return hashlib.sha256((self.root / layout.METADATA).read_bytes()).hexdigest()

    @cached_property
    def environment_hash(self) -> str:
        """Computed from the Dockerfile and lock bytes, never read from the metadata: an image
        cache keyed by it must never serve an image built from a different lock."""
        return environment_hash(self.read_text(layout.DOCKERFILE) or "", self.read_text(layout.LOCK) or "")

    def read_text(self, package_path: str) -> str | None:
        """A regular file of the package as text, None when absent (a symlink counts as absent).

        BadInput when it is larger than the metadata limit or not UTF-8.
        """
        try:
            return self._text(package_path)
        except UnsafeData as exc:
            raise BadInput(f"{self.source}: {exc}") from None

    def _text(self, package_path: str) -> str | None:
        """``read_text``, raising UnsafeData (naming ``package_path``, not the package) instead."""
        path = self.root / package_path
        if path.is_symlink() or not path.is_file():
            return None
        data = read_regular_file(path, limit=self.limits.max_metadata_bytes, what=package_path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeData(f"{package_path}: not UTF-8 (byte {exc.start})") from None

    @cached_property
    def _support(self) -> dict[str, SupportFile]:
        """settings.json and capture.json, each checked against its schema (``crate.support``)."""
        bounds = {"max_bytes": self.limits.max_metadata_bytes, "max_values": self.limits.max_metadata_values}
        return {path: read_support_file(self.root, path, **bounds) for path in SCHEMAS}

    @cached_property
    def _files_and_problems(self) -> tuple[tuple[FileRecord, ...], tuple[ReadProblem, ...]]:
        records, problems = [], []
        for entity in self.entities.values():
            if "File" not in _types(entity) or "sha256" not in entity:
                continue
            path = layout.path_of_entity(entity["@id"])
            size = _size(entity.get("contentSize"))
            if size is None:
                problems.append(ReadProblem(path, "schema", f"{path}: contentSize is not a whole number of bytes"))
                continue
            try:
                role = FileRole(entity.get("fileRole"))
            except ValueError:
                problems.append(ReadProblem(path, "schema", f"{path}: unknown file role {entity.get('fileRole')!r}"))
                continue
            restricted = entity.get("restricted") is True
            copy, problem = _encrypted_copy(path, entity, restricted)
            if problem:
                problems.append(ReadProblem(path, "layout", problem))
                continue
            records.append(
                FileRecord(
                    path=path,
                    sha256=str(entity["sha256"]),
                    size=size,
                    encoding_format=_text(entity.get("encodingFormat")) or "",
                    role=role,
                    restricted=restricted,
                    access_note=_text(entity.get("accessNote")),
                    encrypted_copy=copy,
                    recipients=tuple(sorted({r for r in _as_list(entity.get("ageRecipient")) if isinstance(r, str)})),
                )
            )
        return tuple(sorted(records, key=lambda r: r.path)), tuple(problems)

    @property
    def problems(self) -> tuple[ReadProblem, ...]:
        lock_problem = self._lock[1]
        support = tuple(ReadProblem(path, "support", f.problem) for path, f in self._support.items() if f.problem)
        return (*self._files_and_problems[1], *((lock_problem,) if lock_problem else ()), *support)

    @cached_property
    def _lock(self) -> tuple[tuple[LockedDistribution, ...], ReadProblem | None]:
        """The lock's entries, parsed strictly (``model.lock``); a lock pip would read otherwise is a problem."""
        try:
            text = self._text(layout.LOCK) or ""
        except UnsafeData as exc:
            return (), ReadProblem(layout.LOCK, "lock", str(exc))
        try:
            return parse_lock(text), None
        except BadInput as exc:
            return (), ReadProblem(layout.LOCK, "lock", f"{layout.LOCK} {exc}")

    @cached_property
    def package(self) -> Package:
        """The package as the model: metadata, files, runs, environment, git, settings, capture facts."""
        capture = self._support[layout.CAPTURE].data
        settings = self._support[layout.SETTINGS].data
        export_runs, nondeterministic = _nondeterminism(capture)
        return Package(
            metadata=self._package_metadata(),
            files=self._files_and_problems[0],
            runs=self._runs(),
            environment=self._environment(capture),
            git=self._git(),
            settings={k: v for k, v in settings.items() if isinstance(v, dict)},
            agent=None,
            tool_version=self._tool_version(),
            empty_folders=tuple(f for f in capture.get("empty_folders", []) if isinstance(f, str)),
            local_packages=tuple(
                LocalPackage(
                    str(entry["name"]),
                    entry["path"],
                    editable=entry.get("editable") is not False,
                    wheel=entry["wheel"] if isinstance(entry.get("wheel"), str) else None,
                )
                for entry in capture.get("local_packages", [])
                if isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry.get("name")
            ),
            export_runs=export_runs,
            nondeterministic=nondeterministic,
            environment_variables=_variables(capture),
        )

    # --- the parts of the model -----------------------------------------------------------

    def _tool_version(self) -> str:
        app = self.entities.get(REPROPACK_APP_ID, {})
        return _text(app.get("version")) or _text(app.get("softwareVersion")) or ""

    @property
    def _root(self) -> dict:
        return self.entities.get("./", {})

    def _entity(self, value: Any) -> dict:
        return self.entities.get(_ref(value) or "", {})

    def _organization(self, value: Any) -> Organization | None:
        entity = self._entity(value)
        name = _text(entity.get("name"))
        if not name:
            return None
        ror = entity["@id"] if entity["@id"].startswith("https://ror.org/") else None
        email = _text(self._entity(entity.get("contactPoint")).get("email"))
        return Organization(name, _text(entity.get("url")), ror, email)

    def _person(self, value: Any) -> Person | None:
        entity = self._entity(value)
        name = _text(entity.get("name"))
        if not name:
            return None
        identifier = entity["@id"] if not entity["@id"].startswith("#") else None
        return Person(name, self._organization(entity.get("affiliation")), identifier, _text(entity.get("email")))

    def _package_metadata(self) -> PackageMetadata:
        root = self._root
        license_entity = self._entity(root.get("license"))
        license_id = _text(license_entity.get("identifier")) or (
            (_ref(root.get("license")) or "").removeprefix(_SPDX_PREFIX) or None
        )
        keywords = root.get("keywords")
        if isinstance(keywords, str):
            keywords = [k.strip() for k in keywords.split(",") if k.strip()]
        cite_as = _text(root.get("cite-as")) or ""
        return PackageMetadata(
            title=_text(root.get("name")) or self.source.name,
            description=_text(root.get("description")) or "",
            license=license_id,
            authors=tuple(p for p in map(self._person, _as_list(root.get("author"))) if p),
            publisher=self._organization(root.get("publisher")),
            date_published=_moment(root.get("datePublished")) or datetime.fromtimestamp(0).astimezone(),
            keywords=tuple(k for k in _as_list(keywords) if isinstance(k, str)),
            version=_text(root.get("version")),
            doi=cite_as.removeprefix(DOI_PREFIX) if cite_as.startswith(DOI_PREFIX) else None,
        )

    def _runs(self) -> tuple[NotebookRun, ...]:
        runs = []
        for ref in _as_list(self._root.get("mentions")):
            action = self._entity(ref)
            if "CreateAction" not in _types(action):
                continue
            objects = [_ref(o) or "" for o in _as_list(action.get("object"))]
            parameters = self._parameters(objects)
            objects = [o for o in objects if "PropertyValue" not in _types(self.entities.get(o, {}))]
            notebook = next((o for o in objects if self.entities.get(o, {}).get("fileRole") == "notebook"), None)
            if notebook is None:
                continue
            notebook_path = layout.path_of_entity(notebook)
            status = str(action.get("actionStatus") or "").rsplit("/", 1)[-1]
            error = _text(action.get("error"))
            runs.append(
                NotebookRun(
                    notebook=notebook_path,
                    kernel_name=_text(action.get("kernelName")) or "",
                    kernel_display_name="",
                    status=_RUN_STATUS.get(status, RunStatus.FAILED),
                    start_time=_moment(action.get("startTime")),
                    end_time=_moment(action.get("endTime")),
                    inputs=tuple(sorted({layout.path_of_entity(o) for o in objects} - {notebook_path})),
                    outputs=tuple(
                        sorted(
                            {layout.path_of_entity(_ref(o) or "") for o in _as_list(action.get("result"))}
                            - {notebook_path}
                        )
                    ),
                    errors=tuple(error.split("; ")) if error else (),
                    **self._resource_usage(action),
                    parameters=parameters,
                )
            )
        return tuple(runs)

    def _parameters(self, objects: list[str]) -> dict[str, Any]:
        """A run's notebook parameters: its ``object`` PropertyValues of ``PARAMETER_ID``, name -> value.

        BadInput for one whose value cannot be what export wrote (JSON text that is not JSON, a name twice):
        a replay must run exactly the recorded values, so none is guessed.
        """
        found: dict[str, Any] = {}
        for ref in objects:
            entity = self.entities.get(ref, {})
            if entity.get("propertyID") != PARAMETER_ID:
                continue
            name, value = entity.get("name"), entity.get("value")
            where = f"{self.source}: parameter {ref}"
            if not isinstance(name, str) or name in found:
                raise BadInput(f"{where}: has no name, or one another parameter of the run has too")
            if entity.get("encodingFormat") == JSON_VALUE_FORMAT:
                try:
                    value = loads_bounded(value if isinstance(value, str) else "", what=where)
                except UnsafeData as exc:
                    raise BadInput(str(exc)) from None
            found[name] = value
        return found

    def _resource_usage(self, action: dict) -> dict[str, Any]:
        """A run's ``resourceUsage`` PropertyValues, as NotebookRun's peak_memory and wall_seconds."""
        found: dict[str, Any] = {"peak_memory": None, "wall_seconds": None}
        for ref in _as_list(action.get("resourceUsage")):
            usage = self._entity(ref)
            value = usage.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                continue
            if usage.get("propertyID") == PEAK_MEMORY_ID:
                found["peak_memory"] = int(value)
            elif usage.get("propertyID") == WALL_TIME_ID:
                found["wall_seconds"] = float(value)
        return found

    def _environment(self, capture: dict) -> Environment:
        image = self.entities.get(CONTAINER_IMAGE_ID, {})
        interpreter = capture.get("interpreter") if isinstance(capture.get("interpreter"), dict) else {}
        base = self._support[layout.SETTINGS].data.get("base_image", {})
        return Environment(
            python_version=_text(image.get("pythonVersion")) or _text(interpreter.get("python_version")) or "",
            implementation=_text(interpreter.get("implementation")) or "",
            platform=_text(interpreter.get("platform")) or "",
            machine=_text(interpreter.get("machine")) or "",
            lock=self._lock[0],
            unresolved=tuple(u for u in capture.get("unresolved_requirements", []) if isinstance(u, str)),
            base_image=_text(base.get("value") if isinstance(base, dict) else None) or "",
        )

    def _git(self) -> GitProvenance | None:
        git = self._entity(self._root.get("isBasedOn"))
        if not git:
            return None
        return GitProvenance(
            commit=_text(git.get("version")) or "",
            branch=_text(git.get("gitBranch")),
            remote_url=_text(git.get("codeRepository")),
            dirty=git.get("gitDirty") is True,
            changed_paths=tuple(p for p in _as_list(git.get("gitChangedPaths")) if isinstance(p, str)),
        )


def _load_metadata(root: Path, source: Path, limits: OpeningLimits) -> dict:
    meta_path = root / layout.METADATA
    if not meta_path.is_file():
        raise BadInput(f"{source}: not a repropack package (no {layout.METADATA})")
    try:
        # Size first (an 80 MB file is refused unread), then strict JSON no deeper than the model walks.
        data = read_json_file(
            meta_path,
            limit=limits.max_metadata_bytes,
            max_depth=DEFAULT_MAX_DEPTH,
            max_values=limits.max_metadata_values,
            what=layout.METADATA,
        )
    except UnsafeData as exc:
        raise BadInput(f"{source}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("@graph"), list):
        raise BadInput(f"{source}: {layout.METADATA} has no @graph list")
    try:
        crate_version_of(data)
    except BadInput as exc:
        raise BadInput(f"{source}: {exc}") from None
    return data


@contextmanager
def open_package(source: Path, limits: OpeningLimits | None = None) -> Iterator[OpenedPackage]:
    """Open a package folder in place, or a zip extracted safely to a temporary folder.

    ``limits`` (default ``OpeningLimits()``) bound what a zip may expand to and how large the
    metadata and support files may be; past them, or with metadata that is not strict JSON
    nested at most 64 deep, BadInput with nothing left behind.
    """
    limits = limits or OpeningLimits()
    if not source.exists():
        raise BadInput(f"{source}: no such package")
    if source.is_dir():
        yield OpenedPackage(source, _load_metadata(source, source, limits), source, limits)
        return
    if not source.is_file():  # a FIFO would hang the zip reader
        raise BadInput(f"{source}: neither a package folder nor a zip file")
    # One member over a lowered package limit is refused by the total, whose message names the setting.
    member_limit = max(limits.max_package_bytes, ExtractionLimits().max_member_bytes)
    extraction = ExtractionLimits(max_total_bytes=limits.max_package_bytes, max_member_bytes=member_limit)
    with owned_temp_dir("repropack-open-") as tmp:  # a killed run's is swept (fs/stale.py)
        root = Path(tmp) / "package"
        root.mkdir()
        safe_extract(source, root, extraction)
        yield OpenedPackage(root, _load_metadata(root, source, limits), source, limits)
