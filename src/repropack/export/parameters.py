"""Export's checks of the notebook parameters it was given, before any notebook runs.

The values themselves were checked when the settings were resolved (``config``,
``repropack.parameters``); here they meet the project: a per-notebook table must name a
notebook that runs, parameters need the notebooks executed, and a notebook with no cell
tagged ``parameters`` gets its values at the top (papermill's behaviour), with a warning
that says how to place them.
"""

from __future__ import annotations

from pathlib import Path

from repropack import parameters as notebook_parameters
from repropack.config import ExportSettings
from repropack.errors import BadInput
from repropack.export.execute import read_notebook


def check_parameters(project: Path, notebooks: list[str], s: ExportSettings) -> tuple[str, ...]:
    """The warnings for ``s.parameters`` over ``notebooks``; BadInput for parameters export cannot inject."""
    if not s.parameters:
        return ()
    if not s.execute:
        raise BadInput("parameters need the notebooks executed; --no-execute packs their saved outputs")
    unknown = notebook_parameters.unknown_notebooks(s.parameters, notebooks)
    if unknown:
        raise BadInput(
            f"parameters for {unknown[0]}: no such notebook runs in this export (running: {', '.join(notebooks)})"
        )
    notes = []
    for nb in notebooks:
        if not notebook_parameters.for_notebook(s.parameters, nb):
            continue
        if not notebook_parameters.has_parameters_cell(read_notebook(project / nb, nb)):
            notes.append(
                f"{nb} has no cell tagged 'parameters': its parameters were injected at the top, before any "
                "cell; tag the cell that sets their defaults 'parameters' so the values come after it"
            )
    return tuple(notes)
