"""``repropack link``: the paper a package supports, by its DOI (shown by ``show``, found by ``search --doi``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from repropack.errors import BadInput
from repropack.repository.catalog.tables import PackageRow, PublicationRow
from repropack.repository.opened import Repository
from repropack.repository.queries import Ref, resolve_ref

# A DOI as Crossref and DataCite mint them: "10.", a registrant code of 4-9 digits, "/", a suffix.
_DOI = re.compile(r"10\.[0-9]{4,9}/[-._;()/:A-Za-z0-9<>\[\]]+")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


@dataclass(frozen=True)
class LinkOutcome:
    public_id: str
    doi: str
    linked: bool  # False: the package had this DOI linked already (nothing was written)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.public_id, "doi": self.doi, "outcome": "linked" if self.linked else "unchanged"}


def bare_doi(text: str) -> str:
    """``10.NNNN/...`` from a bare DOI, ``doi:...`` or a doi.org URL; BadInput (one line) for anything else."""
    doi = _DOI_PREFIX.sub("", text.strip())
    if not _DOI.fullmatch(doi):
        raise BadInput(f"--doi {text!r}: not a DOI (10.NNNN/suffix, e.g. 10.5281/zenodo.123456)")
    return doi


def link_publication(repository: Repository, ref: Ref | str, doi: str) -> LinkOutcome:
    """Link the publication ``doi`` to the package ``ref`` names (a version number, if given, is ignored: a paper
    is linked to the work). The same DOI again (case ignored, as DOIs are) is unchanged."""
    ref = resolve_ref(ref) if isinstance(ref, str) else ref
    doi = bare_doi(doi)
    with repository.catalog.session(write=True) as session:
        package = session.execute(select(PackageRow).where(PackageRow.public_id == ref.public_id)).scalar_one_or_none()
        if package is None:
            raise BadInput(f"{ref.public_id}: no such package in this repository")
        linked = session.execute(select(PublicationRow.doi).where(PublicationRow.package_id == package.id)).scalars()
        known = next((d for d in linked if d.casefold() == doi.casefold()), None)
        if known is not None:
            return LinkOutcome(package.public_id, known, False)
        session.add(PublicationRow(package_id=package.id, doi=doi, linked_at=datetime.now(timezone.utc)))
    return LinkOutcome(package.public_id, doi, True)
