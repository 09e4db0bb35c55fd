"""One read of each packed project file for both guards: secrets (``export.secrets``) and restricted data
(``export.restricted_guard``).

Both guards look at the same bytes, so each text-sized file is read once and
both are fed from that read. Without restricted inputs this is the secrets
guard alone (which reads only the first 8 KiB of a binary file); a file over
``MAX_TEXT_BYTES`` has no content rules run on it and is left to the
restricted-data guard's own chunked read, so no file is read in full twice.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from repropack.export.secrets import SecretFinding, find_secrets_in_bytes, find_secrets_in_file
from repropack.fs.restricted import Leak, RestrictedIndex

#: The secrets guard's limit: larger files get name rules only.
MAX_TEXT_BYTES = 5 * 2**20


@dataclass(frozen=True)
class PackedScan:
    """What the read pass found: every secret suspicion, in path order, and the restricted line or value found
    in each file it read whole (None: nothing), by path; files missing from ``restricted`` were not read whole."""

    secrets: list[SecretFinding] = field(default_factory=list)
    restricted: dict[str, Leak | None] = field(default_factory=dict)


def scan_packed_files(root: Path, paths: Iterable[str], index: RestrictedIndex | None) -> PackedScan:
    """Scan ``root / path`` for each of ``paths`` as ``find_secrets_in_file`` does and, with ``index``, for
    restricted data as ``RestrictedIndex.find_in_file`` would. Raises ``OSError`` if a file cannot be read."""
    scan = PackedScan()
    for path in paths:
        if index is None:
            scan.secrets.extend(find_secrets_in_file(root, path, MAX_TEXT_BYTES))
            continue
        file = root / path
        status = file.stat()
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_TEXT_BYTES:
            scan.secrets.extend(find_secrets_in_file(root, path, MAX_TEXT_BYTES))  # name rules only
            continue
        with file.open("rb") as stream:
            data = stream.read(MAX_TEXT_BYTES + 1)
        if len(data) > MAX_TEXT_BYTES:  # it grew since the stat: as the secrets guard would, name rules only
            scan.secrets.extend(find_secrets_in_file(root, path, MAX_TEXT_BYTES))
            continue
        scan.secrets.extend(find_secrets_in_bytes(path, data))
        scan.restricted[path] = index.find_bytes(data)
    return scan
