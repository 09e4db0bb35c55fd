"""Tables read from output files for disclosure control: CSV/TSV files and the HTML tables of notebook outputs.

What a caller may rely on: nothing is executed or fetched; a file is read from the bytes given, never
by a name found in it. Every read is bounded: a file past ``MAX_FILE_BYTES`` or a table past
``MAX_CELLS`` cells is refused with a one-line ``BadInput`` naming the file, as is a file that claims
to be tabular (by its suffix) and cannot be parsed as such. Cells are kept as shown (text, stripped);
the first column holds the row labels.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any

from repropack.errors import BadInput

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_CELLS = 1_000_000
MAX_NESTING = 16  # tables inside table cells: pandas never nests; deeper is hostile
MAX_SPAN = 1000  # colspan/rowspan honoured up to this

DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
NOTEBOOK = ".ipynb"
DISPLAYED = ("execute_result", "display_data")


@dataclass(frozen=True)
class Table:
    """One table: ``source`` the file's path, ``name`` "" for a CSV/TSV file or "cell C, output O, table T"
    (1-based) for a notebook's table. Every row has the header's width (short rows are padded with "")."""

    source: str
    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def suffix(path: str) -> str:
    return PurePosixPath(path).suffix.lower()


def is_tabular(path: str) -> bool:
    """True for the files ``read_tables`` reads (by suffix)."""
    return suffix(path) in DELIMITED or suffix(path) == NOTEBOOK


def read_tables(path: str, data: bytes) -> list[Table] | None:
    """The tables in ``data`` (the file at package path ``path``), or None when the file is not tabular.

    A CSV/TSV file is one table (none when empty); a notebook holds every ``<table>`` of the
    ``text/html`` data of its ``execute_result`` and ``display_data`` outputs. Raises BadInput (one
    line naming ``path``) for a file too large, a table too large, undecodable or malformed content.
    """
    check_size(path, data)
    if suffix(path) in DELIMITED:
        rows = [row for row in csv_rows(path, data)[0] if row]  # blank lines hold no cells
        return [rectangular(path, "", rows)] if rows else []
    if suffix(path) == NOTEBOOK:
        return [table for _, _, tables in notebook_tables(path, load_notebook(path, data)) for table in tables]
    return None


def check_size(path: str, data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{path}: too large for disclosure control ({len(data)} bytes; the limit is {MAX_FILE_BYTES})")


def rectangular(path: str, name: str, rows: list[list[str]]) -> Table:
    width = max(len(row) for row in rows)
    padded = [tuple(row) + ("",) * (width - len(row)) for row in rows]
    return Table(source=path, name=name, header=padded[0], rows=tuple(padded[1:]))


# --- CSV / TSV ---------------------------------------------------------------------------------


def csv_text(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadInput(f"{path}: not UTF-8 text (byte {error.start}); cannot check it for disclosure") from None


def csv_rows(path: str, data: bytes) -> tuple[list[list[str]], str]:
    """The rows of a delimited file (cells as written, not stripped) and its delimiter; bounded by ``MAX_CELLS``."""
    check_size(path, data)
    delimiter = DELIMITED.get(suffix(path), ",")
    text = csv_text(path, data)
    budget = _Budget(path)
    rows: list[list[str]] = []
    try:
        for row in csv.reader(budget.lines(text, delimiter), delimiter=delimiter):
            budget.row_done(len(row))
            rows.append(row)
    except csv.Error as error:
        raise BadInput(
            f"{path}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} (line {budget.line}: {error})"
        ) from None
    return rows, delimiter


class _Budget:
    """Keeps csv.reader from building a huge row: counts the delimiters fed since the last row."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cells = 0
        self.pending = 0
        self.line = 0

    def lines(self, text: str, delimiter: str) -> Iterator[str]:
        for line in text.splitlines(keepends=True):
            self.line += 1
            self.pending += line.count(delimiter) + 1
            if self.pending > MAX_CELLS:  # one row would be past the limit: refuse before csv builds it
                self.refuse()
            yield line

    def row_done(self, width: int) -> None:
        self.cells += width
        self.pending = 0
        if self.cells > MAX_CELLS:
            self.refuse()

    def refuse(self) -> None:
        raise BadInput(f"{self.path}: more than {MAX_CELLS} cells; too large for disclosure control")


# --- notebooks ---------------------------------------------------------------------------------


def load_notebook(path: str, data: bytes) -> dict[str, Any]:
    """The notebook's JSON, checked to be an object with a ``cells`` list (BadInput otherwise)."""
    check_size(path, data)
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput(f"{path}: not a notebook (not JSON); cannot check it for disclosure") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise BadInput(f"{path}: not a notebook (no list of cells); cannot check it for disclosure")
    return notebook


def displayed_outputs(path: str, notebook: dict[str, Any]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(cell number, output number, output) for every output shown as rich data; both numbers 1-based."""
    for c, cell in enumerate(notebook["cells"], start=1):
        outputs = cell.get("outputs", []) if isinstance(cell, dict) else None
        if not isinstance(outputs, list):
            raise BadInput(f"{path}: not a notebook (cell {c} is malformed)")
        for o, output in enumerate(outputs, start=1):
            if not isinstance(output, dict):
                raise BadInput(f"{path}: not a notebook (cell {c}, output {o} is malformed)")
            if output.get("output_type") in DISPLAYED:
                if not isinstance(output.get("data", {}), dict):
                    raise BadInput(f"{path}: not a notebook (cell {c}, output {o} has malformed data)")
                yield c, o, output


def mime_text(path: str, where: str, value: object) -> str:
    """A notebook mime bundle's text: a string or a list of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise BadInput(f"{path}: not a notebook ({where} is neither text nor a list of text)")


def notebook_tables(path: str, notebook: dict[str, Any]) -> list[tuple[int, int, list[Table]]]:
    """(cell, output, its tables) for each displayed output that has an HTML table."""
    found = []
    cells = 0
    for c, o, output in displayed_outputs(path, notebook):
        html = output.get("data", {}).get("text/html")
        if html is None:
            continue
        prefix = f"cell {c}, output {o}"
        tables = html_tables(path, prefix, mime_text(path, prefix, html))
        cells += sum(len(t.header) * (len(t.rows) + 1) for t in tables)
        if cells > MAX_CELLS:
            raise BadInput(f"{path}: more than {MAX_CELLS} cells in its tables; too large for disclosure control")
        if tables:
            found.append((c, o, tables))
    return found


def html_tables(path: str, prefix: str, html: str) -> list[Table]:
    """Every ``<table>`` in ``html``, named "PREFIX, table N" in document order of their opening tags."""
    parser = _TableParser(path)
    parser.feed(_tamed(html))
    parser.close()
    return [
        _html_table(path, f"{prefix}, table {n}", grid)
        for n, grid in enumerate((grid for _, grid in sorted(parser.finished)), start=1)
        if grid.rows
    ]


_LONE_OPEN = re.compile(r"<(?![^<>]*>)")  # a "<" that no ">" closes before the next "<"
_DECLARATION = re.compile(r"<(?=[!?])")


def _tamed(html: str) -> str:
    """``html`` without what makes html.parser slow (quadratic) and holds no table: comments (an unclosed
    one runs to the end, as in a browser), declarations, processing instructions and every "<" that does
    not open a complete tag become text or go. Linear in the length of ``html``."""
    kept = []
    start = 0
    while (comment := html.find("<!--", start)) != -1:
        kept.append(html[start:comment])
        end = html.find("-->", comment + 4)
        start = len(html) if end == -1 else end + 3
    kept.append(html[start:])
    return _LONE_OPEN.sub("&lt;", _DECLARATION.sub("&lt;", "".join(kept)))


class _Grid:
    """A table being parsed: header rows (``thead``) and body rows, spans expanded."""

    def __init__(self) -> None:
        self.rows: list[tuple[bool, list[str]]] = []  # (in thead, cells)
        self.in_head = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.header_row = True  # every cell of the current row is a <th>
        self.span = (1, 1)
        self.carried: dict[int, tuple[int, str]] = {}  # column -> (rows still spanned, text)


class _TableParser(HTMLParser):
    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.open: list[tuple[int, _Grid]] = []
        self.finished: list[tuple[int, _Grid]] = []
        self.started = 0
        self.cells = 0
        self.skipping = 0  # inside <script>/<style>: their text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
            return
        if tag == "table":
            if len(self.open) >= MAX_NESTING:
                raise BadInput(f"{self.path}: HTML tables nested more than {MAX_NESTING} deep")
            self.open.append((self.started, _Grid()))
            self.started += 1
            return
        if not self.open:
            return
        grid = self.open[-1][1]
        if tag == "thead":
            grid.in_head = True
        elif tag in ("tbody", "tfoot"):
            grid.in_head = False
        elif tag == "tr":
            self._end_row(grid)
            grid.row, grid.header_row = [], True
            self._fill_carried(grid)
        elif tag in ("td", "th"):
            if grid.row is None:
                grid.row, grid.header_row = [], True
                self._fill_carried(grid)
            self._end_cell(grid)
            grid.cell = []
            grid.header_row = grid.header_row and tag == "th"
            values = dict(attrs)
            grid.span = (_span(values.get("colspan")), _span(values.get("rowspan")))
        elif tag == "br" and grid.cell is not None:
            grid.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping = max(0, self.skipping - 1)
            return
        if not self.open:
            return
        grid = self.open[-1][1]
        if tag == "table":
            self._finish()
        elif tag in ("td", "th"):
            self._end_cell(grid)
        elif tag == "tr":
            self._end_row(grid)
        elif tag == "thead":
            self._end_row(grid)
            grid.in_head = False

    def handle_data(self, data: str) -> None:
        if self.skipping or not self.open:
            return
        grid = self.open[-1][1]
        if grid.cell is not None:
            grid.cell.append(data)

    def close(self) -> None:
        super().close()
        while self.open:  # unclosed tables end with the document
            self._finish()

    def _finish(self) -> None:
        order, grid = self.open.pop()
        self._end_row(grid)
        self.finished.append((order, grid))
        if self.open and self.open[-1][1].cell is not None:
            self.open[-1][1].cell.append(" ")  # the inner table's text is not the outer cell's

    def _end_cell(self, grid: _Grid) -> None:
        if grid.cell is None or grid.row is None:
            return
        text = " ".join("".join(grid.cell).split())
        columns, rows = grid.span
        for _ in range(columns):
            if rows > 1:
                grid.carried[len(grid.row)] = (rows - 1, text)
            self._add(grid, text)
            self._fill_carried(grid)
        grid.cell = None

    def _end_row(self, grid: _Grid) -> None:
        self._end_cell(grid)
        if grid.row is not None:
            if grid.row:
                grid.rows.append((grid.in_head or (grid.header_row and not grid.rows), grid.row))
            grid.row = None

    def _fill_carried(self, grid: _Grid) -> None:
        """Cells of earlier rows' rowspans that reach into this row, at the current position."""
        assert grid.row is not None
        while len(grid.row) in grid.carried:
            left, text = grid.carried[len(grid.row)]
            if left > 1:
                grid.carried[len(grid.row)] = (left - 1, text)
            else:
                del grid.carried[len(grid.row)]
            self._add(grid, text)

    def _add(self, grid: _Grid, text: str) -> None:
        assert grid.row is not None
        self.cells += 1
        if self.cells > MAX_CELLS:
            raise BadInput(f"{self.path}: more than {MAX_CELLS} cells in its HTML tables; too large to check")
        grid.row.append(text)


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or "1"), 1), MAX_SPAN)
    except ValueError:
        return 1


def _html_table(path: str, name: str, grid: _Grid) -> Table:
    """The header is the header rows merged column by column (pandas writes the index name on a
    second header row); a table without header rows takes its first row as the header."""
    head = [cells for in_head, cells in grid.rows if in_head]
    body = [cells for in_head, cells in grid.rows if not in_head]
    if not head:
        head, body = [body[0]], body[1:]
    width = max(len(cells) for _, cells in grid.rows)
    merged = []
    for column in range(width):
        parts = [row[column] for row in head if column < len(row) and row[column]]
        merged.append(" / ".join(dict.fromkeys(parts)))
    return rectangular(path, name, [merged, *body])
