"""The in-sandbox runner's reading of what cells showed: error outputs and printed tracebacks."""

from __future__ import annotations

import importlib.util

import nbformat

from repropack.sandbox.base import RUNNER


def _runner():
    spec = importlib.util.spec_from_file_location("repropack_runner_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PRINTED = (
    "\x1b[31mTraceback (most recent call last):\x1b[0m\n"
    '  File "/work/scripts/load.py", line 3, in <module>\n'
    "    root = os.environ['DATA_DIR']\n"
    "           ~~~~~~~~~~^^^^^^^^^^^^\n"
    '  File "<frozen os>", line 679, in __getitem__\n'
    "KeyError: 'DATA_DIR'\n"
)


def _notebook(*cells_outputs):
    nb = nbformat.v4.new_notebook()
    for outputs in cells_outputs:
        cell = nbformat.v4.new_code_cell("pass")
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def test_error_outputs_and_printed_tracebacks_are_found_in_cell_order():
    nb = _notebook(
        [{"output_type": "stream", "name": "stdout", "text": "loading\n"}],
        [{"output_type": "stream", "name": "stderr", "text": PRINTED}],
        [
            {"output_type": "error", "ename": "NameError", "evalue": "name 'rows' is not defined", "traceback": []},
        ],
    )
    assert _runner().shown_errors(nb) == [
        {"cell": 1, "ename": "KeyError", "evalue": "'DATA_DIR'", "via": "printed traceback"},
        {"cell": 2, "ename": "NameError", "evalue": "name 'rows' is not defined", "via": "error output"},
    ]


def test_a_dotted_exception_name_is_reduced_to_its_class_and_an_exception_without_message_kept():
    runner = _runner()
    text = 'Traceback (most recent call last):\n  File "x.py", line 1\nrequests.exceptions.ConnectionError: refused\n'
    assert runner._printed_exception(text) == ("ConnectionError", "refused")
    assert runner._printed_exception('Traceback (most recent call last):\n  File "x"\nStopIteration\n') == (
        "StopIteration",
        "",
    )


def test_text_that_only_mentions_errors_is_not_taken_for_a_traceback():
    runner = _runner()
    assert runner._printed_exception("ValueError: this line is a log message, no traceback before it\n") is None
    assert runner._printed_exception('Traceback (most recent call last):\n  File "x"\n') is None
    nb = _notebook([{"output_type": "stream", "name": "stdout", "text": "0 errors, 0 warnings\n"}])
    assert _runner().shown_errors(nb) == []
