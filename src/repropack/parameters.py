"""Notebook parameters: values injected into a notebook's ``parameters`` cell, papermill's way.

A notebook declares its defaults in a cell tagged ``parameters``; export (``-p NAME
VALUE``, ``--parameters-file FILE.yaml``, ``[parameters]`` in repropack.toml) and a
what-if replay put the given values in a new cell tagged ``injected-parameters`` right
after it, with papermill's ``parameterize_notebook`` and its Python translator, so a
value is always a literal (a string that looks like code stays a string). A table of
parameters maps names to values, and may map a notebook's path (``"analysis.ipynb"``,
never an identifier) to a table of values for that notebook only.

Values are what papermill and the package metadata (JSON) both carry: None, booleans,
integers, finite floats, strings, lists and string-keyed mappings of these, bounded in
count and depth. ``-p`` values are typed as papermill's own ``-p`` types them (``True``,
``False``, ``None``, integers, floats, else the text). papermill is imported only when
there are parameters: its import costs about a third of a second.
"""

from __future__ import annotations

import json
import keyword
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repropack.errors import BadInput
from repropack.fs.bounded import UnsafeData, read_json_file, read_regular_file
from repropack.model import NotebookRun, RunStatus, layout

if TYPE_CHECKING:
    from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
#: The comment papermill's cell opens with ("# Parameters").
_COMMENT = "Parameters"
#: The most a parameters file may hold; values (scalars, lists and mappings, aliases expanded) and nesting.
MAX_FILE_BYTES = 2**20
MAX_VALUES = 10_000
MAX_DEPTH = 32


def is_notebook_key(key: str) -> bool:
    """A key of a parameters table that names a notebook (its per-notebook table) rather than a parameter."""
    return key.endswith(".ipynb")


def typed_cli_value(text: str) -> Any:
    """``text`` typed as ``papermill -p NAME VALUE`` types it: True/False/None, an int, a float, else the text."""
    from papermill.cli import _resolve_type  # papermill's own rule, so a value means what it means to papermill

    return _resolve_type(text)


def parse_cli_pairs(pairs: Sequence[tuple[str, str]], flag: str = "--parameter") -> dict[str, Any]:
    """``-p NAME VALUE`` pairs as a checked table (later pairs win); BadInput naming the flag."""
    table = {name: typed_cli_value(value) for name, value in pairs}
    return check_table(table, flag, notebooks_allowed=False)


def read_parameters_file(path: Path) -> dict[str, Any]:
    """A YAML (or JSON) file of parameters, read as papermill's ``-f`` reads it (no dates), within limits.

    Read as a regular file of at most ``MAX_FILE_BYTES``; the document must be a mapping of
    names (and notebook paths) to values. BadInput naming the file for anything else.
    """
    import yaml
    from papermill.iorw import NoDatesSafeLoader

    shown = str(path)
    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES, what=shown)
    except UnsafeData as exc:
        raise BadInput(f"--parameters-file {exc}") from None
    try:
        loaded = yaml.load(data, Loader=NoDatesSafeLoader)  # a SafeLoader, without timestamps
    except yaml.YAMLError as exc:
        reason = str(exc).replace("\n", " ")[:200]
        raise BadInput(f"--parameters-file {shown}: not YAML: {reason}") from None
    except RecursionError:
        raise BadInput(f"--parameters-file {shown}: nested deeper than {MAX_DEPTH} levels") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise BadInput(f"--parameters-file {shown}: must be a mapping of parameter names to values")
    return check_table(loaded, f"--parameters-file {shown}")


def check_table(table: Mapping[Any, Any], where: str, *, notebooks_allowed: bool = True) -> dict[str, Any]:
    """``table`` checked: identifier names, values of the types above within the limits, per-notebook tables.

    Returns a plain dict (lists stay lists). BadInput naming ``where`` and the parameter.
    """
    budget = [MAX_VALUES]
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(key, str) and notebooks_allowed and is_notebook_key(key):
            if not isinstance(value, Mapping):
                raise BadInput(f"{where}: {key!r} names a notebook: its value must be a table of parameters")
            out[key] = {
                _name(k, f"{where} [{key}]"): _value(v, f"{where}: {key} {k}", budget) for k, v in value.items()
            }
            continue
        out[_name(key, where)] = _value(value, f"{where}: parameter {key}", budget)
    return out


def _name(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key) or not key.isascii():
        raise BadInput(
            f"{where}: parameter name {key!r} is not a Python identifier (letters, digits and _, not a keyword)"
        )
    return key


def _value(value: Any, where: str, budget: list[int], depth: int = 0) -> Any:
    """``value`` as a plain JSON-able value; counts every value against ``budget`` (aliases count each time)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise BadInput(f"{where}: more than {MAX_VALUES} values in all")
    if depth > MAX_DEPTH:
        raise BadInput(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadInput(f"{where}: {value} is not a finite number (the package metadata is JSON)")
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput(f"{where}: the value is not valid UTF-8 text") from None
        return value
    if isinstance(value, (list, tuple)):
        return [_value(item, where, budget, depth + 1) for item in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadInput(f"{where}: mapping key {key!r} is not a string")
            out[key] = _value(item, where, budget, depth + 1)
        return out
    raise BadInput(
        f"{where}: a {type(value).__name__} is no parameter value (use numbers, text, booleans, lists, mappings)"
    )


def merge(lower: Mapping[str, Any], upper: Mapping[str, Any]) -> dict[str, Any]:
    """``upper`` over ``lower``: its values for all notebooks win over ``lower``'s for one notebook too."""
    out = {k: (dict(v) if is_notebook_key(k) else v) for k, v in lower.items()}
    for key, value in upper.items():
        if is_notebook_key(key):
            out[key] = {**out.get(key, {}), **value}
            continue
        out[key] = value
        for other in out:
            if is_notebook_key(other):
                out[other].pop(key, None)
    return {k: v for k, v in out.items() if not (is_notebook_key(k) and not v)}


def for_notebook(table: Mapping[str, Any], notebook: str) -> dict[str, Any]:
    """The values ``notebook`` gets: the table's values for every notebook, then its own."""
    common = {k: v for k, v in table.items() if not is_notebook_key(k)}
    return {**common, **dict(table.get(notebook, {}))}


def unknown_notebooks(table: Mapping[str, Any], notebooks: Sequence[str]) -> list[str]:
    """The notebook keys of ``table`` that name none of ``notebooks``."""
    return sorted(k for k in table if is_notebook_key(k) and k not in notebooks)


def has_parameters_cell(nb: NotebookNode) -> bool:
    return any(PARAMETERS_TAG in (cell.get("metadata", {}).get("tags") or ()) for cell in nb.cells)


def inject(nb: NotebookNode, parameters: Mapping[str, Any], kernel: str) -> NotebookNode:
    """``nb`` with ``parameters`` injected by papermill (after the ``parameters`` cell, or replacing a
    previous ``injected-parameters`` cell; at the top when it has neither: the caller warns).

    Only the injected cell and ``metadata.papermill.parameters`` are added: the ``tags`` papermill
    needs on every cell are taken off again where the notebook had none.
    """
    import nbformat
    from papermill.parameterize import parameterize_notebook

    untagged = [cell for cell in nb.cells if "tags" not in cell.metadata]
    for cell in untagged:
        cell.metadata["tags"] = []
    nb.metadata.setdefault("papermill", nbformat.NotebookNode())
    logging.getLogger("papermill").addHandler(logging.NullHandler())  # our own warning names the notebook
    logging.getLogger("papermill").propagate = False
    try:
        nb = parameterize_notebook(nb, dict(parameters), kernel_name=kernel, language="python", comment=_COMMENT)
    finally:
        for cell in untagged:
            if cell.metadata.get("tags") == []:
                del cell.metadata["tags"]
    return nb


def injected_source(parameters: Mapping[str, Any], kernel: str) -> str:
    """The source papermill writes in the ``injected-parameters`` cell for ``parameters``."""
    from papermill.translators import translate_parameters

    return translate_parameters(kernel, "python", dict(parameters), _COMMENT)


def _source(cell: Any) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""


def injected_cells(notebook: Any) -> list[str]:
    """The sources of ``notebook``'s cells tagged ``injected-parameters`` (a notebook as parsed JSON)."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    found = []
    for cell in cells if isinstance(cells, list) else ():
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if isinstance(tags, list) and INJECTED_TAG in tags:
            found.append(_source(cell))
    return found


def verify_injected(notebook: Any, parameters: Mapping[str, Any], kernel: str, where: str) -> None:
    """BadInput unless ``notebook`` (parsed JSON) runs exactly ``parameters`` (some): one injected cell
    whose source is papermill's for them, and papermill's metadata agreeing when it names any."""
    cells = injected_cells(notebook)
    forged = f"{where}: the recorded parameters and the notebook's injected-parameters cell disagree"
    if len(cells) != 1:
        raise BadInput(f"{forged} (the notebook has {len(cells)} injected-parameters cells, not one)")
    if cells[0] != injected_source(parameters, kernel):
        raise BadInput(f"{forged}: a forged package; it is not replayed")
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    papermill = metadata.get("papermill") if isinstance(metadata, dict) else None
    recorded = json.dumps(dict(parameters), sort_keys=True)
    if (
        isinstance(papermill, dict)
        and "parameters" in papermill
        and json.dumps(papermill["parameters"], sort_keys=True) != recorded
    ):
        raise BadInput(f"{forged} (metadata.papermill.parameters differs): a forged package; it is not replayed")


#: The most a packaged notebook may hold when its injected cell is checked (as replay reads executed ones).
NOTEBOOK_LIMIT = 256 * 2**20
NOTEBOOK_DEPTH = 256


def verify_recorded(root: Path, source: Path, runs: Sequence[NotebookRun], setting: Any = None) -> None:
    """BadInput unless each run's recorded parameters are those the ``parameters`` setting (``setting``;
    None for a package exported before it existed) gives its notebook, and exactly what its packaged
    notebook's injected cell runs: a package where they disagree is forged.

    A notebook that records no parameters runs as packaged: an injected cell it holds (from an earlier
    papermill run of the source notebook) is its own code, like any other cell.
    """
    if setting is not None and not isinstance(setting, Mapping):
        raise BadInput(f"{source}: {layout.SETTINGS} records parameters that are not a table")
    table = check_table(setting or {}, f"{source}: {layout.SETTINGS} parameters")
    for run in (run for run in runs if run.status is not RunStatus.NOT_EXECUTED):
        where = f"{source}: {run.notebook}"
        recorded = check_table(run.parameters, f"{where}: recorded parameters")
        if setting is not None and not same_value(for_notebook(table, run.notebook), recorded):
            raise BadInput(
                f"{where}: the parameters {layout.SETTINGS} records and those of its run disagree: "
                "a forged package; it is not replayed"
            )
        if recorded:
            verify_injected(
                _packaged_notebook(root / run.notebook, where), recorded, run.kernel_name or "python3", where
            )


def _packaged_notebook(path: Path, where: str) -> Any:
    try:
        return read_json_file(path, limit=NOTEBOOK_LIMIT, max_depth=NOTEBOOK_DEPTH, what=where)
    except UnsafeData as exc:
        raise BadInput(f"{exc}: its parameters cannot be checked") from None


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same as the metadata carries them: 1, 1.0 and True differ."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def shown(parameters: Mapping[str, Any]) -> str:
    """``name=value, ...`` as one line, values as JSON (the terminal escapes what it prints)."""
    return ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in parameters.items())
