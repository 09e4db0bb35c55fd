"""Re-judging a replay: its kept outputs compared with the recorded ones again, under other rules.

A reviewer who reads a verdict may find a rule too strict (a tolerance for a
figure, a mask for a timestamp). ``rejudge`` re-applies comparison rules to the
outputs the signed record keeps, without re-running anything, and says what
the verdict would be. The old record is never rewritten; ``write_rejudgement``
writes a new signed record that states which record it re-judges.

The rules are, first match wins: the ``--compare`` flags given now, then those
the replay was given, then the package's declared ``[compare]`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from repropack.compare.compare import choose_rule, compare_outputs, parse_rule_flag, rules_from_config
from repropack.compare.context import Window, run_windows
from repropack.config import ReplaySettings, default_operator
from repropack.errors import BadInput
from repropack.model import OutputComparison, OutputStatus, ReplayResult, Verdict
from repropack.model.results import RECORD_REPLAYED_DIR
from repropack.record.governed_run import write_governed_run
from repropack.record.keys import signing_key
from repropack.record.opened import open_record, recorded_file, replayed_package, result_of
from repropack.replay.nondeterminism import explain_differences, nondeterministic_cause
from repropack.replay.pipeline import _figure_pairs, _rules_applied
from repropack.replay.verdict import verdict_of


@dataclass(frozen=True)
class Rejudgement:
    """The old verdict and the new one, and the outputs whose judgement changed."""

    old: ReplayResult
    new: ReplayResult  # ``record`` None until written; ``rejudged_from`` names the old record
    changed: tuple[tuple[OutputComparison, OutputComparison], ...]  # (before, after) per output that changed
    record: Path  # the record re-judged
    replayed: Path  # its folder of kept outputs


def rejudge(
    record: Path, compare: Sequence[str], *, package: Path | None = None, public_key: Path | None = None
) -> Rejudgement:
    """Compare the outputs ``record`` keeps with the recorded ones under ``compare`` (``GLOB=RULE[:k=v,...]``).

    BadInput when no rule is given, a flag is malformed, the record does not
    verify (with ``public_key`` when given), the package (at ``package`` when
    moved) is not the one it replayed, or the replay failed (nothing was compared).
    """
    if not compare:
        raise BadInput("rejudge: give at least one --compare GLOB=RULE[:key=value,...]")
    new_flags = [parse_rule_flag(flag) for flag in compare]  # malformed flags fail before anything is read
    opened_record = open_record(record, public_key)
    old = result_of(opened_record)
    if old.verdict is Verdict.FAILED:
        raise BadInput(
            f"{record}: the replay failed ({old.cause}); no output was compared, so there is nothing to re-judge"
        )
    replayed_root = record / RECORD_REPLAYED_DIR
    old_flags = [parse_rule_flag(flag) for flag in (old.settings.get("compare") or {}).get("value") or ()]
    with replayed_package(opened_record, package) as opened:
        pkg = opened.package
        merged: dict = {}
        for glob, entry in [*new_flags, *old_flags, *dict(pkg.setting("compare") or {}).items()]:
            merged.setdefault(glob, entry)  # the first declaration of a glob wins, and keeps its place
        choices = rules_from_config(merged)
        recorded = pkg.recorded_outputs()
        # Clock readings are recognised as at replay: the kept notebooks carry their cell timestamps.
        windows = run_windows(pkg.runs, replayed_root, Window(old.started, old.ended))
        outputs: list[OutputComparison] = []
        for before in old.outputs:
            if not _comparable(before, old.replayed, recorded):
                outputs.append(before)  # missing, unexpected, a planted symlink, or no kept copy: as judged
                continue
            recorded_file(opened, before.path)  # BadInput when the package's bytes are not the recorded ones
            (after,) = compare_outputs(
                opened.root, replayed_root, {before.path: recorded[before.path]}, [before.path], choices, windows
            )
            outputs.append(after)
        outputs = explain_differences(
            outputs, pkg, opened.root, replayed_root, lambda p: choose_rule(p, choices), windows
        )
        cause = nondeterministic_cause(outputs, pkg, opened.root)
        figures = _figure_pairs(opened.root, replayed_root, outputs)
    flags = list(compare)
    new = replace(
        old,
        verdict=verdict_of(cause, outputs),
        cause=cause,
        outputs=tuple(outputs),
        rules=_rules_applied(choices, outputs),
        figures=figures,
        record=None,
        rejudged_from={
            "record": str(record),
            "key_id": opened_record.key_id,
            "signature_sha256": opened_record.signature_sha256,
            "verdict": old.verdict.value,
            "compare": flags,
            "rejudged": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        },
    )
    changed = tuple(
        (before, after)
        for before, after in zip(old.outputs, outputs)
        if (before.status, before.rule, before.detail) != (after.status, after.rule, after.detail)
    )
    return Rejudgement(old, new, changed, record, replayed_root)


def _comparable(output: OutputComparison, kept: Sequence[str], recorded: dict[str, str]) -> bool:
    return (
        output.status not in (OutputStatus.MISSING, OutputStatus.UNEXPECTED)
        and output.rule != "symlink"
        and output.path in kept
        and output.path in recorded
    )


def write_rejudgement(rejudgement: Rejudgement, destination: Path, settings: ReplaySettings) -> ReplayResult:
    """Write the re-judgement as a new signed record at ``destination``, keeping the same replayed outputs.

    Signed and attributed as a replay's record is: ``settings`` gives the key,
    the operator and the RO-Crate version (their defaults when unset).
    """
    result = replace(rejudgement.new, record=destination)
    write_governed_run(
        result,
        destination,
        operator=settings.operator or default_operator(),
        key=signing_key(settings.key),
        crate_version=settings.crate_version,
        replayed=rejudgement.replayed,
    )
    return result
