"""A wheel of a distribution as it is installed, for a project installed with ``pip install .``.

A non-editable install is a copy: the notebook imported the installed modules,
read the installed data files and ran the installed entry points, not the
project's source folder. An index cannot serve that distribution, so the
package carries it as a wheel packed from the installed files its RECORD lists:
no build backend is needed at replay (none is in the image, and the sandbox
build may have no network), and what the image installs is what ran, even if
the sources changed after the install.

Left out, as any installer makes them again: byte-code caches, the installer's
own files (INSTALLER, REQUESTED, direct_url.json, RECORD) and console scripts,
which pip writes from ``entry_points.txt``. Files installed outside the
installation folder (``data_files``, plain scripts) are left out and named.

The bytes depend only on the installed files: entries sorted, fixed times.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from configparser import ConfigParser
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from repropack.errors import CannotRun

_INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class LocalWheel:
    filename: str  # e.g. claimslib-0.2.0-py3-none-any.whl
    data: bytes
    left_out: tuple[str, ...] = ()  # RECORD paths installed outside the installation folder, not in the wheel

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _entry_point_scripts(dist_info: Path) -> set[str]:
    parser = ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    path = dist_info / "entry_points.txt"
    if path.is_file():
        parser.read_string(path.read_text(encoding="utf-8"))
    return {
        name
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for name in parser[section]
    }


def _wheel_name(dist_info: Path) -> str:
    metadata = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    wheel = HeaderParser().parsestr((dist_info / "WHEEL").read_text(encoding="utf-8"))
    tags = [tag.split("-") for tag in wheel.get_all("Tag") or ["py3-none-any"]]
    # Compressed tag set (PEP 425): each part is the sorted set of that part over the tags.
    parts = [".".join(sorted({tag[i] for tag in tags})) for i in range(3)]
    name = re.sub(r"[-_.]+", "_", str(metadata["Name"]))
    version = str(metadata["Version"]).replace("-", "_")
    return f"{name}-{version}-{'-'.join(parts)}.whl"


def wheel_from_record(record: Path) -> LocalWheel:
    """Pack the installed files that ``record`` (a ``*.dist-info/RECORD``) lists as a wheel.

    CannotRun when the installation cannot be read back (a file RECORD lists is gone).
    """
    dist_info = record.parent
    site = dist_info.parent
    try:
        rows = list(csv.reader(io.StringIO(record.read_text(encoding="utf-8"))))
        name = _wheel_name(dist_info)
        scripts = _entry_point_scripts(dist_info)
    except (OSError, UnicodeDecodeError, KeyError) as exc:
        raise CannotRun(f"cannot read the installed distribution at {dist_info}: {exc}") from None
    entries: dict[str, bytes] = {}
    executable: set[str] = set()
    left_out = []
    for row in rows:
        if not row or not row[0]:
            continue
        relative = PurePosixPath(row[0])
        if ".." in relative.parts or relative.is_absolute():
            if relative.name not in scripts:
                left_out.append(row[0])
            continue  # installed outside the folder: console scripts are made again from entry_points.txt
        if "__pycache__" in relative.parts or relative.suffix == ".pyc":
            continue
        if relative.parent == PurePosixPath(dist_info.name) and relative.name in _INSTALLER_FILES:
            continue
        path = site / relative
        try:
            entries[relative.as_posix()] = path.read_bytes()
        except OSError as exc:
            raise CannotRun(f"cannot read {path}, which the installed {dist_info.name} lists: {exc.strerror}") from None
        if path.stat().st_mode & 0o111:
            executable.add(relative.as_posix())
    record_path = f"{dist_info.name}/RECORD"
    order = sorted(entries, key=lambda p: (p.startswith(f"{dist_info.name}/"), p))  # dist-info last, as pip writes
    lines = [f"{p},{_record_hash(entries[p])},{len(entries[p])}" for p in order] + [f"{record_path},,"]
    entries[record_path] = ("\n".join(lines) + "\n").encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in [*order, record_path]:
            info = zipfile.ZipInfo(path, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path in executable else 0o100644) << 16
            archive.writestr(info, entries[path])
    return LocalWheel(name, out.getvalue(), tuple(sorted(left_out)))
