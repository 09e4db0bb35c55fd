"""The ``bytes`` rule: the fallback for files no other rule understands."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.fs.hashing import sha256_file


@RULES.register
class BytesRule(ComparisonRule):
    """Equal only when the SHA-256 digests are; takes no options."""

    name = "bytes"
    default_globs: ClassVar[tuple[str, ...]] = ()  # chosen as the fallback, never by name

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        old, new = sha256_file(recorded), sha256_file(produced)
        if old.sha256 == new.sha256:
            return RuleOutcome(equal=True, detail="")
        return RuleOutcome(equal=False, detail=f"sha256 differs (recorded {old.size} B, produced {new.size} B)")
