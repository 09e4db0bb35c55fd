"""A catalogued package written in a neighbour's format: a BagIt bag, or a GakuNin RDM project zip.

Each checks the version out of the store (verified, ``checkout``) into a temp folder of its own, outside the
repository, and hands that package to the format's writer in ``crate``; only the writer's output is left.
"""

from __future__ import annotations

from pathlib import Path

from repropack.crate.bagit_bag import write_bag
from repropack.crate.rdm_project import write_rdm_project
from repropack.crate.reader import open_package
from repropack.fs.stale import owned_temp_dir
from repropack.repository.checkout import checkout
from repropack.repository.opened import Repository
from repropack.repository.queries import Ref, resolve_ref

#: Swept like an opened package's if a run is killed (``fs.stale.SWEPT_PREFIXES``).
_TEMP_PREFIX = "repropack-open-"


def export_bag(repository: Repository, ref: Ref | str, out: Path, *, layout: str = "rocrate") -> Path:
    """The version ``ref`` names as a new bag folder ``out`` (``crate.bagit_bag.write_bag``; its External-Identifier
    is the package's repository reference, ``ID@N``); returns ``out``."""
    ref = resolve_ref(ref) if isinstance(ref, str) else ref
    with owned_temp_dir(_TEMP_PREFIX) as scratch:
        done = checkout(repository, ref, scratch / "package")
        return write_bag(done.out, out, layout=layout, external_identifier=f"{done.public_id}@{done.version}")


def export_rdm(repository: Repository, ref: Ref | str, out: Path, *, addon: str = "osfstorage") -> Path:
    """The version ``ref`` names as a GakuNin RDM project zip at ``out`` (``crate.rdm_project``); returns its path."""
    ref = resolve_ref(ref) if isinstance(ref, str) else ref
    with owned_temp_dir(_TEMP_PREFIX) as scratch:
        done = checkout(repository, ref, scratch / "package")
        with open_package(done.out) as opened:
            return write_rdm_project(opened, out, addon=addon)
