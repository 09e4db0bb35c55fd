"""The notebook parameters of a replay: the recorded ones checked, and a what-if's put in their place.

A package exported with parameters holds each notebook as executed, with papermill's
``injected-parameters`` cell, and records the values as PropertyValues of the notebook's
run. The replay runs the packaged notebook, so it runs that cell: ``check_parameters``
makes sure the cell is exactly what papermill writes for the recorded values (a package
where they disagree is forged, and refused before anything is built). ``replay -p NAME
VALUE`` asks "what if": the new values are injected on the host, into the work folder's
copy, before the sandbox starts (papermill replaces the injected cell), and the result
says the verdict is then no reproduction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from repropack import parameters as notebook_parameters
from repropack.errors import BadInput
from repropack.model import NotebookRun, RunStatus


@dataclass(frozen=True)
class WhatIf:
    """The parameters a replay injects instead of the recorded ones (nothing for a plain replay)."""

    notebooks: Mapping[str, bytes] = field(default_factory=dict)  # notebook -> its bytes with the values injected
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # notebook -> name -> recorded/replayed

    def __bool__(self) -> bool:
        return bool(self.changes)


def check_parameters(
    root: Path,
    source: Path,
    runs: Sequence[NotebookRun],
    given: Mapping[str, Any],
    setting: Mapping[str, Any] | None = None,
) -> WhatIf:
    """Check the recorded parameters (``repropack.parameters.verify_recorded``), then ``given``
    (``replay -p``) against the recorded names. BadInput (nothing built or run) for a forged package
    or an unknown name."""
    notebook_parameters.verify_recorded(root, source, runs, setting)
    if not given:
        return WhatIf()
    return _what_if(root, source, [run for run in runs if run.status is not RunStatus.NOT_EXECUTED], given)


def _what_if(root: Path, source: Path, runs: Sequence[NotebookRun], given: Mapping[str, Any]) -> WhatIf:
    recorded = {run.notebook: dict(run.parameters) for run in runs}
    unknown = notebook_parameters.unknown_notebooks(given, list(recorded))
    if unknown:
        raise BadInput(f"--parameters-file: {unknown[0]} is no notebook the package ran")
    names = {name for values in recorded.values() for name in values}
    for key, value in given.items():
        asked = value if notebook_parameters.is_notebook_key(key) else {key: value}
        known = recorded[key] if notebook_parameters.is_notebook_key(key) else names
        for name in asked:
            if name not in known:
                said = ", ".join(sorted(known)) or "none"
                raise BadInput(
                    f"--parameter {name}: {source} was exported with no parameter of that name "
                    f"(recorded: {said}); a what-if replay changes recorded parameters only"
                )
    notebooks, changes = {}, {}
    for run in runs:
        old = recorded[run.notebook]
        wanted = {k: v for k, v in notebook_parameters.for_notebook(given, run.notebook).items() if k in old}
        changed = {k: v for k, v in wanted.items() if not notebook_parameters.same_value(v, old[k])}
        if changed:
            nb = nbformat.read(root / run.notebook, as_version=4)  # checked above: JSON within the limits
            nb = notebook_parameters.inject(nb, {**old, **changed}, run.kernel_name or "python3")
            notebooks[run.notebook] = nbformat.writes(nb).encode("utf-8") + b"\n"
            changes[run.notebook] = {k: {"recorded": old[k], "replayed": v} for k, v in changed.items()}
    return WhatIf(notebooks, changes)


def inject_what_if(work: Path, what_if: WhatIf) -> None:
    """Put ``what_if``'s notebooks, with their values injected, in the work folder before the sandbox runs."""
    for notebook, data in what_if.notebooks.items():
        (work / notebook).write_bytes(data)
