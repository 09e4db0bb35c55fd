"""The yardstick for an invisible observer: the same notebooks run by plain nbclient, nothing installed.

``export_beside_bare_run`` exports a project, puts the project back as it was
before the export (same path, same files), runs every recorded notebook with a
bare ``nbclient.NotebookClient`` in the recorded order (cwd = the notebook's
folder, the kernel export used, the same ``allow_errors``), and returns both
executed notebooks of each. ``compare_with_bare`` compares them with the
notebook rule and its default masks only (``RULES.get("notebook")()``).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from repropack.compare.rules import RULES, RuleOutcome
from repropack.export import ExportResult, export_project
from repropack.model import RunStatus

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_KERNEL_PID = re.compile(r"ipykernel_\d+")  # the per-process folder cells are compiled in


@dataclass(frozen=True)
class Twin:
    """One notebook as export recorded it and as a bare nbclient run produced it."""

    notebook: str
    exported: Path
    bare: Path


def bare_execute(project: Path, notebook: str, *, kernel: str, allow_errors: bool) -> nbformat.NotebookNode:
    """Run ``notebook`` as ``jupyter nbconvert --execute`` would: plain nbclient, cwd = its folder."""
    path = project / notebook
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=120,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(cwd=str(path.parent))
    return nb


def export_beside_bare_run(project: Path, out: Path, scratch: Path, **flags) -> tuple[ExportResult, list[Twin]]:
    """Export ``project`` to ``out``, then run its notebooks bare from the same starting tree.

    ``scratch`` (a folder of its own) keeps the pristine copy and the bare notebooks.
    After the call the project holds what the bare run left.
    """
    pristine = scratch / "pristine"
    shutil.copytree(project, pristine, symlinks=True)
    export = export_project(project, out, flags)
    shutil.rmtree(project)
    shutil.copytree(pristine, project, symlinks=True)
    allow_errors = bool(flags.get("allow_errors", False))
    twins = []
    for run in export.package.runs:
        if run.status is RunStatus.NOT_EXECUTED:
            continue
        nb = bare_execute(project, run.notebook, kernel=run.kernel_name, allow_errors=allow_errors)
        bare = scratch / "bare" / run.notebook
        bare.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, bare)
        twins.append(Twin(run.notebook, out / run.notebook, bare))
    return export, twins


def compare_with_bare(twins: list[Twin]) -> dict[str, RuleOutcome]:
    """The notebook rule's outcome for each twin, default masks only."""
    rule = RULES.get("notebook")()
    return {twin.notebook: rule.compare(twin.exported, twin.bare) for twin in twins}


def shown(path: Path) -> list[list[tuple]]:
    """Every cell's execution count and outputs, exactly (tracebacks included, colours stripped).

    Stricter than the notebook rule, which ignores tracebacks and volatile text:
    for notebooks whose outputs are deterministic. Only the kernel's process id
    (in the file name cells are compiled as) is masked.
    """

    def clean(text):
        return _KERNEL_PID.sub("ipykernel_<pid>", _ANSI.sub("", text)) if isinstance(text, str) else text

    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        outputs = [(cell.execution_count,)]
        for output in cell.outputs:
            outputs.append(
                (
                    output.output_type,
                    output.get("name"),
                    clean(output.get("text")),
                    output.get("ename"),
                    output.get("evalue"),
                    tuple(clean(line) for line in output.get("traceback", ())),
                    {mime: clean(value) for mime, value in output.get("data", {}).items()},
                )
            )
        cells.append(outputs)
    return cells
