"""Masking text that may differ between runs without changing a result."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: What a masked match is replaced with, so both sides read the same.
MASKED = "<masked>"


class TextMasks:
    """Regular expressions whose matches are replaced by ``MASKED``.

    Patterns are compiled with ``re.MULTILINE``, so ``^`` and ``$`` anchor at
    each line.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(re.compile(pattern, re.MULTILINE) for pattern in patterns)

    def apply(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(MASKED, text)
        return text
