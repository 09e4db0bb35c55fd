"""Which rules apply to a file, which of its columns are counts, and whether it is checked at all.

Globs are ``fnmatch`` patterns matched case-sensitively against the whole package path ("*" also
crosses "/", so "*.csv" matches "outputs/t.csv").
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from repropack.model.disclosure import DisclosureRules


def effective_rules(rules: DisclosureRules, path: str) -> DisclosureRules:
    """The rules for ``path``: those of the first ``overrides`` glob (in declaration order) that matches it,
    else ``rules``. An override holds the complete rules for its files (``disclosure.rules`` builds it
    from the base rules with the fields the file table sets replaced)."""
    for glob, override in rules.overrides.items():
        if fnmatchcase(path, glob):
            return override
    return rules


def count_columns(rules: DisclosureRules, path: str, header: Sequence[str]) -> list[int]:
    """Indexes (sorted) of the columns of ``header`` that ``rules.counts`` declares as counts in ``path``.

    A pattern is a column glob ("n", "count_*") or "FILE-GLOB:COLUMN-GLOB" (split at the first ":").
    The first column holds the row labels: it is a count only when a pattern names it exactly.
    Pass the file's effective rules (``effective_rules``).
    """
    found: set[int] = set()
    for pattern in rules.counts:
        file_glob, _, column_glob = pattern.partition(":") if ":" in pattern else ("*", "", pattern)
        if not fnmatchcase(path, file_glob):
            continue
        for index, column in enumerate(header):
            if index == 0:
                if column == column_glob:
                    found.add(0)
            elif fnmatchcase(column, column_glob):
                found.add(index)
    return sorted(found)


def is_checked(rules: DisclosureRules, path: str) -> bool:
    """True when ``rules.outputs`` is empty (everything given is checked) or one of its globs matches ``path``."""
    return not rules.outputs or any(fnmatchcase(path, glob) for glob in rules.outputs)
