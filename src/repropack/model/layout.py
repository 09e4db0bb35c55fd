"""Where repropack's own files live inside a package (the reserved folder)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from repropack.model.package import RESERVED_DIR

METADATA = "ro-crate-metadata.json"
DOCKERFILE = f"{RESERVED_DIR}/Dockerfile"
LOCK = f"{RESERVED_DIR}/requirements.lock.txt"
SETTINGS = f"{RESERVED_DIR}/settings.json"
CAPTURE = f"{RESERVED_DIR}/capture.json"
ENV_COPIES = f"{RESERVED_DIR}/env"
WHEELHOUSE = f"{RESERVED_DIR}/wheelhouse"
CA_BUNDLE = f"{RESERVED_DIR}/ca-bundle.crt"  # empty placeholder; a replay may supply a real one

_TEMP_MARKER = ".repropack-tmp-"

#: A restricted file's bytes are not in the package, so its entity cannot have a
#: local path as @id (RO-Crate requires those to exist); it gets this fragment id.
RESTRICTED_ID_PREFIX = "#restricted/"


def entity_id(path: str, restricted: bool) -> str:
    return f"{RESTRICTED_ID_PREFIX}{path}" if restricted else path


def path_of_entity(entity_id: str) -> str:
    """The package path an entity describes (rocrate percent-encodes ids such as "my%20notes.md")."""
    return unquote(entity_id.removeprefix(RESTRICTED_ID_PREFIX))


def env_copy(env_file: str) -> str:
    """Package path of the copy of a project environment file (requirements.txt, ...)."""
    return f"{ENV_COPIES}/{env_file}"


def temp_sibling(output: Path, token: str) -> Path:
    """A temporary path beside ``output``, on the same filesystem so a rename is atomic."""
    return output.parent / f".{output.name}{_TEMP_MARKER}{token}"


def temp_siblings(output: Path) -> list[Path]:
    """Existing temporary paths of ``output`` (left by a killed export), never packed."""
    return sorted(output.parent.glob(f".{output.name}{_TEMP_MARKER}*"))
