"""The replay pipeline: open & integrity -> build -> execute in a sandbox ->
compare -> verdict -> governed-run record (signed) and reports.

Reads top to bottom as the pipeline runs. A bad or tampered package stops at
integrity (BadInput, exit 2) before anything is built or run; everything after
the build is recorded, whatever the verdict.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from repropack.compare.compare import choose_rule, compare_outputs, parse_rule_flag, rules_from_config
from repropack.config import DEFAULT_BASE_IMAGE
from repropack.crate.check import check_files, is_safe_package_path
from repropack.crate.reader import OpenedPackage, open_package
from repropack.environment.dockerfile import environment_hash
from repropack.errors import BadInput, BuildFailed
from repropack.fs import tree
from repropack.fs.hashing import sha256_file
from repropack.model import RESERVED_DIR, CauseKind, FailureCause, OutputComparison, OutputStatus, Verdict, layout
from repropack.progress import Progress, SilentProgress
from repropack.replay.verdict import classify_run, environment_drift, verdict_of
from repropack.sandbox import BACKENDS, RunPlan, SandboxLimits
from repropack.sandbox.base import BuildRequest


@dataclass(frozen=True)
class ReplayOptions:
    backend: str = "docker"
    base_image: str | None = None  # None: the one recorded in the package
    ca_bundle: Path | None = None  # None: the bundle named by PIP_CERT, REQUESTS_CA_BUNDLE or SSL_CERT_FILE
    offline: bool = False
    inputs: Mapping[str, Path] = field(default_factory=dict)  # package path -> file supplying a restricted input
    inputs_dir: Path | None = None  # a folder holding restricted inputs at their package paths
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    compare: tuple[str, ...] = ()  # --compare GLOB=RULE[:k=v,...], applied over the package's rules
    keep: bool = False


@dataclass(frozen=True)
class PackageFacts:
    """What the replay needs to know about the package, read from its metadata."""

    source: Path
    title: str
    metadata_sha256: str
    notebooks: tuple[tuple[str, bool], ...]  # recorded order, allow_errors
    outputs: Mapping[str, str]  # package path -> recorded sha256 (outputs and executed notebooks)
    inputs: tuple[str, ...]
    restricted: Mapping[str, tuple[str, int]]  # package path -> (sha256, size)
    settings: Mapping[str, Any]
    environment_hash: str
    python_version: str | None
    lock: Mapping[str, str]
    empty_folders: tuple[str, ...] = ()  # folders the notebooks found (empty) in the project
    python_path: tuple[str, ...] = ()  # package folders of local packages (pip install -e .), put on the path


@dataclass
class ReplayResult:
    """Everything the reports and the record say about one replay."""

    package: PackageFacts
    verdict: Verdict
    cause: FailureCause | None
    outputs: list[OutputComparison]
    rules: dict[str, Any]
    drift: list[str]
    backend: dict[str, Any]
    isolation: str
    image: str | None  # tag (docker) or virtualenv path (local)
    image_id: str | None  # the engine's image id, or the virtualenv's python
    image_reused: bool
    limits: dict[str, Any]
    started: datetime
    ended: datetime
    timings: dict[str, float]
    agent: str
    host: str
    record: Path | None = None
    log_tail: str = ""
    figures: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (recorded, replayed) data URIs

    def as_dict(self) -> dict[str, Any]:
        """The ``replay --json`` object (schemas/replay-result.schema.json)."""
        return {
            "verdict": self.verdict.value,
            "cause": str(self.cause) if self.cause else None,
            "cause_kind": self.cause.kind.value if self.cause else None,
            "outputs": [
                {"path": o.path, "status": o.status.value, "rule": o.rule, "detail": o.detail} for o in self.outputs
            ],
            "record": str(self.record) if self.record else None,
            "image": self.image,
            "image_id": self.image_id,
            "image_reused": self.image_reused,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "drift": self.drift,
            "package": {
                "path": str(self.package.source),
                "title": self.package.title,
                "metadata_sha256": self.package.metadata_sha256,
            },
            "backend": self.backend,
            "isolation": self.isolation,
            "sandbox": self.limits,
            "rules": self.rules,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "agent": self.agent,
            "host": self.host,
        }


def _lock_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def read_facts(package: OpenedPackage) -> PackageFacts:
    files = package.files()
    runs = package.runs()
    if runs:
        notebooks = tuple((r["notebook"], r["status"] == "FailedActionStatus") for r in runs if r["notebook"])
    else:
        notebooks = tuple((f["path"], False) for f in files if f["role"] == "notebook")
    if not notebooks:
        raise BadInput(f"{package.source}: the package has no notebook to replay")
    settings = json.loads(package.read_text(layout.SETTINGS) or "{}")
    capture = json.loads(package.read_text(layout.CAPTURE) or "{}")
    image = package.entities.get("#container-image", {})
    dockerfile, lock = package.read_text(layout.DOCKERFILE), package.read_text(layout.LOCK) or ""
    if dockerfile is None:
        raise BadInput(f"{package.source}: the package has no {layout.DOCKERFILE} to rebuild its environment from")
    return PackageFacts(
        source=package.source,
        title=package.root_entity.get("name") or package.source.name,
        metadata_sha256=hashlib.sha256((package.root / layout.METADATA).read_bytes()).hexdigest(),
        notebooks=notebooks,
        outputs={f["path"]: f["sha256"] for f in files if f["role"] in ("output", "notebook") and not f["restricted"]},
        inputs=tuple(f["path"] for f in files if f["role"] == "input"),
        restricted={f["path"]: (f["sha256"], f["size"]) for f in files if f["restricted"]},
        settings={k: v.get("value") for k, v in settings.items() if isinstance(v, dict)},
        # Computed from the files, not read from the metadata: the image cache must
        # never serve an image built from a different lock.
        environment_hash=environment_hash(dockerfile, lock),
        python_version=image.get("pythonVersion"),
        lock=_lock_pins(lock),
        empty_folders=tuple(folder for folder in capture.get("empty_folders", []) if is_safe_package_path(folder)),
        python_path=tuple(
            _import_root(package.root, entry["path"])
            for entry in capture.get("local_packages", [])
            if isinstance(entry.get("path"), str) and (entry["path"] == "." or is_safe_package_path(entry["path"]))
        ),
    )


#: Replay settings a user may set in the [replay] table of their config file.
REPLAY_DEFAULTS: dict[str, Any] = {"backend": "docker", "timeout": 1800, "memory": "2g", "base_image": None}


def replay_settings(flags: Mapping[str, Any], user_table: Mapping[str, Any]) -> dict[str, Any]:
    """Flags first, then the user config's [replay] table, then the defaults."""
    resolved = {}
    for name, default in REPLAY_DEFAULTS.items():
        value = flags.get(name)
        if value is None:
            value = user_table.get(name, default)
        resolved[name] = value
    if not isinstance(resolved["timeout"], int) or isinstance(resolved["timeout"], bool) or resolved["timeout"] <= 0:
        raise BadInput("replay setting 'timeout' must be a positive whole number of seconds")
    if not isinstance(resolved["memory"], str):
        raise BadInput("replay setting 'memory' must be a string such as '2g'")
    return resolved


def default_ca_bundle() -> Path | None:
    """The trusted CA bundle as pip and requests find it: their standard variables, in their order."""
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    return None


def _import_root(package_root: Path, folder: str) -> str:
    """The folder to put on the path for a local package: its src/ layout folder when it has one."""
    src = PurePosixPath(folder) / "src"
    return src.as_posix() if (package_root / src).is_dir() else folder


def _verify_integrity(package: OpenedPackage) -> None:
    problems, _ = check_files(package)
    if problems:
        raise BadInput(f"{package.source}: package failed its integrity check: {problems[0].message}")


def _restricted_sources(facts: PackageFacts, options: ReplayOptions) -> tuple[dict[str, Path], list[str]]:
    """Supplied files for each restricted input, and a line per missing or mismatched one."""
    found: dict[str, Path] = {}
    problems = []
    unknown = sorted(set(options.inputs) - set(facts.restricted))
    if unknown:
        raise BadInput(f"--input {unknown[0]}: the package has no restricted input at that path")
    for path, (sha256, _size) in sorted(facts.restricted.items()):
        source = options.inputs.get(path) or (options.inputs_dir / path if options.inputs_dir else None)
        if source is None or not source.is_file():
            problems.append(f"{path} not supplied (pass --input {path}=FILE or --inputs DIR)")
            continue
        digest = sha256_file(source)
        if digest.sha256 != sha256:
            problems.append(f"{path}: supplied file {source} does not match the recorded sha256")
            continue
        found[path] = source
    return found, problems


def _prepare_work_dir(package: OpenedPackage, facts: PackageFacts, restricted: Mapping[str, Path], work: Path) -> None:
    """The package tree as the notebooks expect it: recorded outputs set aside, restricted inputs supplied."""
    set_aside = set(facts.outputs) - {nb for nb, _ in facts.notebooks}
    sources = {
        record["path"]: package.root / record["path"]
        for record in package.files()
        if not record["restricted"]
        and record["path"] not in set_aside
        and not record["path"].startswith(RESERVED_DIR + "/")
    }
    for path, source in {**sources, **restricted}.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for folder in facts.empty_folders:
        (work / folder).mkdir(parents=True, exist_ok=True)


def _rule_choices(facts: PackageFacts, flags: tuple[str, ...]):
    config = dict(facts.settings.get("compare") or {})
    overrides = dict(parse_rule_flag(flag) for flag in flags)
    # Flags come first so that they win over the researcher's declared rules.
    merged = {**overrides, **{k: v for k, v in config.items() if k not in overrides}}
    return rules_from_config(merged)


def _failed_before_running(facts, cause, started, backend_info, isolation, limits, timings) -> ReplayResult:
    """The result of a replay that stopped before the sandbox ran (missing input, build failure)."""
    return ReplayResult(
        package=facts,
        verdict=Verdict.FAILED,
        cause=cause,
        outputs=[],
        rules={},
        drift=[],
        backend=backend_info,
        isolation=isolation,
        image=None,
        image_id=None,
        image_reused=False,
        limits=limits,
        started=started,
        ended=datetime.now(timezone.utc).replace(microsecond=0),
        timings=timings,
        agent=getpass.getuser(),
        host=socket.gethostname(),
    )


def replay_package(source: Path, options: ReplayOptions, progress: Progress | None = None) -> ReplayResult:
    """Replay the package at ``source``; the result carries the verdict (the record is written by the caller)."""
    progress = progress or SilentProgress()
    started = datetime.now(timezone.utc).replace(microsecond=0)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    with open_package(source) as package:
        progress.stage("Checking the package's integrity")
        _verify_integrity(package)
        facts = read_facts(package)
        choices = _rule_choices(facts, options.compare)
        restricted, missing = _restricted_sources(facts, options)
        timings["integrity"] = time.monotonic() - clock

        backend = BACKENDS.get(options.backend)()
        backend_info = backend.describe()
        limits = options.limits.describe()
        if missing:
            cause = FailureCause(CauseKind.MISSING_INPUT, "; ".join(missing))
            return _failed_before_running(facts, cause, started, backend_info, backend.isolation, limits, timings)

        progress.stage("Building the environment")
        clock = time.monotonic()
        request = BuildRequest(
            package_root=package.root,
            environment_hash=facts.environment_hash,
            base_image=options.base_image or facts.settings.get("base_image") or DEFAULT_BASE_IMAGE,
            offline=options.offline,
            ca_bundle=options.ca_bundle or default_ca_bundle(),
            on_log=progress.detail,
        )
        if options.offline and not (package.root / layout.WHEELHOUSE).is_dir():
            raise BadInput(f"{source}: --offline needs a package exported with --wheelhouse; this one has no wheels")
        try:
            env = backend.prepare(request)
        except BuildFailed as exc:
            cause = FailureCause(CauseKind.BUILD_FAILED, str(exc).removeprefix("build failed: "))
            timings["build"] = time.monotonic() - clock
            return _failed_before_running(facts, cause, started, backend_info, backend.isolation, limits, timings)
        timings["build"] = time.monotonic() - clock

        with tempfile.TemporaryDirectory(prefix="repropack-work-") as tmp:
            work = Path(tmp) / "work"
            work.mkdir()
            _prepare_work_dir(package, facts, restricted, work)
            before = tree.snapshot(work)
            progress.stage(f"Running {len(facts.notebooks)} notebook(s) in the sandbox")
            plan = RunPlan(facts.notebooks, int(facts.settings.get("timeout") or 600), python_path=facts.python_path)
            run = backend.run(env, work, plan, options.limits, options.keep)
            timings["execute"] = run.seconds
            planted = _remove_symlinks(work)
            produced = tree.changed_between(before, tree.snapshot(work))
            cause = classify_run(
                run.report,
                timed_out=run.timed_out,
                out_of_memory=run.out_of_memory,
                exit_code=run.exit_code,
                log_tail=run.log_tail,
                inputs=(*facts.inputs, *facts.restricted),
            )
            drift = environment_drift(facts.python_version, facts.lock, (run.report or {}).get("environment"))
            outputs: list[OutputComparison] = []
            clock = time.monotonic()
            figures: dict[str, tuple[str, str]] = {}
            if cause is None:
                progress.stage("Comparing outputs")
                outputs = _flag_symlinks(compare_outputs(package.root, work, facts.outputs, produced, choices), planted)
                figures = _figure_pairs(package.root, work, outputs)
            timings["compare"] = time.monotonic() - clock
            if options.keep:
                kept = Path(tempfile.mkdtemp(prefix="repropack-kept-work-"))
                shutil.copytree(work, kept, dirs_exist_ok=True)
                progress.detail(f"work dir kept at {kept}")
    rules = {o.path: choose_rule(o.path, choices).name for o in outputs if o.rule != "sha256"}
    return ReplayResult(
        package=facts,
        verdict=verdict_of(cause, outputs),
        cause=cause,
        outputs=outputs,
        rules={"declared": {c.glob: {"rule": c.rule.name, **c.rule.options()} for c in choices}, "applied": rules},
        drift=drift,
        backend=backend_info,
        isolation=backend.isolation,
        image=env.name,
        image_id=env.reference,
        image_reused=env.reused,
        limits=limits,
        started=started,
        ended=datetime.now(timezone.utc).replace(microsecond=0),
        timings=timings,
        agent=getpass.getuser(),
        host=socket.gethostname(),
        log_tail=run.log_tail,
        figures=figures,
    )


def _remove_symlinks(work: Path) -> dict[str, str]:
    """Remove every symlink the sandbox left in the work dir, unread; return path -> target.

    The work dir is the host's: a notebook could plant ``outputs/x -> /etc/shadow``
    for the comparison (and the report) to read on the host. Nothing is followed.
    """
    planted = {}
    for dirpath, dirnames, filenames in os.walk(work):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                planted[full.relative_to(work).as_posix()] = os.readlink(full)
                full.unlink()
    return planted


def _flag_symlinks(outputs: list[OutputComparison], planted: Mapping[str, str]) -> list[OutputComparison]:
    """Each planted symlink is an output that is not what was recorded, whatever the comparison said."""
    if not planted:
        return outputs
    flagged = {o.path: o for o in outputs}
    for path, target in planted.items():
        status = OutputStatus.DIFFERENT if path in flagged else OutputStatus.UNEXPECTED
        flagged[path] = OutputComparison(
            path, status, "symlink", f"the replay produced a symlink to {target!r} here; removed unread"
        )
    return sorted(flagged.values(), key=lambda o: o.path)


_FIGURE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
_FIGURE_LIMIT = 4 * 2**20  # bytes per image embedded in the report


def _figure_pairs(
    recorded_root: Path, produced_root: Path, outputs: list[OutputComparison]
) -> dict[str, tuple[str, str]]:
    """Recorded and replayed versions of each figure that is not identical, as data URIs."""
    pairs = {}
    for o in outputs:
        kind = _FIGURE_TYPES.get(Path(o.path).suffix.lower())
        if kind is None or o.status not in (OutputStatus.DIFFERENT, OutputStatus.EQUIVALENT):
            continue
        sides = [recorded_root / o.path, produced_root / o.path]
        if all(p.is_file() and p.stat().st_size <= _FIGURE_LIMIT for p in sides):
            pairs[o.path] = tuple(f"data:{kind};base64,{base64.b64encode(p.read_bytes()).decode()}" for p in sides)
    return pairs
