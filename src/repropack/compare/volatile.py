"""Text in notebook outputs that changes from run to run and never carries a result.

The notebook rule masks or drops it by default, so two runs that computed the
same results compare equal.
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

#: Lines removed from any stream because some runs print them and others do not.
VOLATILE_LINE = re.compile(r"^The slowest run took .* times longer than the fastest\.")

#: Lines removed from stderr: progress bars (tqdm and the like), whose number
#: of updates and timings vary. Only on stderr, where they are written by
#: default: on stdout such a line may be a result.
PROGRESS_BAR = re.compile(r"%\||it/s\]|s/it\]")
