"""The export pipeline: project -> capture -> describe -> pack.

Reads top to bottom as the pipeline runs. Every step that can refuse (bad
project, secret, collision) runs before anything is written; the package
itself is written atomically by ``crate.writer``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat

from repropack import __version__
from repropack import parameters as notebook_parameters
from repropack.compare.compare import rules_from_config
from repropack.config import (
    ExecutionSettings,
    ExportSettings,
    ResolvedSettings,
    resolve_settings,
)
from repropack.crate.formats import encoding_format
from repropack.crate.writer import PackageContent, package_staging, write_package
from repropack.environment.dockerfile import environment_hash, render_dockerfile
from repropack.environment.hashes import hash_lock
from repropack.environment.localwheel import LocalWheel, wheel_from_record
from repropack.environment.pipindex import configured_index
from repropack.environment.wheelhouse import download_wheelhouse
from repropack.errors import BadInput, CannotRun, CheckFailed, RepropackError
from repropack.export import disclosure_gate, selection
from repropack.export.deadline import Deadline
from repropack.export.encrypted_inputs import encrypt_restricted, with_checked_recipients
from repropack.export.envfiles import declared_requirements, find_env_files
from repropack.export.environ import recorded_variables
from repropack.export.execute import (
    CellFailed,
    NotebookExecution,
    execute_notebook,
    kernel_display_name,
    read_notebook,
)
from repropack.export.git import git_provenance
from repropack.export.interpreter_facts import environment_reading
from repropack.export.lock import compute_lock, installed_from_report
from repropack.export.nondeterminism import RunOutputs, merge_differences, run_differences, scratch_copies
from repropack.export.order import confirm, reorder
from repropack.export.parameters import check_parameters
from repropack.export.prefetch import in_background, start_index_prefetch
from repropack.export.project_metadata import FoundMetadata, missing_metadata, project_metadata
from repropack.export.restricted_guard import refuse_restricted_leaks, restricted_index
from repropack.export.scan import scan_packed_files
from repropack.export.secrets import SecretFinding, find_secrets_in_text, find_secrets_in_written, refuse_secrets
from repropack.fs import names, tree
from repropack.fs.atomic import remove_dead_siblings
from repropack.fs.hashing import HashCache, hash_files
from repropack.fs.shown_paths import shown_path
from repropack.fs.stale import owned_temp_dir, remove_stale_temp_dirs
from repropack.model import (
    Environment,
    ExportResult,
    FileRecord,
    FileRole,
    LocalPackage,
    NondeterministicOutput,
    NotebookRun,
    Package,
    PackageMetadata,
    Person,
    RunStatus,
    layout,
)
from repropack.model.lock import is_hashed, pinned_versions, render_lock
from repropack.progress import Progress, SilentProgress

#: Distributions the replay needs to drive a kernel, locked whether imported or not.
RUNTIME_DISTRIBUTIONS = ("ipykernel", "nbclient", "nbformat")


def default_output(project: Path) -> Path:
    """``<project>.crate.zip`` in the current folder, or beside the project when run from inside it.

    Never inside the project: a package there would be one more file of the next export.
    """
    project, here = project.resolve(), Path.cwd()
    inside = here.resolve() == project or project in here.resolve().parents
    return (project.parent if inside else here) / f"{project.name}.crate.zip"


def _check_project(project: Path) -> Path:
    if not project.exists():
        raise BadInput(f"{project}: project folder does not exist")
    if not project.is_dir():
        raise BadInput(f"{project}: not a directory; give the project folder")
    return project.resolve()


def _check_output(output: Path, force: bool) -> Path:
    output = Path(shown_path(output))  # absolute, without "." or "..": the path the CLI prints
    if output.exists() and not force:
        raise BadInput(f"{output}: already exists; pass --force to overwrite it")
    if not output.parent.is_dir():
        raise BadInput(f"{output.parent}: output folder does not exist")
    return output


def _select_notebooks(project: Path, snapshot: tree.Snapshot, wanted: tuple[str, ...]) -> list[str]:
    if not wanted:
        found = tree.discover_notebooks(snapshot)
        if not found:
            raise BadInput(f"{project}: no notebooks (*.ipynb) found; pass --notebook PATH")
        return found
    chosen = []
    for given in wanted:
        candidate = (project / given).resolve()
        try:
            rel = candidate.relative_to(project).as_posix()
        except ValueError:
            raise BadInput(f"{given}: notebook is outside the project {project}") from None
        if rel not in snapshot:
            raise BadInput(f"{given}: no such notebook in the project (or it is excluded)")
        if not rel.endswith(".ipynb"):
            raise BadInput(f"{given}: not a notebook (expected a .ipynb file)")
        chosen.append(rel)
    return chosen


def _relative(project: Path, paths: frozenset[str]) -> set[str]:
    out = set()
    for p in paths:
        try:
            out.add(Path(p).relative_to(project).as_posix())
        except ValueError:
            continue
    return out


def _date_published() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    except ValueError:
        raise BadInput(f"SOURCE_DATE_EPOCH={epoch!r} is not an integer number of seconds") from None


def _package_metadata(project: Path, found: FoundMetadata) -> PackageMetadata:
    return PackageMetadata(
        title=found.title or project.name,
        description=found.description or f"Reproducibility package of the notebook project {project.name}.",
        license=found.license,
        authors=found.authors,
        publisher=found.publisher,
        date_published=_date_published(),
        keywords=found.keywords,
        version=found.version,
        doi=found.doi,
    )


def _describe_environment(
    project: Path, executions: list[NotebookExecution], base_image: str
) -> tuple[Environment, str]:
    first = executions[0].observation
    env_files = find_env_files(project)
    installed = installed_from_report(first.distributions)
    imported = set().union(*(e.observation.imported_modules for e in executions))
    lock, unresolved = compute_lock(
        installed,
        declared=declared_requirements(project, env_files),
        imported_modules=sorted(imported),
        runtime=RUNTIME_DISTRIBUTIONS,
        marker_environment=first.marker_environment,
    )
    interpreter = first.interpreter
    # Artifact hashes from the researcher's index, so a replay installs these bytes (--require-hashes).
    hashed = hash_lock(lock, configured_index(interpreter["executable"]))
    lock = hashed.lock
    environment = Environment(
        python_version=interpreter["python_version"],
        implementation=interpreter["implementation"],
        platform=interpreter["platform"],
        machine=interpreter["machine"],
        lock=lock,
        env_files=tuple(env_files),
        unresolved=unresolved,
        base_image=base_image,
    )
    header = (
        f"Pinned by repropack {__version__} from the kernel's interpreter "
        f"({environment.implementation} {environment.python_version}).\n"
        "declared: named by an environment file; imported: used by a notebook; "
        "dependency: required by another line; runtime: needed to run a kernel."
        + (f"\n{hashed.note}." if hashed.note else "")
    )
    return environment, render_lock(lock, header=header)


def _run_record(
    execution: NotebookExecution | None, notebook: str, kernel: str, display: str, inputs, outputs
) -> NotebookRun:
    if execution is None:
        return NotebookRun(notebook, kernel, display, RunStatus.NOT_EXECUTED)
    return NotebookRun(
        notebook=notebook,
        kernel_name=execution.kernel_name,
        kernel_display_name=execution.kernel_display_name,
        status=RunStatus.FAILED if execution.errors else RunStatus.COMPLETED,
        start_time=execution.start_time,
        end_time=execution.end_time,
        inputs=tuple(sorted(inputs)),
        outputs=tuple(sorted(outputs)),
        errors=execution.errors,
        **_resources_used(execution.observation.resources),
        parameters=execution.parameters,
    )


def _environment_variables(capture: _Capture, extra: tuple[str, ...]) -> dict[str, str]:
    """The variables that change results (and those the project lists) as the first kernel started."""
    return recorded_variables(capture.executions[0].observation.environment, extra) if capture.executions else {}


def _resources_used(resources: Mapping[str, Any]) -> dict[str, Any]:
    """A run's peak memory (the kernel's, plus its largest subprocess's) and wall time, as the observer measured."""
    peaks = [resources.get(k) for k in ("peak_rss_bytes", "children_peak_rss_bytes")]
    wall = resources.get("wall_seconds")
    return {
        "peak_memory": sum(p for p in peaks if isinstance(p, int)) or None,
        "wall_seconds": float(wall) if isinstance(wall, (int, float)) else None,
    }


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class _Capture:
    """What running (or reading) the notebooks produced."""

    executions: list[NotebookExecution]
    runs: list[NotebookRun]
    snapshot: tree.Snapshot  # the project tree after the last run
    notebooks: dict[str, bytes]  # package path -> notebook bytes as packed
    empty_folders: list[str]  # folders that existed before the run with no packed file in them
    nondeterministic: tuple[NondeterministicOutput, ...] = ()  # what differed in later runs (--runs)
    order_notes: tuple[str, ...] = ()  # a notebook read a file before its writer ran: the runs were redone
    order_basis: str = "names"  # what decided the recorded order: "names", "given" (--notebook) or "data"


@dataclass(frozen=True)
class _Pass:
    """One run of every notebook in an order: what ran, and each notebook's consumed and written files."""

    executions: list[NotebookExecution]
    runs: list[NotebookRun]
    snapshot: tree.Snapshot
    reads: dict[str, set[str]]  # notebook -> project files it read before writing them (Observation.consumed)
    writes: dict[str, set[str]]  # notebook -> project files it wrote
    failures: list[CellFailed]  # cells that raised on a missing input while a later notebook might write it


def _run_pass(
    project: Path,
    order: list[str],
    s: ExecutionSettings,
    ignore: list[Path],
    progress: Progress,
    current: tree.Snapshot,
    keep_going: bool,
    deadline: Deadline | None = None,
) -> _Pass:
    """Run ``order``; with ``keep_going`` a cell that fails on a missing project file lets later notebooks run."""
    display = kernel_display_name(s.kernel)
    executions: list[NotebookExecution] = []
    runs: list[NotebookRun] = []
    reads: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    failures: list[CellFailed] = []
    for nb in order:
        progress.stage(f"Executing {nb}")
        try:
            execution = execute_notebook(
                project,
                nb,
                kernel=s.kernel,
                timeout=s.timeout,
                allow_errors=s.allow_errors,
                on_cell=lambda done, total, nb=nb: progress.cells(nb, done, total),
                parameters=notebook_parameters.for_notebook(s.parameters, nb),
                deadline=deadline,
            )
        except CellFailed as failed:
            missing = _relative(project, failed.observation.consumed) - current.keys()
            if not keep_going or not (missing or failures):
                raise  # no later notebook can explain it: fail fast, as a single run would
            failures.append(failed)
            after = tree.snapshot(project, exclude=s.exclude, ignore=ignore)
            reads[nb] = _relative(project, failed.observation.consumed) - {nb}
            writes[nb] = (tree.changed_between(current, after) | _relative(project, failed.observation.writes)) - {nb}
            current = after
            continue
        after = tree.snapshot(project, exclude=s.exclude, ignore=ignore)
        obs = execution.observation
        # The snapshot catches writes the audit hook cannot see (subprocesses, C code).
        outputs = (tree.changed_between(current, after) | _relative(project, obs.writes)) & after.keys()
        inputs = _relative(project, obs.reads) & current.keys()
        runs.append(_run_record(execution, nb, s.kernel, display, inputs - {nb}, outputs - {nb}))
        executions.append(execution)
        reads[nb] = _relative(project, obs.consumed) - {nb}
        writes[nb] = (outputs | _relative(project, obs.writes)) - {nb}
        current = after
    return _Pass(executions, runs, current, reads, writes, failures)


def _capture(
    project: Path,
    notebooks: list[str],
    s: ExecutionSettings,
    ignore: list[Path],
    progress: Progress,
    given: bool = False,
    start: tuple[tree.Snapshot, list[str]] | None = None,
) -> _Capture:
    """Run the notebooks, in the order their files need (``export.order``): ``given`` when --notebook named it.

    ``start`` is the project's snapshot and empty folders when the caller has just taken them (a second walk of a
    large project costs a noticeable share of a ``--no-execute`` export); otherwise they are taken here.
    """
    display = kernel_display_name(s.kernel)
    if start is None:
        start = tree.snapshot_with_empty_folders(project, exclude=s.exclude, ignore=ignore)
    current, empty = start
    if not s.execute:
        progress.stage("Reading the kernel's environment")
        # The interpreter is asked directly (and its answer cached) when the kernelspec allows; else a kernel starts.
        probe = environment_reading(project, notebooks[0], kernel=s.kernel) or execute_notebook(
            project, notebooks[0], kernel=s.kernel, timeout=s.timeout, allow_errors=True, execute_cells=False
        )
        runs = [_run_record(None, nb, s.kernel, display, (), ()) for nb in notebooks]
        return _Capture([probe], runs, current, {nb: (project / nb).read_bytes() for nb in notebooks}, empty)
    deadline = Deadline(s.total_timeout)  # --total-timeout counts every pass
    done = _run_pass(project, notebooks, s, ignore, progress, current, len(notebooks) > 1, deadline)
    order, order_notes = reorder(notebooks, given, done.reads, done.writes)
    if order is None and done.failures:
        raise done.failures[0]
    if order is not None:
        progress.stage("Running the notebooks again, in the order their files need")
        done = _run_pass(project, order, s, ignore, progress, done.snapshot, keep_going=False, deadline=deadline)
        confirm(order, done.reads, done.writes)
    packed = {e.path: nbformat.writes(e.notebook).encode("utf-8") + b"\n" for e in done.executions}
    basis = "data" if order is not None else ("given" if given else "names")
    return _Capture(
        done.executions, done.runs, done.snapshot, packed, empty, order_notes=order_notes, order_basis=basis
    )


def _later_runs(
    project: Path, capture: _Capture, copies: list[Path], notebooks: list[str], s: ExportSettings, progress: Progress
) -> _Capture:
    """``capture`` with what differed in each later run (``runs``), each in a scratch copy of the project."""
    if not copies:
        return capture
    choices = rules_from_config(s.compare)

    def outputs(c: _Capture, root: Path) -> RunOutputs:
        return RunOutputs(root, c.notebooks, tuple(c.runs))

    first, found = outputs(capture, project), []
    for number, copy in enumerate(copies, start=2):
        progress.stage(f"Run {number} of {s.runs}, in a scratch copy of the project")
        try:
            again = _capture(copy, [r.notebook for r in capture.runs], s.execution, [], progress)  # its order
        except RepropackError as exc:  # same exit code, the run named
            kind = next(k for k in (BadInput, CheckFailed, CannotRun, RepropackError) if isinstance(exc, k))
            raise kind(f"run {number} of {s.runs}, in a scratch copy of the project, failed: {exc}") from None
        found.append(run_differences(first, outputs(again, copy), choices))
    return replace(capture, nondeterministic=merge_differences(found))


def _runs_compared(runs: int, nondeterministic: tuple[NondeterministicOutput, ...]) -> dict[str, Any]:
    """capture.json's record of the runs compared: nothing when the notebooks ran once."""
    if runs < 2:
        return {}
    entries = [{"path": n.path, "cells": list(n.cells), "detail": n.detail} for n in nondeterministic]
    return {"nondeterministic": {"runs": runs, "outputs": entries}}


def _refuse_secrets(found: list[SecretFinding], notebooks: dict[str, bytes], allowed: tuple[str, ...]) -> None:
    findings = list(found)
    for path, data in notebooks.items():  # executed notebooks: tokens printed in outputs
        findings.extend(find_secrets_in_text(path, data.decode("utf-8", errors="replace")))
    refuse_secrets(findings, allowed=allowed)


def _role_of(capture: _Capture):
    outputs = {p for r in capture.runs for p in r.outputs}
    inputs = {p for r in capture.runs for p in r.inputs}

    def role(path: str) -> FileRole:
        if path in capture.notebooks:
            return FileRole.NOTEBOOK
        if path in outputs:
            return FileRole.OUTPUT
        if path in inputs:
            return FileRole.INPUT
        return FileRole.OTHER

    return role


def _support_files(
    project: Path,
    capture: _Capture,
    environment: Environment,
    resolved: ResolvedSettings,
    dockerfile: str,
    lock_text: str,
    local_packages: tuple[LocalPackage, ...],
) -> dict[str, bytes]:
    """repropack's own files under the reserved folder, by package path: the recorded settings among them."""
    s = resolved.values.execution
    support: dict[str, bytes] = {
        layout.DOCKERFILE: dockerfile.encode("utf-8"),
        layout.LOCK: lock_text.encode("utf-8"),
        layout.CA_BUNDLE: b"",
    }
    for env_file in environment.env_files:
        support[layout.env_copy(env_file)] = (project / env_file).read_bytes()
    support[layout.SETTINGS] = _json_bytes(resolved.recorded())
    support[layout.CAPTURE] = _json_bytes(
        {
            "tool": f"repropack {__version__}",
            "interpreter": capture.executions[0].observation.interpreter,
            "kernel": s.kernel,
            "runs": [
                {
                    "notebook": e.path,
                    "imported_modules": sorted(e.observation.imported_modules),
                    "read": sorted(_relative(project, e.observation.reads)),
                    "written": sorted(_relative(project, e.observation.writes)),
                }
                for e in capture.executions
                if s.execute
            ],
            "unresolved_requirements": list(environment.unresolved),
            "empty_folders": capture.empty_folders,
            "local_packages": [_local_package_entry(p) for p in local_packages],
            "run_order": {"notebooks": [r.notebook for r in capture.runs], "decided_by": capture.order_basis},
            "environment_variables": _environment_variables(capture, resolved.values.env),
            **_runs_compared(resolved.values.runs, capture.nondeterministic),
        }
    )
    return support


def _local_packages(
    project: Path, capture: _Capture, environment: Environment
) -> tuple[tuple[LocalPackage, ...], dict[str, LocalWheel]]:
    """Locked distributions installed from a folder of the project, and the wheels of the non-editable ones.

    An index cannot serve them, but the package holds them: a replay puts the
    folder of an editable install (``pip install -e .``) on the path, and
    installs a copy (``pip install .``) from a wheel of its installed files.
    """
    locked = {d.name.lower() for d in environment.lock if d.local}
    found, wheels = [], {}
    for entry in capture.executions[0].observation.distributions:
        source = entry.get("source")
        if entry["name"].lower() not in locked or not source:
            continue
        try:
            relative = Path(source).resolve().relative_to(project).as_posix()
        except ValueError:
            continue  # installed from outside the project: its sources are not packed
        if entry.get("editable", True) or not entry.get("record"):
            found.append(LocalPackage(entry["name"], relative))
            continue
        wheel = wheel_from_record(Path(entry["record"]))
        path = f"{layout.LOCAL_WHEELS}/{wheel.filename}"
        wheels[path] = wheel
        found.append(LocalPackage(entry["name"], relative, editable=False, wheel=path))
    return tuple(sorted(found, key=lambda p: p.name.lower())), wheels


def _local_package_entry(package: LocalPackage) -> dict[str, Any]:
    """capture.json's line for a local package (an editable one keeps its two keys)."""
    entry: dict[str, Any] = {"name": package.name, "path": package.path}
    if not package.editable:
        entry.update(editable=False, wheel=package.wheel)
    return entry


def _warnings(capture: _Capture, environment: Environment, metadata: FoundMetadata) -> tuple[str, ...]:
    found = [
        f"{e.path} read files outside the project, which are not packed and will be missing at replay: "
        + ", ".join(sorted(e.observation.outside_reads)[:5])
        + (" ..." if len(e.observation.outside_reads) > 5 else "")
        for e in capture.executions
        if e.observation.outside_reads
    ]
    found += capture.order_notes
    found += [
        f"declared requirement {name!r} is not installed in the kernel's environment; it is not in the lock"
        for name in environment.unresolved
    ]
    found += [
        f"{run.notebook}: the recorded run has {len(run.errors)} cell error{'s' if len(run.errors) != 1 else ''} "
        f"(--allow-errors): {'; '.join(run.errors)}. A replay must reproduce them to be called reproduced"
        for run in capture.runs
        if run.errors
    ]
    if pinned_versions(environment.lock) and not is_hashed(environment.lock):
        found.append(
            "the lock carries no artifact hashes (the index could not give them; its header says why): "
            "a replay installs these versions without checking their bytes"
        )
    found += [*metadata.notes, *missing_metadata(metadata)]  # what the project's files said, and what they did not
    return tuple(found)


def export_project(
    project: Path,
    output: Path | None,
    settings: ResolvedSettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    hash_cache: HashCache | None = None,
) -> ExportResult:
    """Execute ``project``'s notebooks under observation and write its package to ``output``.

    ``settings`` is what ``config.resolve_settings`` resolved (the CLI passes
    flags, project and user config layered); a plain mapping is taken as flags
    over the project's config and the defaults. Nothing is written at
    ``output`` unless the whole export succeeds.
    """
    with ExitStack() as cleanup:  # a package staged beside ``output`` is removed unless the export commits it
        return _export_project(project, output, settings, progress, hash_cache, cleanup)


def _export_project(
    project: Path,
    output: Path | None,
    settings: ResolvedSettings | Mapping[str, Any] | None,
    progress: Progress | None,
    hash_cache: HashCache | None,
    cleanup: ExitStack,
) -> ExportResult:
    project = _check_project(project)
    if not isinstance(settings, ResolvedSettings):
        settings = resolve_settings(settings or {}, project, user={})
    found_metadata = project_metadata(project, settings)  # read before anything runs: a bad setting stops here
    resolved = replace(settings, metadata_sources=found_metadata.sources)
    resolved = with_checked_recipients(resolved, project)  # a bad age recipient stops the export before any run
    s = resolved.values
    progress = progress or SilentProgress()
    output = _check_output(output or default_output(project), s.force)
    remove_dead_siblings(output)  # staging files of exports killed outright (fs/stale.py), and their temp folders
    remove_stale_temp_dirs()
    tree.check_reserved(project)
    ignore = [output, *layout.temp_siblings(output)]

    before, empty_before = tree.snapshot_with_empty_folders(project, exclude=s.exclude, ignore=ignore)
    ignores = selection.git_ignored(project)  # left out unless a notebook reads or writes them, or settings name them
    sources = selection.visible(before, ignores, resolved)
    names.refuse_untravelled(sources)  # a name no package can carry is refused before any notebook runs
    notebooks = _select_notebooks(project, before if s.notebooks else sources, s.notebooks)
    for nb in notebooks:  # refuse an invalid notebook before running any
        read_notebook(project / nb, nb)
    start_index_prefetch(project, notebooks, s.execution.kernel, RUNTIME_DISTRIBUTIONS)  # the lock's hashes
    parameter_notes = check_parameters(project, notebooks, s)
    disclosure = disclosure_gate.declared_rules(project, resolved)  # None: nothing declared; a bad table stops here
    if s.runs > 1 and not s.execute:
        raise BadInput(f"runs = {s.runs} needs the notebooks executed; --no-execute packs their saved outputs")
    if not s.execute:  # no run will write a restricted file: a typo is refused before the kernel starts
        selection.refuse_unmatched_restrict(before, resolved)
    with scratch_copies(project, before, empty_before, s.runs - 1) as copies:  # copied before run 1 changes anything
        capture = _capture(
            project, notebooks, s.execution, ignore, progress, given=bool(s.notebooks), start=(before, empty_before)
        )  # the run that is packed
        capture = _later_runs(project, capture, copies, notebooks, s, progress)
    reads = {e.path: _relative(project, e.observation.reads) for e in capture.executions if s.execute}
    chosen = selection.choose_files(
        project, resolved, ignores, before, capture.snapshot, capture.notebooks, capture.runs, reads, ignore
    )
    names.refuse_untravelled([*chosen.payload, *capture.notebooks, *capture.empty_folders])  # and those runs wrote

    provenance = in_background(git_provenance, project)  # git runs while the files are scanned and hashed
    restricted = set(chosen.restricted)
    payload = list(chosen.payload)
    progress.stage("Checking for secrets")
    index = restricted_index(project, restricted)
    scanned = scan_packed_files(project, [p for p in payload if p not in restricted], index)  # one read, both guards
    _refuse_secrets(scanned.secrets, capture.notebooks, s.allow_secret)
    variables = "".join(f"{k}={v}\n" for k, v in _environment_variables(capture, s.env).items())
    refuse_secrets(find_secrets_in_text(layout.CAPTURE, variables), allowed=s.allow_secret)
    role = _role_of(capture)
    checked = [p for p in payload if role(p) is FileRole.OUTPUT and p not in restricted]
    gate = (
        None
        if disclosure is None
        else disclosure_gate.check_export(project, disclosure, s.suppress, checked, capture.notebooks)
    )
    masked = gate.masked if gate else {}  # --suppress: these bytes are packed, the originals never read into it
    payload = [p for p in payload if p not in masked]

    progress.hashing(sum(capture.snapshot[p].size for p in payload))
    cache = hash_cache if hash_cache is not None else HashCache.default()
    staging = cleanup.enter_context(package_staging(output, force=s.force)) if not restricted else None
    if staging is not None:  # copied while hashed: each file read once (not with restricted inputs: checked first)
        packed = {p: (project / p, capture.snapshot[p]) for p in payload}
        digests = staging.add_project_files(packed, cache=cache, on_bytes=progress.hashed)
    else:
        digests = hash_files([project / p for p in payload], cache=cache, on_bytes=progress.hashed)

    progress.stage("Describing the environment")
    environment, lock_text = _describe_environment(project, capture.executions, s.base_image)
    local_packages, local_wheels = _local_packages(project, capture, environment)
    dockerfile = render_dockerfile(
        environment,
        wheelhouse=s.wheelhouse,
        local_wheels={PurePosixPath(p).name: w.sha256 for p, w in local_wheels.items()},
    )
    support = _support_files(project, capture, environment, resolved, dockerfile, lock_text, local_packages)
    in_memory = {**capture.notebooks, **masked, **support, **{p: w.data for p, w in local_wheels.items()}}
    progress.stage("Checking for restricted data")
    restricted_notes = refuse_restricted_leaks(
        project, restricted, payload, in_memory, digests, index=index, content=scanned.restricted
    )

    records = [
        FileRecord(
            p,
            digests[project / p].sha256,
            digests[project / p].size,
            encoding_format(p),
            role(p),
            p in restricted,
            s.restrict_note if p in restricted else None,
        )
        for p in payload
    ]
    records += [
        FileRecord(
            p,
            hashlib.sha256(data).hexdigest(),
            len(data),
            encoding_format(p),
            role(p) if p in capture.notebooks or p in masked else FileRole.SUPPORT,
        )
        for p, data in in_memory.items()
    ]
    encrypted = encrypt_restricted(project, records, s.encrypt_to)  # after the leak guard: ciphertexts are random
    records = list(encrypted.records)
    with owned_temp_dir("repropack-export-") as scratch:
        wheels: dict[str, Path] = {}
        if s.wheelhouse:
            progress.stage("Downloading wheels of the locked environment")
            interpreter = capture.executions[0].observation.interpreter["executable"]
            wheels = download_wheelhouse(lock_text, interpreter, Path(scratch))
            wheel_digests = hash_files(list(wheels.values()))
            records += [
                FileRecord(p, wheel_digests[src].sha256, wheel_digests[src].size, encoding_format(p), FileRole.SUPPORT)
                for p, src in wheels.items()
            ]
        package = Package(
            metadata=_package_metadata(project, found_metadata),
            files=tuple(sorted(records, key=lambda r: r.path)),
            runs=tuple(capture.runs),
            environment=environment,
            git=provenance.result(),
            settings=resolved.recorded(),
            agent=found_metadata.authors[0] if found_metadata.authors else Person(getpass.getuser()),
            tool_version=__version__,
            empty_folders=tuple(capture.empty_folders),
            local_packages=local_packages,
            environment_variables=_environment_variables(capture, s.env),
            export_runs=s.runs,
            nondeterministic=capture.nondeterministic,
        )
        from repropack.crate.metadata import build_metadata  # rocrate (0.2 s): imported while the notebooks run

        metadata = build_metadata(
            package,
            dockerfile_path=layout.DOCKERFILE,
            lock_path=layout.LOCK,
            settings_path=layout.SETTINGS,
            env_hash=environment_hash(dockerfile, lock_text),
            crate_version=s.crate_version,
            disclosure=gate.report if gate else None,
        )
        # Metadata and settings hold values from settings, user config and the git remote, not only scanned files.
        refuse_secrets(find_secrets_in_written(metadata, support), allowed=s.allow_secret)
        progress.stage(f"Writing {output.name}")
        content = PackageContent(
            metadata=metadata,
            disk_files={p: (project / p, capture.snapshot[p]) for p in payload if p not in restricted},
            memory_files={**in_memory, **encrypted.ciphertexts},
            extra_files=wheels,
        )
        write_package(output, content, force=s.force, date_published=package.metadata.date_published, staging=staging)
    return ExportResult(
        output,
        package,
        parameter_notes
        + _warnings(capture, environment, found_metadata)
        + restricted_notes
        + chosen.notes
        + encrypted.notes
        + (gate.warnings if gate else ()),
    )
