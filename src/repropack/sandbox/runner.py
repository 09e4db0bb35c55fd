"""Runs inside the sandbox (container or local virtualenv): execute the plan's
notebooks in order and report what happened, as JSON.

Standalone on purpose: it runs with the rebuilt environment's interpreter, where
repropack is not installed, so it may use only the standard library and the
runtime distributions every lock carries (nbclient, nbformat, ipykernel).
The report is rewritten after every notebook, so a sandbox killed for time or
memory still leaves what was done.

    python runner.py PLAN.json REPORT.json
"""

import json
import os
import platform
import sys
import time
import traceback
from importlib import metadata


def _environment():
    return {
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "distributions": {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]},
    }


def _write(report_path, report):
    tmp = report_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    os.replace(tmp, report_path)


def _run_notebook(entry, plan, work):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = os.path.join(work, entry["path"])
    nb = nbformat.read(path, as_version=4)
    current = {"cell": None}

    def on_cell_start(cell, cell_index):
        current["cell"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name=plan["kernel"],
        timeout=plan["cell_timeout"],
        allow_errors=entry["allow_errors"],
        resources={"metadata": {"path": os.path.dirname(path)}},
        on_cell_start=on_cell_start,
    )
    outcome = {"path": entry["path"], "status": "completed", "cell": None, "ename": None, "evalue": None}
    started = time.time()
    try:
        client.execute(cwd=os.path.dirname(path))
    except CellExecutionError as exc:
        outcome.update(status="cell_error", cell=current["cell"], ename=exc.ename, evalue=exc.evalue)
    except CellTimeoutError:
        outcome.update(status="timeout", cell=current["cell"])
    except DeadKernelError as exc:
        outcome.update(status="kernel_died", cell=current["cell"], evalue=str(exc).splitlines()[0] if str(exc) else "")
    finally:
        outcome["seconds"] = round(time.time() - started, 3)
    nbformat.write(nb, path)
    return outcome


def main(plan_path, report_path):
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    work = plan["work_dir"]
    report = {"environment": _environment(), "notebooks": [], "running": None, "error": None, "finished": False}
    _write(report_path, report)
    try:
        for entry in plan["notebooks"]:
            report["running"] = entry["path"]
            _write(report_path, report)
            outcome = _run_notebook(entry, plan, work)
            report["notebooks"].append(outcome)
            _write(report_path, report)
            if outcome["status"] != "completed":
                break
    except Exception as exc:  # the runner itself failed: say how, for the verdict's cause
        report["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    report["finished"] = True
    _write(report_path, report)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
