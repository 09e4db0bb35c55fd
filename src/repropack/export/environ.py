"""Which of the kernel's environment variables a package records, to set them again at replay.

Only variables that change what a notebook computes or prints are recorded: the
hash seed (set and dict ordering of strings), the time zone, the locale, and the
thread counts of the numerical libraries (summation order, hence the last digits
of floats). A project names more with ``env = ["NAME", ...]`` (``--env NAME``).
The values are those the kernel saw when it started, before any cell ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Recorded whenever the kernel had them set.
RESULT_VARIABLES = frozenset(
    {
        "PYTHONHASHSEED",
        "TZ",
        "LANG",
        "LANGUAGE",
        "VECLIB_MAXIMUM_THREADS",
        "BLIS_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "CUBLAS_WORKSPACE_CONFIG",
    }
)
#: Every variable with one of these prefixes is recorded too.
RESULT_PREFIXES = ("LC_", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")


def is_result_variable(name: str) -> bool:
    return name in RESULT_VARIABLES or name.startswith(RESULT_PREFIXES)


def recorded_variables(environ: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The variables of ``environ`` a package records: the built-in ones set there and the ``extra`` names, sorted."""
    wanted = set(extra)
    return {
        name: value
        for name, value in sorted(environ.items())
        if isinstance(value, str) and (is_result_variable(name) or name in wanted)
    }
