"""The replay pipeline: open & integrity -> build -> execute in a sandbox ->
compare -> verdict -> governed-run record (signed) and report.

Reads top to bottom as the pipeline runs. A bad or tampered package stops at
integrity (BadInput, exit 2) before anything is built or run; everything after
the integrity check is recorded, whatever the verdict.
"""

from __future__ import annotations

import base64
import errno
import getpass
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from repropack.compare.compare import RuleChoice, choose_rule, compare_outputs, parse_rule_flag, rules_from_config
from repropack.compare.context import Window, run_windows
from repropack.config import DEFAULT_BASE_IMAGE, ReplaySettings, default_operator, size_in_bytes
from repropack.crate.check import check_files
from repropack.crate.reader import OpenedPackage, open_package
from repropack.environment.build_inputs import build_inputs
from repropack.environment.pipindex import configured_index
from repropack.errors import BadInput, BuildFailed, CannotRun
from repropack.fs import tree
from repropack.fs.sized import size_limited_folder
from repropack.fs.stale import owned_temp_dir, remove_stale_temp_dirs
from repropack.fs.walk import remove_special_files, remove_symlinks
from repropack.model import (
    CauseKind,
    FailureCause,
    FileRole,
    OutputComparison,
    OutputStatus,
    Package,
    ReplayedPackage,
    ReplayResult,
    RunStatus,
    layout,
)
from repropack.model.lock import pinned_versions
from repropack.progress import Progress, SilentProgress
from repropack.record.governed_run import default_record_path, write_governed_run
from repropack.record.keys import signing_key
from repropack.replay.disclosure_gate import gate_replay, replay_rules
from repropack.replay.executed import new_errors
from repropack.replay.keep_work import keep_work_dir
from repropack.replay.kept import keep_outputs
from repropack.replay.limits import ReplayLimits, cell_timeout, derive_limits, out_of_disk, out_of_disk_at_start
from repropack.replay.nondeterminism import explain_differences, nondeterministic_cause
from repropack.replay.parameters import WhatIf, check_parameters, inject_what_if
from repropack.replay.private_inputs import decrypt_private_inputs
from repropack.replay.redact import redact_replay, supplied_plaintext
from repropack.replay.refusals import refuse_record_as_package, refuse_taken_destinations
from repropack.replay.verdict import classify_run, environment_drift, unreported_error_cause, verdict_of
from repropack.replay.workdir import (
    changed_in_place,
    flag_special_files,
    flag_symlinks,
    prepare_work_dir,
    python_path,
    supplied_inputs,
)
from repropack.sandbox import BACKENDS, Backend, RunPlan
from repropack.sandbox.base import BuildRequest
from repropack.sandbox.bases import BaseChoice, choose_base_image
from repropack.sandbox.probe import ProbeFailed


def replay_package(
    source: Path,
    settings: ReplaySettings | None = None,
    progress: Progress | None = None,
    *,
    sources: Mapping[str, str] | None = None,
) -> ReplayResult:
    """Replay the package at ``source`` and write its signed governed-run record.

    ``settings`` defaults to ``ReplaySettings()``; ``sources`` says where each
    setting came from (``config.resolve_replay_settings``) and goes into the
    record. Returns the result with ``record`` set to the record's folder.
    Raises BadInput for a bad or tampered package (nothing is written).
    """
    settings = settings or ReplaySettings()
    progress = progress or SilentProgress()
    refuse_taken_destinations(settings.record, settings.report)  # before minutes of work, not after
    refuse_record_as_package(source)  # a record's metadata is no package's: say what it is before reading it as one
    # The replayed outputs the record keeps wait here between the work dir's deletion and the record.
    with owned_temp_dir("repropack-replayed-") as replayed:
        with open_package(source, settings.opening) as opened:
            progress.stage("Checking the package's integrity")
            # Limits the user did not give come from what the recorded run used (replay/limits.py).
            chosen = derive_limits(settings.limits, opened.package.runs, opened.package.files)
            per_cell = cell_timeout(settings.timeout, opened.package.setting("timeout"))
            settings = replace(settings, limits=chosen.limits, timeout=per_cell.seconds)
            derived = {**chosen.sources, **({"timeout": per_cell.source} if per_cell.source else {})}
            decrypted: dict[str, bytes] = {}  # filled by _replay_opened: the redaction below seeks them too
            result = _replay_opened(opened, settings, progress, Path(replayed), chosen, per_cell.note, decrypted)
            # Before anything is written or shown: no restricted line or value the sandbox quoted (replay/redact.py).
            plaintext = supplied_plaintext(opened.package.restricted(), settings.inputs, settings.inputs_dir, decrypted)
            result = redact_replay(result, plaintext, Path(replayed))
        result = replace(result, settings=settings.recorded({**(sources or {}), **derived}))
        return _record(result, settings, Path(replayed))


@dataclass
class _Clock:
    """Wall-clock seconds per stage, in the order the stages ran."""

    timings: dict[str, float] = field(default_factory=dict)
    _since: float = field(default_factory=time.monotonic)

    def lap(self, stage: str) -> None:
        """``stage`` ran from the last lap (or restart) until now."""
        now = time.monotonic()
        self.timings[stage] = now - self._since
        self._since = now

    def restart(self) -> None:
        """Time from now on; what ran since the last lap is not counted."""
        self._since = time.monotonic()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _replay_opened(
    opened: OpenedPackage,
    settings: ReplaySettings,
    progress: Progress,
    replayed: Path,
    chosen: ReplayLimits | None = None,
    cell_timeout_note: str = "",
    decrypted: dict[str, bytes] | None = None,
) -> ReplayResult:
    """The replay of ``opened``; ``decrypted``, when given, receives the inputs decrypted for the run."""
    started, clock = _now(), _Clock()
    _verify_integrity(opened)
    package = opened.package
    # The recorded parameters are those the packaged notebooks inject; a what-if's (replay -p) replace them.
    what_if = check_parameters(
        opened.root, opened.source, package.runs, settings.parameters, package.setting("parameters")
    )
    plan = _run_plan(opened, package, settings.timeout)
    choices = _rule_choices(package.setting("compare") or {}, settings.compare)
    disclosure_rules = replay_rules(package, settings.disclosure, opened.source.name, opened.root)  # None: no check
    # Inputs the package carries encrypted and the reviewer did not supply: decrypted now, in memory only.
    private = decrypt_private_inputs(
        opened.root, package.restricted(), settings.inputs, settings.inputs_dir, settings.identity
    )
    restricted, missing = supplied_inputs(private.as_files, settings.inputs, settings.inputs_dir)
    missing = sorted([*missing, *private.missing])
    plan = replace(plan, private_inputs=private.plaintext)
    if decrypted is not None:
        decrypted.update(private.plaintext)
    if settings.offline and not (opened.root / layout.WHEELHOUSE).is_dir():
        raise BadInput(f"{opened.source}: --offline needs a package exported with --wheelhouse; this one has no wheels")
    clock.lap("integrity")

    backend = BACKENDS.get(settings.backend)()
    backend.refuse_private_inputs(sorted(plan.private_inputs))  # before minutes of building, not after
    backend.remove_stale()  # what replays killed outright left running, then the folders they left (fs/stale.py)
    remove_stale_temp_dirs()
    early = _EarlyFailure(opened, backend, settings, started, clock, what_if)
    if missing:
        return early.result(FailureCause(CauseKind.MISSING_INPUT, "; ".join(missing)))

    progress.stage("Building the environment")
    base = _base_image(settings, package, backend)
    early.base = base
    inputs = build_inputs(opened)  # only what repropack renders from the package's facts is built
    request = BuildRequest(
        package_root=opened.root,
        environment_hash=inputs.environment_hash,
        base_image=base.image if base else settings.base_image or package.setting("base_image") or DEFAULT_BASE_IMAGE,
        inputs=inputs,
        offline=settings.offline,
        ca_bundle=settings.ca_bundle,
        index=configured_index(),  # the reviewer's index, never one the package names
        build_timeout=settings.build_timeout,
        on_log=progress.detail,
    )
    try:
        env = backend.prepare(request)
    except BuildFailed as exc:
        clock.lap("build")
        return early.result(FailureCause(CauseKind.BUILD_FAILED, str(exc).removeprefix("build failed: ")))
    clock.lap("build")
    try:  # what the environment is comes from repropack's probe, never from the notebooks' run
        facts = backend.probe(env, settings.limits)
    except ProbeFailed as exc:
        clock.lap("probe")
        return early.result(FailureCause(CauseKind.BUILD_FAILED, f"the environment probe failed: {exc}"))
    clock.lap("probe")

    disk_limit = chosen.disk_bytes if chosen else ReplayLimits(settings.limits).disk_bytes
    with owned_temp_dir("repropack-work-") as tmp, size_limited_folder(tmp / "work", disk_limit) as disk:
        work = disk.path
        try:
            prepare_work_dir(opened.root, package, restricted, work)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return early.result(out_of_disk_at_start(chosen.disk_note if chosen else settings.limits.disk or ""))
        inject_what_if(work, what_if)
        before = tree.snapshot(work)
        progress.stage(f"Running {len(plan.notebooks)} notebook(s) in the sandbox")
        ran_from = datetime.now(timezone.utc)  # with the end, the replay's window for clock readings in outputs
        run = backend.run(env, work, plan, settings.limits, settings.keep)
        ran = Window(ran_from, datetime.now(timezone.utc))
        clock.timings["execute"] = run.seconds  # as the backend measured it, without start-up
        planted = _remove_planted(work, remove_symlinks)
        specials = _remove_planted(work, remove_special_files)  # a FIFO would hang whoever opens it
        produced = tree.changed_between(before, tree.snapshot(work))
        # A file the run changes in place is in the work dir from the start: compared even when left as it was.
        produced |= {path for path in changed_in_place(package) if path not in planted and (work / path).is_file()}
        cause = classify_run(
            run.report,
            timed_out=run.timed_out,
            out_of_memory=run.out_of_memory,
            exit_code=run.exit_code,
            log_tail=run.log_tail,
            inputs=(*(f.path for f in package.files if f.role is FileRole.INPUT), *restricted, *plan.private_inputs),
            memory_note=chosen.memory_note if chosen else "",
            timeout_note=chosen.timeout_note if chosen else "",
            cell_timeout_note=cell_timeout_note,
            report_problem=run.report_problem,
            planned=[path for path, _ in plan.notebooks],
        )
        if cause is None:  # the report can only make the verdict worse: the executed notebooks are read too
            cause = unreported_error_cause(new_errors(work, opened.root, plan.notebooks))
        cause = out_of_disk(cause, disk.is_full(), chosen.disk_note if chosen else "")
        drift = environment_drift(
            package.environment.python_version or None,
            pinned_versions(package.environment.lock),
            facts.as_mapping() if facts else None,
        )
        # What may leave is decided before comparing: a package exported with suppress is masked here as at export.
        candidates = set(produced).intersection(package.recorded_outputs()).difference(planted)
        disclosure = gate_replay(disclosure_rules, package, work, candidates)
        outputs: list[OutputComparison] = []
        figures: dict[str, tuple[str, str]] = {}
        clock.restart()
        if cause is None:
            progress.stage("Comparing outputs")
            windows = run_windows(package.runs, work, ran)
            compared = compare_outputs(opened.root, work, package.recorded_outputs(), produced, choices, windows)
            compared = explain_differences(
                compared, package, opened.root, work, lambda p: choose_rule(p, choices), windows
            )
            outputs = flag_special_files(flag_symlinks(compared, planted), specials)
            cause = nondeterministic_cause(outputs, package, opened.root)  # None unless randomness explains all
            figures = _figure_pairs(opened.root, work, outputs)
        outputs, figures = disclosure.withhold(outputs, figures)
        clock.lap("compare")
        replayed_outputs = keep_outputs(
            work,
            candidates.difference(disclosure.withheld),
            replayed,
            never={record.path for record in package.files if record.restricted or record.role is FileRole.INPUT},
        )
        if settings.keep:
            kept = keep_work_dir(
                work,
                restricted={*restricted, *(record.path for record in package.restricted())},
                keep_restricted=settings.keep_restricted,
                private=set(plan.private_inputs),
                removed={**{path: f"a symbolic link to {target!r}" for path, target in planted.items()}, **specials},
                limit=size_in_bytes(settings.limits.disk) if settings.limits.disk else None,
            )
            progress.detail(f"work dir kept at {kept.work}")
    return ReplayResult(
        package=early.identity,
        verdict=verdict_of(cause, outputs),
        cause=cause,
        outputs=tuple(outputs),
        rules=_rules_applied(choices, outputs),
        drift=(*inputs.drift, *drift.warnings),
        drift_info=drift.info,
        backend=early.backend_info,
        isolation=backend.isolation,
        image=env.name,
        image_id=env.reference,
        image_reused=env.reused,
        limits={
            **settings.limits.describe(),
            "disk_enforcement": disk.enforcement,
            "environment": dict(plan.environment),
        },
        started=started,
        ended=_now(),
        timings=clock.timings,
        agent=getpass.getuser(),
        host=socket.gethostname(),
        log_tail=run.log_tail,
        figures=figures,
        notebooks=tuple(path for path, _ in plan.notebooks),
        base_image=base.image if base else None,
        base_image_reason=base.reason if base else "",
        base_image_id=env.base_image_id,
        recorded_errors=early.recorded_errors,
        replayed=replayed_outputs.files,
        not_kept=(*replayed_outputs.not_kept, *disclosure.not_kept),
        disclosure=disclosure.report,
        what_if=what_if.changes,
    )


def _record(result: ReplayResult, settings: ReplaySettings, replayed: Path) -> ReplayResult:
    """Write the signed record (always) with the replayed outputs kept in ``replayed``, and copy its
    report where asked; the result names the record."""
    destination = settings.record or default_record_path(result.package.source, result.started)
    result = replace(result, record=destination)
    write_governed_run(
        result,
        destination,
        operator=settings.operator or default_operator(),
        key=signing_key(settings.key),
        crate_version=settings.crate_version,
        replayed=replayed,
    )
    if settings.report is not None:
        shutil.copyfile(destination / "report.html", settings.report)
    return result


# --- stages ------------------------------------------------------------------------------------


def _base_image(settings: ReplaySettings, package: Package, backend: Backend) -> BaseChoice | None:
    """The base image to build on, for a backend that builds on one: the recorded Python's when it is here."""
    if not backend.uses_base_image:
        return None
    recorded = package.settings.get("base_image")
    return choose_base_image(
        chosen=settings.base_image,
        recorded=package.setting("base_image"),
        recorded_chosen=isinstance(recorded, Mapping) and recorded.get("source") not in (None, "default"),
        recorded_python=package.environment.python_version or None,
        present=backend.has_base_image,
    )


def _verify_integrity(opened: OpenedPackage) -> None:
    problems, _ = check_files(opened)
    if problems:
        raise BadInput(f"{opened.source}: package failed its integrity check: {problems[0].message}")


def _run_plan(opened: OpenedPackage, package: Package, timeout: int | None) -> RunPlan:
    """The notebooks in recorded order (every notebook, sorted, for a package that recorded no run), each cell
    given ``timeout`` seconds (None: the package's recorded per-cell timeout)."""
    if package.runs:
        notebooks = tuple((r.notebook, r.status is RunStatus.FAILED) for r in package.runs)
    else:
        notebooks = tuple((f.path, False) for f in package.notebooks())
    if not notebooks:
        raise BadInput(f"{opened.source}: the package has no notebook to replay")
    return RunPlan(
        notebooks,
        timeout or cell_timeout(None, package.setting("timeout")).seconds,
        python_path=python_path(opened.root, package),
        environment=dict(package.environment_variables),
    )


def _remove_planted(work: Path, remove: Callable[[Path], dict[str, str]]) -> dict[str, str]:
    """What ``remove`` removed unread from the work dir: every symlink the sandbox left (path -> target),
    or every FIFO, socket and device (path -> what it was).

    A folder the host cannot list could hide one, so it stops the replay rather than being skipped.
    """
    try:
        return remove(work)
    except OSError as exc:
        where = Path(exc.filename or work)
        shown = where.relative_to(work).as_posix() if where.is_relative_to(work) else str(where)
        raise CannotRun(
            f"the sandbox left {shown} unreadable to the host ({exc.strerror}); nothing was compared"
        ) from None


def _rule_choices(declared: Mapping[str, Any], flags: Sequence[str]) -> list[RuleChoice]:
    overrides = dict(parse_rule_flag(flag) for flag in flags)
    # Flags come first so that they win over the researcher's declared rules.
    merged = {**overrides, **{k: v for k, v in dict(declared).items() if k not in overrides}}
    return rules_from_config(merged)


def _rules_applied(choices: Sequence[RuleChoice], outputs: Sequence[OutputComparison]) -> dict[str, Any]:
    return {
        "declared": {c.glob: {"rule": c.rule.name, **c.rule.options()} for c in choices},
        "applied": {o.path: choose_rule(o.path, choices).name for o in outputs if o.rule != "sha256"},
    }


class _EarlyFailure:
    """The result of a replay that stopped before the sandbox ran (missing input, build failure)."""

    def __init__(
        self,
        opened: OpenedPackage,
        backend: Backend,
        settings: ReplaySettings,
        started: datetime,
        clock: _Clock,
        what_if: WhatIf,
    ) -> None:
        self.identity = ReplayedPackage(opened.source, opened.package.metadata.title, opened.metadata_sha256)
        self.recorded_errors = {run.notebook: run.errors for run in opened.package.runs if run.errors}
        self.base: BaseChoice | None = None  # set once chosen: a build failure names it
        self.backend_info = backend.describe()
        self._isolation = backend.isolation
        self._limits = settings.limits.describe()
        self._started = started
        self._clock = clock
        self._what_if = what_if.changes

    def result(self, cause: FailureCause) -> ReplayResult:
        return ReplayResult(
            package=self.identity,
            verdict=verdict_of(cause, ()),
            cause=cause,
            outputs=(),
            rules={},
            drift=(),
            backend=self.backend_info,
            isolation=self._isolation,
            image=None,
            image_id=None,
            image_reused=False,
            limits=self._limits,
            started=self._started,
            ended=_now(),
            timings=self._clock.timings,
            agent=getpass.getuser(),
            host=socket.gethostname(),
            base_image=self.base.image if self.base else None,
            base_image_reason=self.base.reason if self.base else "",
            recorded_errors=self.recorded_errors,
            what_if=self._what_if,
        )


_FIGURE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
_FIGURE_LIMIT = 4 * 2**20  # bytes per image embedded in the report


def _figure_pairs(
    recorded_root: Path, produced_root: Path, outputs: Sequence[OutputComparison]
) -> dict[str, tuple[str, str]]:
    """Recorded and replayed versions of each figure that is not identical, as data URIs."""
    pairs = {}
    for o in outputs:
        kind = _FIGURE_TYPES.get(Path(o.path).suffix.lower())
        if kind is None or o.status not in (OutputStatus.DIFFERENT, OutputStatus.EQUIVALENT):
            continue
        sides = [recorded_root / o.path, produced_root / o.path]
        if all(p.is_file() and not p.is_symlink() and p.stat().st_size <= _FIGURE_LIMIT for p in sides):
            recorded, replayed = (f"data:{kind};base64,{base64.b64encode(p.read_bytes()).decode()}" for p in sides)
            pairs[o.path] = (recorded, replayed)
    return pairs
