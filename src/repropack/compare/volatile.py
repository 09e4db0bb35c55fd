"""Text in outputs that changes from run to run and never carries a result.

The notebook rule masks or drops it by default, and the text rule drops
progress reports and masks random ids in markup files, so two runs that
computed the same results compare equal. Dates and times are another such
kind, recognised against the runs' windows: see ``repropack.compare.clock``.
"""

from __future__ import annotations

import re

#: Matches are replaced by <masked> in every text output (streams, reprs, errors).
VOLATILE_MASKS = (
    # Memory addresses in reprs: <Model object at 0x7f3a2c1d9e50>.
    r"0x[0-9a-fA-F]{6,}",
    # %timeit: "123 ms ± 4.5 ms per loop (mean ± std. dev. of 7 runs, 1 loop each)".
    r"^.*\bper loop \(mean (?:±|\+-) std\. dev\. of .*$",
    # %timeit before IPython 7: "100 loops, best of 3: 2.3 ms per loop".
    r"^\d+ loops?, best of \d+: .* per loop$",
    # %time: "CPU times: user 1.2 s, sys: 40 ms, total: 1.24 s" and "Wall time: 1.3 s".
    r"^CPU times: .*$",
    r"^Wall time: .*$",
    # The per-process file a cell is compiled as, named in warnings and tracebacks:
    # /tmp/ipykernel_12345/2718281828.py.
    r"\S*ipykernel_\d+[/\\]\d+\.py",
    # Where the libraries are installed, named in warnings: the exporting host's
    # virtualenv and the replay image's differ, the warning does not.
    r"\S*[/\\](?:site|dist)-packages(?=[/\\])",
)

#: Masked in markup a notebook or a file shows (HTML, JavaScript, SVG): identifiers that
#: plotting and widget libraries draw at random for each run, like memory addresses.
RANDOM_ID_MASKS = (
    # uuid4 (and any other RFC 4122 UUID): plotly's <div id="3f2c1a8e-...">, bokeh's docid
    # and render items, ipywidgets' model ids.
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    # uuid4().hex: altair's "altair-viz-<32 hex>", ipywidgets' model ids in saved state.
    r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])",
    # pandas Styler tables: id="T_8b3f4" and CSS selectors like #T_8b3f4_row0_col0.
    r"\bT_[0-9a-f]{5}(?=[_\"'\s.#:,]|$)",
    # matplotlib's SVG ids (salted with a uuid4 unless svg.hashsalt is set): the
    # definitions (id="m12182799ac", id="C0_0_8f3a1b2c4d") and their references
    # (xlink:href="#m12182799ac", clip-path="url(#pcf746ecc4d)").
    r"(?:(?<=id=\")|(?<=href=\"#)|(?<=url\(#))\w*?[0-9a-f]{10}(?=[\")])",
)

#: The MIME types of a notebook output whose text is markup, masked with RANDOM_ID_MASKS.
MARKUP_TYPES = frozenset({"text/html", "application/javascript", "text/javascript", "image/svg+xml"})

#: The file suffixes of markup files, masked with RANDOM_ID_MASKS by the text rule.
MARKUP_SUFFIXES = frozenset({".html", ".htm", ".js", ".svg", ".xhtml"})

#: Lines removed from any stream because some runs print them and others do not.
VOLATILE_LINE = re.compile(r"^The slowest run took .* times longer than the fastest\.")

#: Progress reporters, by their shapes. Their number of updates, timings and
#: rates vary from run to run; they are never a result. A line (what follows
#: its last carriage return, as a terminal shows it; ANSI colours ignored)
#: that matches one of these is dropped from stdout and stderr alike, and
#: from the text rule's files:
#:
#: - tqdm with a total: ``45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]``, with any description
#:   before it and any postfix inside the brackets, ascii bars (``45%|####5     |``) included;
#: - tqdm without a total: ``45it [00:01, 30.10it/s]``, ``12.3MB [00:02, 5.1MB/s]``;
#: - dask's ``ProgressBar``: ``[########################################] | 100% Completed | 1.2 s``;
#: - fastprogress (PyMC, fastai): ``100.00% [8000/8000 00:02<00:00 Sampling 4 chains, 0 divergences]``;
#: - pip's and rich's download bars: ``━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1.2/1.2 MB 3.4 MB/s eta 0:00:00``.
PROGRESS_LINES: dict[str, re.Pattern[str]] = {
    "tqdm": re.compile(r"\d{1,3}%\|[^|]*\|.*\[(?:\d+:)?\d\d:\d\d<(?:(?:\d+:)?\d\d:\d\d|\?)"),
    "tqdm without total": re.compile(
        r"^(?:.*: )?\s*\d+(?:\.\d+)?[kMGTPEZY]?\w* \[(?:\d+:)?\d\d:\d\d, *[^\]]*(?:/s|s/\w+|\?\w+/s)[^\]]*\]\s*$"
    ),
    "dask": re.compile(r"^\s*\[[#\s]*\] \| *\d{1,3}% Completed \| *\d+(?:\.\d+)? ?(?:s|ms|us|min|hr)\s*$"),
    "fastprogress": re.compile(r"\d{1,3}\.\d\d% \[\d+/\d+ (?:\d+:)?\d\d:\d\d(?:<(?:\d+:)?\d\d:\d\d)?[^\]]*\]"),
    "pip": re.compile(r"^\s*[━╸╺ ]+ [\d.]+/[\d.]+ [kMG]?i?B [\d.]+ [kMG]?i?B/s eta (?:\d+:)?\d+:\d\d\s*$"),
}

#: Progress lines kept, their volatile part masked: Keras ``fit`` prints each step's
#: metrics, which are results, after a bar and timings, which are not:
#: ``32/32 [==============================] - 1s 10ms/step - loss: 0.6931`` (Keras 2),
#: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 10ms/step - accuracy: 0.5 - loss: 0.6931`` (Keras 3), and
#: with ``verbose=2``: ``32/32 - 1s - loss: 0.6931 - 31ms/epoch - 1ms/step``. The
#: ``Epoch 1/5`` lines between them carry no timing and are compared as they are.
KERAS_PROGRESS = re.compile(r"^(?P<steps>\s*\d+/\d+) (?:\[[=>.]*\]|━+)?(?P<rest>.*)$")
KERAS_TIMING = re.compile(
    r" ?(?:- )?(?:ETA: (?:\d+:)*\d+s?|\d+(?:\.\d+)?(?:s|ms|us|µs)(?:/(?:step|sample|epoch))?)(?= - | |$)"
)

#: ANSI escape sequences (colours, bold), which some progress reporters print.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: Lines removed from stderr only: anything with a tqdm-like ``%|`` or an ``it/s]``
#: rate, the looser match this rule has always applied where tqdm writes by default.
PROGRESS_BAR = re.compile(r"%\||it/s\]|s/it\]")


def progress_line(line: str) -> str | None:
    """The line as compared: None when it is a progress report to drop, else the line
    with a Keras progress line's bar and timings masked."""
    if not any(mark in line for mark in _PROGRESS_MARKS):
        return line  # the common case, decided without a regular expression
    plain = ANSI_ESCAPE.sub("", line) if "\x1b" in line else line
    if any(shape.search(plain) for shape in PROGRESS_LINES.values()):
        return None
    keras = KERAS_PROGRESS.match(plain)
    if keras and _is_keras(keras["rest"]):
        rest = KERAS_TIMING.sub("", keras["rest"])
        return f"{keras['steps']} <progress>{rest}"
    return line


# Every progress shape above has one of these: tqdm, dask and fastprogress a "%" or "[",
# pip a "━", Keras the "/" of its step count.
_PROGRESS_MARKS = ("%", "[", "━", "/")


def _is_keras(rest: str) -> bool:
    # "32/32 [===...] - 1s 10ms/step - loss: ..." or "32/32 - 1s - loss: ...": a timing must follow.
    return bool(re.match(r"\s*(?:- )?(?:ETA: |\d+(?:\.\d+)?(?:s|ms|us|µs)\b)", rest))
