"""Where repropack's own files live inside a package (the reserved folder)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, unquote

# The temp-sibling naming lives with the atomic writes that make the siblings (repropack.fs.atomic);
# re-exported for export/pipeline.py, which never packs a leftover temp sibling of its own output.
from repropack.fs.atomic import temp_sibling, temp_siblings  # noqa: F401
from repropack.model.package import RESERVED_DIR

METADATA = "ro-crate-metadata.json"
DOCKERFILE = f"{RESERVED_DIR}/Dockerfile"
LOCK = f"{RESERVED_DIR}/requirements.lock.txt"
SETTINGS = f"{RESERVED_DIR}/settings.json"
CAPTURE = f"{RESERVED_DIR}/capture.json"
ENV_COPIES = f"{RESERVED_DIR}/env"
WHEELHOUSE = f"{RESERVED_DIR}/wheelhouse"
LOCAL_WHEELS = f"{RESERVED_DIR}/local"  # wheels of the project's own non-editable installs (pip install .)
CA_BUNDLE = f"{RESERVED_DIR}/ca-bundle.crt"  # empty placeholder; a replay may supply a real one
ENCRYPTED = f"{RESERVED_DIR}/encrypted"  # age ciphertexts of restricted inputs (export --encrypt-to)

#: A restricted file's bytes are not in the package, so its entity cannot have a
#: local path as @id (RO-Crate requires those to exist); it gets this fragment id.
RESTRICTED_ID_PREFIX = "#restricted/"

# --- package path <-> data entity @id: the one mapping (the writer and the reader both use it) ----------
#
# An @id is an IRI reference (JSON-LD), relative to the crate root. ASCII is kept only when it is an
# RFC 3986 unreserved character (A-Z a-z 0-9 - . _ ~) or the "/" between folders; every other ASCII
# character is percent-encoded ("%" -> %25, " " -> %20, "#" -> %23, "?" -> %3F, ":" -> %3A, "+" -> %2B,
# brackets, quotes...), exactly as ro-crate-py's add_file does, so no reader can take a "#" for a
# fragment, a "?" for a query, a "c:" for a scheme or a "+" for a space. Non-ASCII characters an IRI may
# hold (RFC 3987 ucschar: accents, CJK, emoji) stay native UTF-8, as RO-Crate 1.2 recommends; the few it
# may not (C1 controls, private use, noncharacters, bidi formatting) are percent-encoded as UTF-8 bytes.
# No normalisation happens either way: an NFD name keeps its NFD id.

_BIDI_FORMATTING = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _iri_native(char: str) -> bool:
    """A non-ASCII character an IRI path may hold as it is (RFC 3987 ``ucschar``, no bidi formatting)."""
    code = ord(char)
    if code < 0xA0 or 0xD800 <= code <= 0xF8FF or 0xFDD0 <= code <= 0xFDEF or 0xFFF0 <= code <= 0xFFFF:
        return False
    if code & 0xFFFF >= 0xFFFE or 0xE0000 <= code <= 0xE0FFF or code >= 0xF0000:
        return False
    return char not in _BIDI_FORMATTING


def entity_id(path: str, restricted: bool) -> str:
    """The @id of the data entity describing package ``path`` (``#restricted/...`` for a restricted file).

    ``path_of_entity`` is its inverse. A path that is not valid UTF-8 (surrogate-escaped) has no id:
    ``UnicodeEncodeError``; export refuses such names first (``repropack.fs.names``).
    """
    encoded = "".join(char if ord(char) > 0x7F and _iri_native(char) else quote(char, safe="/") for char in path)
    return f"{RESTRICTED_ID_PREFIX}{encoded}" if restricted else encoded


def path_of_entity(entity_id: str) -> str:
    """The package path an entity describes: ``entity_id`` decoded ("a%2520b%20%231.csv" -> "a%20b #1.csv")."""
    return unquote(entity_id.removeprefix(RESTRICTED_ID_PREFIX))


def encrypted_copy(path: str) -> str:
    """Where a package holds the age ciphertext of the restricted input at ``path``."""
    return f"{ENCRYPTED}/{path}.age"


def env_copy(env_file: str) -> str:
    """Package path of the copy of a project environment file (requirements.txt, ...)."""
    return f"{ENV_COPIES}/{env_file}"


def is_safe_package_path(path: str) -> bool:
    """A relative POSIX path that stays inside the package."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path and "\x00" not in path
