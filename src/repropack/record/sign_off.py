"""A person's signed sign-off on a governed-run record, after their review of its disclosure check.

A sign-off is a Five Safes RO-Crate ``AssessAction`` typed ``https://w3id.org/shp#SignOff``, added to
the record's ``ro-crate-metadata.json`` as ``#sign-off-<n>`` with its agent ``#sign-off-<n>-agent`` and
referenced from the root's ``mentions``. The agent is a schema.org ``Role`` with the person's ``name`` and
``roleName``: roc-validator (RO-Crate 1.2) advises that every Person have an ORCID as its ``@id``, which a
sign-off given only a name cannot honour, and the agent's ``@id`` must stay a ``#sign-off-`` one so that
removing the sign-offs gives back the signed record. Its object is the
root and every disclosure check action of the record (``shp#DisclosureCheck``); a record without one
is signed off as a whole, and the action's name says so. ``actionStatus`` is Completed for
``approved``, Failed for ``rejected``.

Each sign-off carries its own Ed25519 signature, in terms of repropack's context on the action:
``signOffPublicKey`` (base64 raw key), ``signOffKeyId``, ``signedRecordPayload`` (sha256 of the payload
the record's own signature covers, so a sign-off copied into another record does not hold there) and
``signOffSignature`` over ``canonical_json({"signed": SIGNED_CONTENT, "sign_off": action, "agent":
agent})``, the action without its ``signOffSignature``. The record's signature does not cover sign-offs
(``record.signing.without_sign_offs``), so it stays valid after any number of them; deleting a sign-off
cannot be detected by either signature, only adding or altering one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from repropack.crate.metadata import iso8601
from repropack.errors import BadInput
from repropack.fs.atomic import write_bytes_atomically
from repropack.fs.shown_paths import shown_path
from repropack.model.layout import METADATA
from repropack.record.keys import key_id, load_private_key, signing_key
from repropack.record.signing import SIGN_OFF_PREFIX, canonical_json, read_record_metadata, verify_record

SIGN_OFF_TYPE = "https://w3id.org/shp#SignOff"
DISCLOSURE_CHECK_TYPE = "https://w3id.org/shp#DisclosureCheck"
DEFAULT_ROLE = "checker"
#: Names what a sign-off's signature covers; another value is a format this code does not know.
SIGNED_CONTENT = "repropack sign-off: canonical-json(action without signOffSignature, agent)"
_STATUS = {
    "approved": "http://schema.org/CompletedActionStatus",
    "rejected": "http://schema.org/FailedActionStatus",
}
DECISIONS = tuple(_STATUS)
_DECISION_OF = {status: decision for decision, status in _STATUS.items()}
_TERMS = ("signOffSignature", "signOffPublicKey", "signOffKeyId", "signedRecordPayload")
_ACTION_ID = re.compile(r"#sign-off-([1-9][0-9]{0,8})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PUBLIC_KEY_BYTES = 32
_SHOWN_PROBLEMS = 3  # of a record that does not verify, in the one-line refusal
_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class SignOff:
    """One sign-off as the record states it; ``valid`` exactly when ``problems`` is empty.

    ``by``, ``role``, ``decision`` and ``time`` are what the metadata says (None when absent or not
    text): trust them only when ``valid``. ``key_id`` is the id of the key that signed it.
    """

    id: str
    by: str | None
    role: str | None
    decision: str | None
    time: str | None
    key_id: str | None
    valid: bool
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "by": self.by,
            "role": self.role,
            "decision": self.decision,
            "time": self.time,
            "key_id": self.key_id,
            "valid": self.valid,
            "problems": list(self.problems),
        }


def sign_off_record(
    record: Path,
    *,
    by: str,
    role: str = DEFAULT_ROLE,
    decision: str = "approved",
    note: str | None = None,
    key: Path | None = None,
    now: datetime | None = None,
) -> SignOff:
    """Add a signed sign-off by ``by`` to the record folder ``record``; return it.

    ``key`` is the signer's private key (default the user's, made when missing). The metadata is
    rewritten atomically (written beside it, then renamed), so a failure leaves the record as it was.
    Raises ``BadInput``, writing nothing, for an empty or multi-line ``by`` or ``role``, an unknown
    ``decision``, a zip (sign off the unzipped folder), something that is not a record folder, a record
    that does not verify (tampered, or holding an invalid sign-off), or an unreadable key.
    """
    by = _one_line(by, "--by", "the name of the person signing off")
    role = _one_line(role, "--role", "the role of the person signing off")
    if decision not in _STATUS:
        raise BadInput(f"--decision: {decision!r} is not one of {', '.join(DECISIONS)}")
    if note is not None and _CONTROL.search(note.replace("\n", "").replace("\t", "")):
        raise BadInput("--note: control characters are not allowed")
    where = shown_path(record)
    if not os.path.lexists(record):
        raise BadInput(f"{where}: no such record")
    if record.is_file() and not record.is_symlink():
        raise BadInput(
            f"{where}: a zipped record; unzip it and sign off the folder (the sign-off is written into its {METADATA})"
        )
    if record.is_symlink() or not record.is_dir():
        raise BadInput(f"{where}: not a record folder")
    verification = verify_record(record)
    if not verification.valid or verification.payload_sha256 is None:
        found = list(verification.problems[:_SHOWN_PROBLEMS]) or ["its metadata cannot be read"]
        more = len(verification.problems) - _SHOWN_PROBLEMS
        found += [f"{more} more (repropack verify-record lists them)"] if more > 0 else []
        raise BadInput(f"{where}: the record does not verify ({'; '.join(found)}); refusing to sign it off")
    private_key = load_private_key(signing_key(key))

    metadata = read_record_metadata(record)
    graph = metadata["@graph"] if isinstance(metadata, dict) and isinstance(metadata.get("@graph"), list) else None
    root = next((e for e in graph or () if isinstance(e, dict) and e.get("@id") == "./"), None)
    if graph is None or root is None:
        raise BadInput(f"{where}: {METADATA} has no root dataset to attach a sign-off to")
    taken = [int(m.group(1)) for e in graph if (m := _ACTION_ID.fullmatch(str(_id_of(e))))]
    action_id = f"{SIGN_OFF_PREFIX}{max(taken, default=0) + 1}"
    agent_id = f"{action_id}-agent"
    checks = sorted(str(e["@id"]) for e in graph if isinstance(e, dict) and _is_disclosure_check(e))
    if len(checks) > 1:
        subject = "Sign-off of the disclosure checks"
    elif checks:
        subject = "Sign-off of the disclosure check"
    else:
        subject = "Sign-off of the governed run (the record holds no disclosure check)"
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("sign_off_record: now must be timezone-aware")
    public_key = private_key.public_key()
    raw_public = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    terms = _term_keys(metadata)
    objects = [{"@id": "./"}, *({"@id": check} for check in checks)]
    agent = {"@id": agent_id, "@type": "Role", "name": by, "roleName": role}
    action: dict[str, Any] = {
        "@id": action_id,
        "@type": "AssessAction",
        "additionalType": {"@id": SIGN_OFF_TYPE},
        "name": f"{subject}: {decision}",
        "endTime": iso8601(moment),
        # One entry is written as itself, not a list of one: RO-Crate's JSON-LD advice, which the validator checks.
        "object": objects[0] if len(objects) == 1 else objects,
        "agent": {"@id": agent_id},
        "actionStatus": _STATUS[decision],
        terms["signOffPublicKey"]: base64.b64encode(raw_public).decode("ascii"),
        terms["signOffKeyId"]: key_id(public_key),
        terms["signedRecordPayload"]: verification.payload_sha256,
    }
    if note:
        action["description"] = note
    action[terms["signOffSignature"]] = base64.b64encode(private_key.sign(_signed_bytes(action, agent, terms))).decode(
        "ascii"
    )
    graph.extend([action, agent])
    mentions = root.get("mentions", [])
    root["mentions"] = [*(mentions if isinstance(mentions, list) else [mentions]), {"@id": action_id}]
    text = json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomically(record / METADATA, text.encode("utf-8"))
    return SignOff(action_id, by, role, decision, action["endTime"], key_id(public_key), True, ())


def check_sign_offs(metadata: object, payload_sha256: str) -> tuple[tuple[SignOff, ...], list[str]]:
    """Every sign-off in ``metadata`` checked against the record whose signed payload has ``payload_sha256``.

    Returns the sign-offs (in number order) and the problems, one line each: those of each invalid
    sign-off, and any ``#sign-off-`` entity that belongs to no sign-off, any ``@id`` given twice, any
    sign-off the root's ``mentions`` does not name or names without it being there. Never raises for
    hostile metadata.
    """
    graph = metadata.get("@graph") if isinstance(metadata, dict) else None
    if not isinstance(graph, list):
        return (), []
    problems: list[str] = []
    entities: dict[str, dict[str, Any]] = {}
    for entity in graph:
        ident = _id_of(entity)
        if not (isinstance(ident, str) and ident.startswith(SIGN_OFF_PREFIX)):
            continue
        if not isinstance(entity, dict):
            problems.append(f"{ident}: a sign-off entry that is not an entity")
        elif ident in entities:
            problems.append(f"{ident}: more than one entity has this @id")
        else:
            entities[ident] = entity
    actions = sorted((i for i in entities if _ACTION_ID.fullmatch(i)), key=lambda i: int(i[len(SIGN_OFF_PREFIX) :]))
    agents = {f"{i}-agent" for i in actions}
    for ident in sorted(entities.keys() - set(actions) - agents):
        problems.append(f"{ident}: belongs to no sign-off (not a signed sign-off action or its agent)")
    named = _mentioned(graph)
    for ident in sorted(named - set(actions)):
        problems.append(f"the root's mentions names {ident}, which is no sign-off in the record")
    terms = _term_keys(metadata)
    results = []
    for ident in actions:
        result = _check_one(entities[ident], entities.get(f"{ident}-agent"), payload_sha256, terms, ident in named)
        results.append(result)
        problems.extend(result.problems)
    return tuple(results), problems


def _check_one(
    action: dict[str, Any],
    agent: dict[str, Any] | None,
    payload_sha256: str,
    terms: Mapping[str, str],
    mentioned: bool,
) -> SignOff:
    ident = str(action["@id"])
    found: list[str] = []
    agent_id = f"{ident}-agent"
    if "AssessAction" not in _as_list(action.get("@type")) or SIGN_OFF_TYPE not in _ids(action.get("additionalType")):
        found.append("not an AssessAction typed shp#SignOff")
    if _ids(action.get("agent")) != [agent_id] or agent is None:
        found.append(f"its agent is not {agent_id}")
    if not mentioned:
        found.append("not named in the root's mentions")
    status = action.get("actionStatus")
    decision = _DECISION_OF.get(status) if isinstance(status, str) else None
    if decision is None:
        found.append("its actionStatus is neither Completed (approved) nor Failed (rejected)")
    public_raw = _base64(action.get(terms["signOffPublicKey"]), _PUBLIC_KEY_BYTES)
    signature = _base64(action.get(terms["signOffSignature"]), _SIGNATURE_BYTES)
    public_key = Ed25519PublicKey.from_public_bytes(public_raw) if public_raw is not None else None
    signer = key_id(public_key) if public_key is not None else None
    if public_key is None or signature is None:
        found.append("has no readable signature (a sign-off must be made with `repropack sign-off`)")
    elif action.get(terms["signOffKeyId"]) != signer:
        found.append(f"its key id is not that of its public key, {signer}")
    if action.get(terms["signedRecordPayload"]) != payload_sha256:
        found.append("it was signed for another record (it binds to a different signed payload)")
    if public_key is not None and signature is not None:
        try:
            public_key.verify(signature, _signed_bytes(action, agent or {}, terms))
        except (InvalidSignature, ValueError):  # ValueError: a value canonical JSON cannot write
            found.append("its signature does not match (the sign-off was altered after it was signed)")
    agent = agent or {}
    by, role = _text(agent.get("name")), _text(agent.get("roleName"))
    shown_by = f" by {by!r}" if by else ""
    problems = tuple(f"sign-off {ident}{shown_by}: {problem}" for problem in found)
    return SignOff(ident, by, role, decision, _text(action.get("endTime")), signer, not problems, problems)


def _signed_bytes(action: Mapping[str, Any], agent: Mapping[str, Any], terms: Mapping[str, str]) -> bytes:
    unsigned = {key: value for key, value in action.items() if key != terms["signOffSignature"]}
    return canonical_json({"signed": SIGNED_CONTENT, "sign_off": unsigned, "agent": agent})


def _term_keys(metadata: object) -> dict[str, str]:
    """Each sign-off term as the record's ``@context`` lets it be written: the bare term where the context
    defines it, else ``repropack:TERM`` (a record written before the terms existed; the prefix is as old as
    repropack's context). The context is covered by the record's signature, so it cannot be swapped."""
    context = metadata.get("@context") if isinstance(metadata, dict) else None
    defined: set[str] = set()
    for part in _as_list(context):
        if isinstance(part, dict):
            defined.update(part)
    return {term: term if term in defined else f"repropack:{term}" for term in _TERMS}


def _is_disclosure_check(entity: Mapping[str, Any]) -> bool:
    return "AssessAction" in _as_list(entity.get("@type")) and DISCLOSURE_CHECK_TYPE in _ids(
        entity.get("additionalType")
    )


def _mentioned(graph: list[Any]) -> set[str]:
    names: set[str] = set()
    for entity in graph:
        if isinstance(entity, dict) and entity.get("@id") == "./":
            names.update(i for i in _ids(entity.get("mentions")) if i.startswith(SIGN_OFF_PREFIX))
    return names


def _one_line(value: str, option: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise BadInput(f"{option}: give {what}; it is empty")
    if _CONTROL.search(text):
        raise BadInput(f"{option}: {what} must be one line without control characters")
    return text


def _id_of(entity: object) -> object:
    return entity.get("@id") if isinstance(entity, dict) else entity


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ids(value: object) -> list[str]:
    return [
        v if isinstance(v, str) else v["@id"]
        for v in _as_list(value)
        if isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("@id"), str))
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _base64(value: object, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except binascii.Error:
        return None
    return raw if raw is not None and len(raw) == size else None
