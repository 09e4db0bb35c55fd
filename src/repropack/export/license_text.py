"""Which SPDX license a project's LICENSE/COPYING text is, by its words; never a guess.

The text is compared word by word (lowercase, punctuation dropped, copyright lines
removed) with each license's own text, bundled in ``schemas/licenses/``. It is that
license only when the two differ by no more than a license's variable parts allow:
a title line before it, short replacements (a holder's name where the text says
"the copyright holder", another FSF address), a word or two dropped or added, and
for the texts that have one, the appendix after "END OF TERMS AND CONDITIONS" left
out. An added clause, a missing clause, another license or a mixture is not
recognised: the caller reports it and asks for ``license = "..."``.

No library fits (checked on PyPI: ``licenseid`` ranks candidates by fuzzy similarity,
so an MIT text with an extra clause would still come out MIT; ``scancode-toolkit``
is hundreds of megabytes), hence this small matcher.

The GPL and LGPL texts do not say "only" or "or later": the project's notice does.
A notice before the text that says "any later version" makes it ``-or-later``, one
that names the version without it ``-only``; with no notice the answer is ambiguous.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache

from repropack.resources import schema_path

#: SPDX id of each bundled text -> (id when a notice says "or later", id when it says "only"), for the GNU texts.
_GNU_VARIANTS = {
    "GPL-2.0": ("GPL-2.0-or-later", "GPL-2.0-only"),
    "GPL-3.0": ("GPL-3.0-or-later", "GPL-3.0-only"),
    "LGPL-2.1": ("LGPL-2.1-or-later", "LGPL-2.1-only"),
    "LGPL-3.0": ("LGPL-3.0-or-later", "LGPL-3.0-only"),
}
KNOWN = (
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "Apache-2.0",
    "GPL-2.0",
    "GPL-3.0",
    "LGPL-2.1",
    "LGPL-3.0",
    "MPL-2.0",
    "CC-BY-4.0",
    "CC0-1.0",
)

_COPYRIGHT_LINE = re.compile(r"^\s*(copyright\b|\(c\)|©|all rights reserved)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_END_OF_TERMS = ["end", "of", "terms", "and", "conditions"]
_LATER = re.compile(r"\bany later version\b")
_VERSION_NAMED = re.compile(r"\bversion [0-9.]+\b")

# What a license's variable parts may change (in words).
_MAX_TITLE = 12  # a heading before the text: "The MIT License (MIT)", "BSD 3-Clause License"
_MAX_NOTICE = 120  # a GNU "this program is free software ..." notice before the text
_MAX_REPLACED = 8  # one replacement, each side: a holder's name, an address
_MAX_REPLACED_TOTAL = 40
_MAX_INSERTED = 2  # one addition elsewhere
_MAX_DELETED = 3  # one omission
_MAX_CHANGED_SHARE = 0.05  # of the license's words, all differences together


@dataclass(frozen=True)
class Identified:
    """What the text is: ``spdx`` when it is one license, else None and ``note`` says why."""

    spdx: str | None
    note: str = ""


def words(text: str) -> list[str]:
    """The text as compared: copyright lines dropped, lowercase words, no punctuation."""
    kept = [line for line in text.splitlines() if not _COPYRIGHT_LINE.match(line)]
    return _WORD.findall("\n".join(kept).lower().replace("licence", "license"))


@cache
def _canonical(spdx: str) -> tuple[str, ...]:
    return tuple(words(schema_path(f"licenses/{spdx}.txt").read_text(encoding="utf-8")))


def _body(canonical: tuple[str, ...]) -> tuple[str, ...] | None:
    """The license up to "end of terms and conditions", when it has an appendix after it."""
    for i in range(len(canonical) - len(_END_OF_TERMS)):
        if list(canonical[i : i + len(_END_OF_TERMS)]) == _END_OF_TERMS:
            end = i + len(_END_OF_TERMS)
            return canonical[:end] if end < len(canonical) else None
    return None


def _differs_only_in_variable_parts(given: list[str], canonical: tuple[str, ...], gnu: bool) -> str | None:
    """The words before the license in ``given`` when the rest differs from ``canonical`` only in variable parts."""
    opcodes = difflib.SequenceMatcher(None, given, canonical, autojunk=False).get_opcodes()
    before = ""
    if opcodes and opcodes[0][0] != "equal":  # a title or notice before the text, or the text's own title left out
        op, g1, g2, c1, c2 = opcodes.pop(0)
        if g2 - g1 > (_MAX_NOTICE if gnu else _MAX_TITLE) or c2 - c1 > _MAX_TITLE:
            return None
        before = " ".join(given[g1:g2])
    replaced = changed = 0
    for op, g1, g2, c1, c2 in opcodes:
        if op == "equal":
            continue
        g, c = g2 - g1, c2 - c1
        changed += max(g, c)
        if op == "replace":
            if g > _MAX_REPLACED or c > _MAX_REPLACED:
                return None
            replaced += c
        elif (op == "insert" and g > _MAX_INSERTED) or (op == "delete" and c > _MAX_DELETED):
            return None
    if replaced > _MAX_REPLACED_TOTAL or changed > max(6, _MAX_CHANGED_SHARE * len(canonical)):
        return None
    return before


def _matches(given: list[str], spdx: str) -> str | None:
    """The words before the license in ``given`` when the rest is ``spdx``'s text; None when it is not."""
    canonical = _canonical(spdx)
    body = _body(canonical)
    gnu = spdx in _GNU_VARIANTS
    lead = _MAX_NOTICE if gnu else _MAX_TITLE
    for candidate in (canonical,) if body is None else (canonical, body):
        # Cheap bound first: aligning texts of very different lengths is slow and never a match.
        slack = max(6, _MAX_CHANGED_SHARE * len(candidate))
        if not len(candidate) - slack - _MAX_TITLE <= len(given) <= len(candidate) + slack + lead:
            continue
        before = _differs_only_in_variable_parts(given, candidate, gnu)
        if before is not None:
            return before
    return None


def identify(text: str) -> Identified:
    """The SPDX id of the license ``text`` is, or None with a note saying why it is not one."""
    given = words(text)
    if not given:
        return Identified(None, "empty")
    found = [(spdx, before) for spdx in KNOWN if (before := _matches(given, spdx)) is not None]
    if len(found) != 1:
        return Identified(None, "text not recognised as a known SPDX license" if not found else "ambiguous")
    spdx, before = found[0]
    if spdx not in _GNU_VARIANTS:
        return Identified(spdx)
    later, only = _GNU_VARIANTS[spdx]
    if _LATER.search(before):
        return Identified(later)
    if _VERSION_NAMED.search(before):
        return Identified(only)
    return Identified(
        None,
        f"the {spdx} text, which does not say whether it is {only} or {later} (a notice says that)",
    )
