"""Disclosure control over what a replay produced, before any of it is kept in the record.

The package records the researcher's ``[disclosure]`` rules (its ``disclosure`` setting); the replayer may
make them stricter (``--min-count``, ``ReplaySettings.disclosure``). With neither, nothing is checked and
nothing changes. Otherwise the replayed outputs and executed notebooks are read from the work dir (bytes,
never a link followed) and checked; when the package was exported with ``suppress``, the failing cells are
first masked in the work dir exactly as export masked them, so the comparison sets masked against masked.

A file that still fails is withheld: it is not copied into the record's ``replayed/`` folder, its comparison
detail and figure are replaced, and the record says why. The verdict is not touched: whether the outputs
reproduce and whether they may leave are separate questions. The governance run (a later issue) calls
``check_replayed`` on its own work dir the same way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from repropack.errors import BadInput
from repropack.model import OutputComparison, Package, layout
from repropack.model.disclosure import DisclosureReport, DisclosureRules, DisclosureStatus, FileDisclosure
from repropack.model.layout import is_safe_package_path
from repropack.replay.kept import KEPT_LIMIT

#: The detail shown in place of a withheld output's comparison (a diff excerpt would quote its cells).
WITHHELD = "withheld: failed disclosure control"
#: The not-kept line of a withheld output, after its path.
WITHHELD_NOT_KEPT = "failed disclosure control; never copied into a record"


@dataclass(frozen=True)
class ReplayedDisclosure:
    """What the gate decided: ``report`` (values removed; None when no rules applied) and the package
    paths of the outputs ``withheld`` from the record, sorted."""

    report: DisclosureReport | None = None
    withheld: tuple[str, ...] = ()

    def withhold(
        self, outputs: Sequence[OutputComparison], figures: Mapping[str, tuple[str, str]]
    ) -> tuple[list[OutputComparison], dict[str, tuple[str, str]]]:
        """``outputs`` with each withheld output's detail replaced by ``WITHHELD``, and ``figures``
        without the withheld ones; statuses stay (the verdict does not depend on disclosure)."""
        hidden = set(self.withheld)
        kept_outputs = [replace(o, detail=WITHHELD) if o.path in hidden else o for o in outputs]
        return kept_outputs, {path: pair for path, pair in figures.items() if path not in hidden}

    @property
    def not_kept(self) -> tuple[str, ...]:
        """One line per withheld output, for the record's ``not_kept``."""
        return tuple(f"{path}: {WITHHELD_NOT_KEPT}" for path in self.withheld)


def replay_rules(
    package: Package, overrides: Mapping[str, Any], where: str, root: Path | None = None
) -> DisclosureRules | None:
    """The rules a replay of ``package`` applies: its recorded ``disclosure`` setting with the replayer's
    ``overrides`` over it; None when the package declares none and the replayer gives none.

    ``where`` names the package in errors and in the rules' ``source``; ``root`` is the unpacked package, which
    an ``acro_config`` the table names is read from (a packaged file, already checked against its hash).
    BadInput, before anything is built, when the recorded table or the overrides are invalid.
    """
    declared = package.setting("disclosure") or {}
    if not isinstance(declared, Mapping):
        raise BadInput(f"{where}: its recorded disclosure setting ({layout.SETTINGS}) is not a table")
    if not declared and not overrides:
        return None  # nothing declared: no check, and no disclosure module imported
    from repropack.disclosure.rules import rules_from_table, with_overrides

    rules = rules_from_table(declared, f"{where} {layout.SETTINGS} disclosure", root)
    return with_overrides(rules, overrides) if overrides else rules


def gate_replay(
    rules: DisclosureRules | None, package: Package, work: Path, paths: Iterable[str]
) -> ReplayedDisclosure:
    """The replay pipeline's gate: ``check_replayed`` under ``rules`` (``replay_rules``), masking first when
    ``package`` was exported with ``suppress``; an empty ``ReplayedDisclosure`` (nothing checked) for None."""
    if rules is None:
        return ReplayedDisclosure()
    return check_replayed(work, paths, rules, suppress=package.setting("suppress") is True)


def check_replayed(
    work: Path, paths: Iterable[str], rules: DisclosureRules, *, suppress: bool = False, where: str = "replay"
) -> ReplayedDisclosure:
    """Check the files at package ``paths`` under ``work`` (written by a sandbox: untrusted) under ``rules``.

    The report is of the files as the sandbox left them. With ``suppress``, each failing file's cells are
    masked in place (``disclosure.suppress``, as export masked them) and the masked copy checked again; the
    report's ``suppressed`` names the cells of each file whose masked copy passes, and only those files
    leave (as at export: the masked copy is what is kept). A file that cannot be read, that the checks
    refuse as hostile, or that an ACRO results.json failed, stays failing and is withheld. The returned
    report holds no value.
    """
    started = _now()
    files = {path: _read(work, path) for path in sorted(set(paths))}
    report = _check(files, rules, where, started)
    if suppress:
        from repropack.disclosure.suppress import mask_failing

        readable = {path: data for path, data in files.items() if isinstance(data, bytes)}
        masking = mask_failing(report, readable, rules, where)
        rewritten = {path for path, copy in masking.masked.items() if _rewrite(work, path, copy)}
        findings = {f.path: f.findings for f in report.files}
        report = replace(report, suppressed={path: findings[path] for path in sorted(rewritten)}, ended=_now())
    withheld = tuple(path for path in report.failing() if path not in report.suppressed)
    return ReplayedDisclosure(report.without_values(), withheld)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _check(files: Mapping[str, bytes | str], rules: DisclosureRules, where: str, started: datetime) -> DisclosureReport:
    """``check_outputs`` over the readable files; an unreadable one, or one the checks refuse, fails."""
    from repropack.disclosure.check import check_outputs

    unreadable = {path: problem for path, problem in files.items() if isinstance(problem, str)}
    readable = {path: data for path, data in files.items() if isinstance(data, bytes)}
    try:
        report = check_outputs(readable, rules, where)
    except BadInput:
        # One hostile file must not lose the check of the others: find which files are refused, check the rest
        # together (an ACRO results.json decides about its neighbours).
        for path in sorted(readable):
            try:
                check_outputs({path: readable[path]}, rules, where)
            except BadInput as error:
                unreadable[path] = f"refused by the checks: {error}"
        report = check_outputs({p: d for p, d in readable.items() if p not in unreadable}, rules, where)
    failed = tuple(
        FileDisclosure(path, DisclosureStatus.FAIL, note=f"could not be checked ({problem}); withheld")
        for path, problem in sorted(unreadable.items())
    )
    ordered = tuple(sorted((*report.files, *failed), key=lambda f: f.path))
    return replace(report, files=ordered, started=started, ended=_now(), where=where)


def _read(work: Path, path: str) -> bytes | str:
    """The bytes of the sandbox's file at package ``path``, or why they cannot be read (a link is never
    followed, anything but a regular file is refused, and so is a file past the record's limit)."""
    if not is_safe_package_path(path):
        return "not a package path"
    target = work / path
    if os.path.islink(target) or not Path(os.path.realpath(target)).is_relative_to(os.path.realpath(work)):
        return "a symbolic link, or one on the way; never followed"
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return error.strerror or str(error)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > KEPT_LIMIT:
            return f"larger than {KEPT_LIMIT // 2**20} MiB"
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(KEPT_LIMIT + 1)[:KEPT_LIMIT]
    except OSError as error:
        return error.strerror or str(error)
    finally:
        os.close(fd)


def _rewrite(work: Path, path: str, data: bytes) -> bool:
    """Replace the sandbox's file with its masked copy; False when the host may not write it (it stays
    unmasked, and failing, so it is withheld)."""
    try:
        fd = os.open(work / path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True
