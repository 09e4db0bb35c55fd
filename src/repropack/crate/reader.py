"""Open a package (folder or zip) and read its metadata back into plain facts.

A zip is untrusted input: it is extracted with ``archive.safe_extract`` into a
temporary folder that lives as long as the ``with`` block.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from repropack.errors import BadInput
from repropack.fs.archive import safe_extract
from repropack.model import layout


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    return value.get("@id") if isinstance(value, dict) else None


def _size(value: Any) -> int | None:
    """A recorded contentSize as an int, None when it is not a whole number."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).isdigit():
        return int(value)
    return None


def _types(entity: dict) -> set[str]:
    return {t for t in _as_list(entity.get("@type")) if isinstance(t, str)}


@dataclass
class OpenedPackage:
    """A package on disk with its parsed metadata."""

    root: Path
    metadata: dict
    source: Path

    @cached_property
    def entities(self) -> dict[str, dict]:
        """Entities by @id, built once: runs() and description() look them up per file."""
        return {
            e["@id"]: e
            for e in self.metadata.get("@graph", [])
            if isinstance(e, dict) and isinstance(e.get("@id"), str)
        }

    @property
    def root_entity(self) -> dict:
        return self.entities.get("./", {})

    def files(self) -> list[dict]:
        """Every File entity with a sha256: path, size, sha256, role, restricted."""
        out = []
        for entity in self.entities.values():
            if "File" in _types(entity) and "sha256" in entity:
                out.append(
                    {
                        "path": layout.path_of_entity(entity["@id"]),
                        "size": _size(entity.get("contentSize")),
                        "sha256": entity["sha256"],
                        "encoding_format": entity.get("encodingFormat"),
                        "role": entity.get("fileRole"),
                        "restricted": bool(entity.get("restricted", False)),
                        "access_note": entity.get("accessNote"),
                    }
                )
        return sorted(out, key=lambda f: f["path"])

    def runs(self) -> list[dict]:
        out = []
        for ref in _as_list(self.root_entity.get("mentions")):
            action = self.entities.get(_ref(ref) or "", {})
            if "CreateAction" not in _types(action):
                continue
            objects = [self.entities.get(_ref(o) or "", {}) for o in _as_list(action.get("object"))]
            notebook = next((o["@id"] for o in objects if o.get("fileRole") == "notebook"), None)
            out.append(
                {
                    "notebook": notebook,
                    "name": action.get("name"),
                    "status": str(action.get("actionStatus") or "not executed").rsplit("/", 1)[-1],
                    "kernel": action.get("kernelName"),
                    "start_time": action.get("startTime"),
                    "end_time": action.get("endTime"),
                    "inputs": sorted(layout.path_of_entity(_ref(o) or "") for o in _as_list(action.get("object"))),
                    "outputs": sorted(layout.path_of_entity(_ref(o) or "") for o in _as_list(action.get("result"))),
                    "error": action.get("error"),
                }
            )
        return out

    def read_text(self, package_path: str) -> str | None:
        path = self.root / package_path
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def description(self) -> dict:
        """What ``repropack inspect --json`` prints."""
        root = self.root_entity
        files = self.files()
        image = self.entities.get("#container-image", {})
        lock = self.read_text(layout.LOCK) or ""
        git = self.entities.get(_ref(root.get("isBasedOn")) or "", {})
        return {
            "package": str(self.source),
            "title": root.get("name"),
            "description": root.get("description"),
            "license": _ref(root.get("license")),
            "date_published": root.get("datePublished"),
            "authors": [self.entities.get(_ref(a) or "", {}).get("name") for a in _as_list(root.get("author"))],
            "notebooks": [f["path"] for f in files if f["role"] == "notebook"],
            "files": files,
            "restricted": [f for f in files if f["restricted"]],
            "runs": self.runs(),
            "environment": {
                "python_version": image.get("pythonVersion"),
                "environment_hash": image.get("environmentHash"),
                "lock": [line for line in lock.splitlines() if line and not line.startswith("#")],
            },
            "git": {
                "commit": git.get("version"),
                "branch": git.get("gitBranch"),
                "remote": git.get("codeRepository"),
                "dirty": git.get("gitDirty"),
            }
            if git
            else None,
        }


def _load_metadata(root: Path, source: Path) -> dict:
    meta_path = root / layout.METADATA
    if not meta_path.is_file():
        raise BadInput(f"{source}: not a repropack package (no {layout.METADATA})")
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{source}: {layout.METADATA} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("@graph"), list):
        raise BadInput(f"{source}: {layout.METADATA} has no @graph list")
    return data


@contextmanager
def open_package(source: Path) -> Iterator[OpenedPackage]:
    """Open a package folder in place, or a zip extracted safely to a temporary folder."""
    if not source.exists():
        raise BadInput(f"{source}: no such package")
    if source.is_dir():
        yield OpenedPackage(source, _load_metadata(source, source), source)
        return
    with tempfile.TemporaryDirectory(prefix="repropack-open-") as tmp:
        root = Path(tmp) / "package"
        root.mkdir()
        safe_extract(source, root)
        yield OpenedPackage(root, _load_metadata(root, source), source)
