"""Execute one notebook in a fresh kernel while observing what it touches.

Each notebook gets its own kernel, started in the notebook's folder, as
``jupyter nbconvert --execute`` does. Before the first cell the kernel-side
observer (``kernel_side.py``) is installed with a silent execution, so it
neither shows in the notebook nor shifts execution counts; it lives only in an
audit hook (no module, no name anywhere a cell can look, no frame in any call
path), so every cell shows what it shows under plain nbclient. After the last
cell a second silent execution raises the audit event that makes it report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from repropack.errors import BadInput, CannotRun, CheckFailed
from repropack.export.deadline import Deadline
from repropack.export.interruptible import run_interruptibly
from repropack.export.kernel_side import COLLECT_EVENT
from repropack.fs.stale import owned_temp_dir
from repropack.parameters import inject
from repropack.sandbox.runner import kernel_manager_class

_KERNEL_SIDE_SOURCE = (Path(__file__).with_name("kernel_side.py")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Observation:
    """What the kernel-side observer reported for one kernel session."""

    reads: frozenset[str]  # absolute paths under the project opened for reading (existing or not)
    writes: frozenset[str]
    consumed: frozenset[str]  # of the reads, those opened before this run wrote or truncated them
    outside_reads: frozenset[str]  # data files read from outside the project (not packed)
    imported_modules: frozenset[str]  # top-level module names imported after start
    interpreter: dict[str, str]
    marker_environment: dict[str, str]
    distributions: tuple[dict[str, Any], ...]
    environment: dict[str, str] = field(default_factory=dict)  # the kernel's os.environ as it started
    resources: dict[str, Any] = field(default_factory=dict)  # peak_rss_bytes, children_peak_rss_bytes, wall_seconds


@dataclass(frozen=True)
class NotebookExecution:
    """An executed notebook and the facts of its run."""

    path: str
    notebook: NotebookNode
    kernel_name: str
    kernel_display_name: str
    start_time: datetime
    end_time: datetime
    errors: tuple[str, ...]  # one line per cell that raised (only with allow_errors)
    observation: Observation
    parameters: Mapping[str, Any] = field(default_factory=dict)  # the values injected before the run (papermill)


class CellFailed(CheckFailed):
    """A cell raised and errors were not allowed; what the run observed up to there is kept."""

    def __init__(self, message: str, notebook: str, observation: Observation) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.observation = observation


def read_notebook(path: Path, relpath: str) -> NotebookNode:
    """Read and validate a notebook; an invalid one is BadInput naming the file."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except (nbformat.ValidationError, ValueError, KeyError, AttributeError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInput(f"{relpath}: not a valid Jupyter notebook: {reason}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {relpath}: {exc.strerror}") from None
    return nb


def kernel_display_name(kernel_name: str) -> str:
    """The display name of an installed kernel; BadInput when there is no such kernel."""
    manager = KernelSpecManager()
    try:
        return manager.get_kernel_spec(kernel_name).display_name
    except NoSuchKernel:
        available = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise BadInput(
            f"no Jupyter kernel named {kernel_name!r} (installed: {available}); pass --kernel NAME"
        ) from None


def _last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return f" (kernel said: {lines[-1].strip()})" if lines else ""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _error_line(index: int, ename: str, evalue: str) -> str:
    """One line naming a failed cell; cells are numbered from 1, as a reader counts them."""
    return f"cell {index + 1}: {ename}: {evalue}".strip()


def _errors_in_outputs(nb: NotebookNode) -> tuple[str, ...]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", ()):
            if output.get("output_type") == "error":
                found.append(_error_line(index, output.get("ename", ""), output.get("evalue", "")))
    return tuple(found)


async def _run_silent(client: NotebookClient, code: str) -> None:
    msg_id = client.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    reply = await client.async_wait_for_reply(msg_id)
    content = (reply or {}).get("content", {})
    if content.get("status") != "ok":
        raise CannotRun(
            f"the kernel could not run repropack's observer: {content.get('ename', 'no reply')}: "
            f"{content.get('evalue', '')}"
        )


def _observer_start(project_root: Path) -> str:
    # One statement binding no name: the observer's globals are a fresh dict that only its
    # audit hook keeps alive, not a module in sys.modules and nothing in the user's namespace.
    source = f"{_KERNEL_SIDE_SOURCE}\nstart({str(project_root)!r})\n"
    return f"exec(compile({source!r}, '<repropack observer>', 'exec'), {{'__name__': '_repropack_observer'}})\n"


def _observer_collect(report_path: Path) -> str:
    # No import statement, so the observer does not count this cell's imports as the notebook's.
    return f"__import__('sys').audit({COLLECT_EVENT!r}, {str(report_path)!r})\n"


async def _execute(
    client: NotebookClient,
    folder: Path,
    project_root: Path,
    report_path: Path,
    kernel_log,
    execute_cells: bool,
    on_cell: Callable[[int, int], None] | None,
) -> tuple[datetime, datetime, tuple[int, CellExecutionError] | None]:
    client.reset_execution_trackers()
    failure = None
    async with client.async_setup_kernel(cwd=str(folder), stdout=kernel_log, stderr=kernel_log):
        info = await client.async_wait_for_reply(client.kc.kernel_info())
        if info is not None and "language_info" in info["content"]:
            client.nb.metadata["language_info"] = info["content"]["language_info"]
        await _run_silent(client, _observer_start(project_root))
        start = _now()
        if execute_cells:
            total = len(client.nb.cells)
            for index, cell in enumerate(client.nb.cells):
                try:
                    await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                except CellExecutionError as exc:
                    failure = (index, exc)
                    break
                if on_cell:
                    on_cell(index + 1, total)
            client.set_widgets_metadata()
        end = _now()
        await _run_silent(client, _observer_collect(report_path))
    return start, end, failure


def execute_notebook(
    project_root: Path,
    relpath: str,
    *,
    kernel: str,
    timeout: int,
    allow_errors: bool,
    execute_cells: bool = True,
    on_cell: Callable[[int, int], None] | None = None,
    parameters: Mapping[str, Any] | None = None,
    deadline: Deadline | None = None,
) -> NotebookExecution:
    """Run ``relpath`` (relative to ``project_root``) in kernel ``kernel``.

    Each cell may run ``timeout`` seconds, or less when ``deadline`` (the export's total timeout) ends sooner.

    The notebook's own kernelspec is ignored (published notebooks often name a
    stale ``python2`` or none); the returned notebook's metadata names the kernel
    that actually ran. With ``execute_cells=False`` the kernel only reports its
    environment and the notebook keeps its saved outputs. ``parameters`` are
    injected first (``repropack.parameters``): the notebook that runs, and is
    returned, holds their ``injected-parameters`` cell; the file is not changed.

    Raises BadInput (invalid notebook, unknown kernel), CellFailed (a cell
    raised and ``allow_errors`` is off), CannotRun (kernel died, cell timeout).
    """
    path = project_root / relpath
    nb = read_notebook(path, relpath)
    if parameters:
        nb = inject(nb, parameters, kernel)
    display_name = kernel_display_name(kernel)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        kernel_manager_class=kernel_manager_class(),  # as the replay's runner: a kernel hung on its way out is ended
        timeout=timeout,
        # nbclient asks before every cell: what is left of the total when it is less than the per-cell timeout.
        timeout_func=(lambda cell: deadline.cell_timeout(timeout)) if deadline else None,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with owned_temp_dir("repropack-observe-") as tmp:
        report_path = Path(tmp) / "observation.json"
        log_path = Path(tmp) / "kernel.log"
        try:
            with log_path.open("wb") as kernel_log:
                start, end, failure = run_interruptibly(
                    _execute(
                        client, path.parent, project_root.resolve(), report_path, kernel_log, execute_cells, on_cell
                    )
                )
        except CellTimeoutError:
            if deadline is not None and deadline.passed():
                raise CannotRun(
                    f"{relpath}: the notebooks ran past the total timeout of {deadline.seconds} s; "
                    "raise it with --total-timeout"
                ) from None
            raise CannotRun(
                f"{relpath}: a cell ran longer than the {timeout} s timeout; raise it with --timeout"
            ) from None
        except DeadKernelError:
            raise CannotRun(f"{relpath}: the kernel died while running the notebook{_last_line(log_path)}") from None
        observation = _observation(json.loads(report_path.read_text(encoding="utf-8")))
    if failure is not None:
        index, exc = failure
        raise CellFailed(
            f"{relpath}: {_error_line(index, exc.ename, exc.evalue)} (pass --allow-errors to package it anyway)",
            relpath,
            observation,
        )
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": display_name, "language": "python"}
    return NotebookExecution(
        path=relpath,
        notebook=nb,
        kernel_name=kernel,
        kernel_display_name=display_name,
        start_time=start,
        end_time=end,
        errors=_errors_in_outputs(nb) if execute_cells else (),
        observation=observation,
        parameters=dict(parameters or {}),
    )


def _observation(report: dict[str, Any]) -> Observation:
    return Observation(
        reads=frozenset(report["reads"]),
        writes=frozenset(report["writes"]),
        consumed=frozenset(report["consumed"]),
        outside_reads=frozenset(report["outside_reads"]),
        imported_modules=frozenset(report["imported_modules"]),
        interpreter=report["interpreter"],
        marker_environment=report["marker_environment"],
        distributions=tuple(report["distributions"]),
        environment=report.get("environment", {}),
        resources=report.get("resources", {}),
    )
