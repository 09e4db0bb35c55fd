"""Runs inside the sandbox (container or local virtualenv): execute the plan's
notebooks in order and report what happened, as JSON.

Standalone on purpose: it runs with the rebuilt environment's interpreter, where
repropack is not installed, so it may use only the standard library and the
runtime distributions every lock carries (nbclient, nbformat, ipykernel).
The report is rewritten after every notebook, so a sandbox killed for time or
memory still leaves what was done. The notebooks can write where the report is,
so the host reads it as hostile data (sandbox/report.py) that can only make a
verdict worse.

    python runner.py PLAN.json REPORT.json
"""

import json
import os
import re
import sys
import time
import traceback


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
    recorded = shown_errors(nb)  # the notebook in the work dir is the recorded run, outputs and all
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
    if outcome["status"] != "completed":
        # Errors a cell showed without raising (IPython's %run prints a script's traceback and goes on),
        # in the cells that ran; the cells after the failing one still hold the recorded outputs.
        ran = current["cell"] if current["cell"] is not None else len(nb.cells) - 1
        outcome["shown_errors"] = [e for e in shown_errors(nb) if e["cell"] <= ran]
        outcome["recorded_errors"] = [e for e in recorded if e["cell"] <= ran]
    nbformat.write(nb, path)
    return outcome


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_START = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"^(?P<ename>[A-Za-z_][\w.]*)(?::(?: (?P<evalue>.*))?)?$")


def _printed_exception(text):
    """(ename, evalue) of the first Python traceback printed in ``text``, None when it holds none."""
    lines = _ANSI.sub("", text).splitlines()
    for start, line in enumerate(lines):
        if line.strip() != _TRACEBACK_START:
            continue
        for candidate in lines[start + 1 :]:
            if not candidate or candidate[0].isspace():
                continue  # the frames of the traceback are indented
            match = _EXCEPTION_LINE.match(candidate.rstrip())
            if match:
                return match["ename"].rpartition(".")[2], match["evalue"] or ""
            break
    return None


def shown_errors(nb):
    """Each error a cell showed, in order: error outputs, and tracebacks printed to stdout or stderr.

    ``{"cell": index, "ename", "evalue", "via": "error output" | "printed traceback"}``.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", ()):
            kind = output.get("output_type")
            if kind == "error":
                ename = output.get("ename", "")
                found.append({"cell": index, "ename": ename, "evalue": output.get("evalue", ""), "via": "error output"})
            elif kind == "stream":
                printed = _printed_exception(output.get("text", ""))
                if printed:
                    found.append({"cell": index, "ename": printed[0], "evalue": printed[1], "via": "printed traceback"})
    return found


def main(plan_path, report_path):
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    work = plan["work_dir"]
    # No facts about the environment: the notebooks could forge them here; the host probes the image itself.
    report = {"notebooks": [], "running": None, "error": None, "finished": False}
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
