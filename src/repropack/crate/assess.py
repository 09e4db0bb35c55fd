"""A disclosure check as a Five Safes ``AssessAction`` in a crate: the package's (export) or a record's (replay).

The action is schema.org's ``AssessAction`` with ``additionalType`` ``shp#DisclosureCheck`` (the Five Safes
RO-Crate vocabulary, https://w3id.org/5s-crate), so a TRE's tools can find it. What a caller may rely on:

- its ``@id`` is ``#disclosure-check-<where>`` (``where`` from the report: "export", "replay", "govern"),
  stable, so a sign-off (``record.sign_off``, ``#sign-off-<n>``) can name it as its ``object``;
- ``actionStatus`` says the outcome (``outcome``): Completed for "passed" and "passed after suppression",
  Failed for "failed", Potential for "pending review" (a figure or free text a person must look at first);
- ``instrument`` is a PropertyValue holding the rules as JSON text, ``result`` a PropertyValue holding the
  findings as JSON text (file, table, row label, column, rule): **without values** (the report is stripped
  here, whatever the caller passes, and no ``detail`` is written, since a detail may quote the value);
- the root's ``mentions`` lists it.

The crate does not declare conformance to the Five Safes profile: roc-validator has no shapes for it, and a
package or a replay record is not a Five Safes workflow-run crate (no run request, no approval phases); only
its vocabulary is borrowed. Only schema.org terms are used, so no context needs changing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate

from repropack.crate.metadata import iso8601
from repropack.model.disclosure import CellFinding, DisclosureReport

DISCLOSURE_CHECK_TYPE = "https://w3id.org/shp#DisclosureCheck"
CHECK_ID_PREFIX = "#disclosure-check-"
RULES_ID = "https://w3id.org/repropack/terms#disclosureRules"
FINDINGS_ID = "https://w3id.org/repropack/terms#disclosureFindings"
JSON_FORMAT = "application/json"
#: Findings listed in the metadata at most; the counts always cover all (a hostile table may have a million cells).
MAX_LISTED_FINDINGS = 1000

PASSED = "passed"
PASSED_AFTER_SUPPRESSION = "passed after suppression"
PENDING_REVIEW = "pending review"
FAILED = "failed"
_STATUS = {  # plain strings, as the run actions' actionStatus (crate.metadata)
    PASSED: "http://schema.org/CompletedActionStatus",
    PASSED_AFTER_SUPPRESSION: "http://schema.org/CompletedActionStatus",
    PENDING_REVIEW: "http://schema.org/PotentialActionStatus",
    FAILED: "http://schema.org/FailedActionStatus",
}


def outcome(report: DisclosureReport) -> str:
    """The check's outcome in words: "failed", "pending review", "passed after suppression" or "passed".

    A failing file whose cells were all masked in the packed copy (``report.suppressed``) no longer fails:
    what leaves is the masked copy. Anything still failing wins over review; review over a pass.
    """
    failing = set(report.failing())
    if failing - set(report.suppressed):
        return FAILED
    if report.needs_review():
        return PENDING_REVIEW
    return PASSED_AFTER_SUPPRESSION if failing else PASSED


def check_id(where: str) -> str:
    """The action's ``@id`` for a check made at ``where`` ("export", "replay", ...)."""
    return CHECK_ID_PREFIX + (re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-") or "check")


def add_disclosure_check(
    crate: ROCrate, report: DisclosureReport, *, agent: Entity | None, object_ids: Iterable[str]
) -> ContextEntity:
    """Add ``report`` (its values removed) to ``crate`` as an ``AssessAction`` mentioned by the root; return it.

    ``agent`` is the software that checked (the repropack ``SoftwareApplication`` entity), ``object_ids`` the
    ``@id``s of the checked files; those not in the crate (an output withheld from a record) are left out.
    """
    report = report.without_values()
    said = outcome(report)
    action_id = check_id(report.where)
    term = crate.get(DISCLOSURE_CHECK_TYPE) or crate.add(
        ContextEntity(
            crate,
            DISCLOSURE_CHECK_TYPE,
            properties={
                "@type": "DefinedTerm",
                "name": "Disclosure check",
                "termCode": "DisclosureCheck",
                "description": "Five Safes RO-Crate: statistical disclosure control of outputs before they leave.",
            },
        )
    )
    rules = crate.add(
        ContextEntity(
            crate,
            f"{action_id}-rules",
            properties={
                "@type": "PropertyValue",
                "name": "Disclosure control rules",
                "propertyID": RULES_ID,
                "description": f"The rules the check applied ({report.rules.source}), as JSON.",
                "value": _json(report.rules.as_dict()),
                "encodingFormat": JSON_FORMAT,
            },
        )
    )
    result = crate.add(
        ContextEntity(
            crate,
            f"{action_id}-result",
            properties={
                "@type": "PropertyValue",
                "name": f"Disclosure check result: {said}",
                "propertyID": FINDINGS_ID,
                "description": _summary(report, said),
                "value": _json(_findings(report, said)),
                "encodingFormat": JSON_FORMAT,
            },
        )
    )
    action = crate.add(
        ContextEntity(
            crate,
            action_id,
            properties={
                "@type": "AssessAction",
                "additionalType": term,
                "name": f"Disclosure check of the outputs: {said}",
                "description": _summary(report, said),
                "actionStatus": _STATUS[said],
                "startTime": iso8601(report.started),
                "endTime": iso8601(report.ended),
            },
        )
    )
    checked = [entity for entity in (crate.get(i) for i in dict.fromkeys(object_ids)) if entity is not None]
    action["object"] = [crate.root_dataset, *checked]
    if agent is not None:
        action["agent"] = agent
    action["instrument"] = rules
    action["result"] = result
    crate.root_dataset.append_to("mentions", action)
    return action


def _summary(report: DisclosureReport, said: str) -> str:
    files, cells = len(report.files), len(report.findings())
    parts = [f"{files} file{'s' if files != 1 else ''} checked at {report.where or 'check'}"]
    if report.failing():
        parts.append(f"{cells} disclosive cell{'s' if cells != 1 else ''} in {len(report.failing())} file(s)")
    if report.suppressed:
        masked = sum(len(c) for c in report.suppressed.values())
        parts.append(f"{masked} cell(s) masked in the packed copies of {len(report.suppressed)} file(s)")
    if report.needs_review():
        parts.append(f"{len(report.needs_review())} file(s) need review by a person")
    return f"Disclosure control {said}: " + "; ".join(parts) + ". Cell values are never recorded."


def _findings(report: DisclosureReport, said: str) -> dict[str, Any]:
    """The result as JSON: each file's status and note, and its findings (up to ``MAX_LISTED_FINDINGS`` in all)."""
    budget = MAX_LISTED_FINDINGS

    def listed(cells: tuple[CellFinding, ...]) -> list[dict[str, str]]:
        nonlocal budget
        shown = cells[: max(budget, 0)]
        budget -= len(shown)
        # Not ``detail``: it may quote the value ("3 < 10"), and values never leave.
        return [{"table": c.table, "row": c.row, "column": c.column, "rule": c.rule} for c in shown]

    return {
        "outcome": said,
        "status": report.status.value,
        "where": report.where,
        "files": [
            {
                "path": f.path,
                "status": f.status.value,
                "note": f.note,
                "tables": f.tables,
                "finding_count": len(f.findings),
                "findings": listed(f.findings),
            }
            for f in report.files
        ],
        "suppressed": {path: listed(cells) for path, cells in sorted(report.suppressed.items())},
        "findings_listed_at_most": MAX_LISTED_FINDINGS,
    }


def _json(data: object) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)
