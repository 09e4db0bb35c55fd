"""What replay refuses before it opens, builds or runs anything: places it would write that are taken,
and a governed-run record given where a package was expected.

A replay can take many minutes before it writes its record and report; a path that is already taken
is refused first (exit 2), not after the work, and never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

from repropack.errors import BadInput
from repropack.fs.shown_paths import shown_path
from repropack.record.archived import is_record


def refuse_taken_destinations(record: Path | None, report: Path | None) -> None:
    """BadInput when ``record`` (``--record``) or ``report`` (``--report``) cannot be written as given.

    A record is a new folder and never replaces anything; the report is the file ``report`` itself
    (no suffix added), in a folder that exists, and replaces nothing either.
    """
    if record is not None and _taken(record):
        raise BadInput(
            f"{shown_path(record)}: already exists; choose another --record path (a record is never replaced)"
        )
    if report is None:
        return
    if _taken(report):
        raise BadInput(f"{shown_path(report)}: already exists; choose another --report path (it is never replaced)")
    if not report.parent.is_dir():
        raise BadInput(f"{shown_path(report)}: its folder does not exist; --report names the file to write")


def _taken(path: Path) -> bool:
    # "new/../taken" names "taken" once "new" is made (the record's parents are), though the kernel says not yet.
    return os.path.lexists(path) or os.path.lexists(os.path.normpath(path))


def refuse_record_as_package(source: Path) -> None:
    """BadInput when ``source``, given as a package, is a governed-run record: a folder, or a zip of one (read from
    the zip's list of names only; anything else about the zip is for the package opener to judge)."""
    if is_record(source):
        raise BadInput(
            f"{shown_path(source)}: a governed-run record (what a replay writes), not a package; "
            "check it with `repropack verify-record`, or replay the package it names"
        )
