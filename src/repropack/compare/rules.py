"""Comparison rules: what "the replay produced the same output" means for a kind of file.

A rule is a small class registered by name in ``RULES`` (a
``repropack.plugins.Registry``: ``@RULES.register`` in a module, or an entry
point in the ``repropack.rules`` group of an installed distribution). Its options are the
fields of its ``Options`` dataclass (see ``repropack.compare.options``); a rule
instance holds checked option values and compares pairs of files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from repropack.compare.context import ComparisonContext
from repropack.compare.options import build_options, options_as_json
from repropack.errors import BadInput
from repropack.plugins import Registry


@dataclass(frozen=True)
class RuleOutcome:
    """A rule's answer for one pair of files.

    ``detail`` says what differs when ``equal`` is false, and what was
    tolerated when ``equal`` is true and the bytes differed; it is a few
    lines at most.
    """

    equal: bool
    detail: str


@dataclass(frozen=True)
class NoOptions:
    """The options of a rule that takes none."""


class ComparisonRule(ABC):
    """Compares a recorded output file with the file a replay produced.

    Subclasses set ``name``, ``default_globs`` (file-name patterns the rule
    takes when the researcher declared none) and, when they take options,
    ``Options``: a frozen dataclass whose fields are made with
    ``repropack.compare.options.option``. A rule that needs to know when the
    runs ran (to tell clock readings from results) overrides ``compare_in``.
    """

    name: ClassVar[str]
    default_globs: ClassVar[tuple[str, ...]]
    Options: ClassVar[type] = NoOptions

    settings: Any  # an instance of Options; subclasses narrow the annotation

    def __init__(self, **options: Any) -> None:
        """Raises BadInput naming the rule and the unknown or invalid option."""
        try:
            self.settings = build_options(self.Options, options)
        except ValueError as error:
            raise BadInput(f"comparison rule {self.name!r}: {error}") from None

    @abstractmethod
    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        """Compare two files' contents.

        May raise any exception when a file cannot be read or parsed as this
        rule's kind of file; the caller reports that as a difference.
        """

    def compare_in(self, recorded: Path, produced: Path, context: ComparisonContext) -> RuleOutcome:
        """Compare two files knowing when each side's run ran (``context``).

        ``compare_outputs`` calls this. Rules that recognise clock readings
        override it; the rest (and rules of other distributions written
        before it existed) compare the files alone.
        """
        return self.compare(recorded, produced)

    def options(self) -> dict[str, Any]:
        """The effective option values, defaults included, as JSON-able data."""
        return options_as_json(self.settings)


#: The rules ``repropack replay`` knows: the built-ins, then those of installed
#: distributions' ``repropack.rules`` entry points. Registration order decides only
#: between rules whose default globs overlap (the first wins); the built-ins' do not.
RULES: Registry[type[ComparisonRule]] = Registry(
    kind="comparison rule",
    group="repropack.rules",
    built_in=(
        "repropack.compare.notebook_rule",
        "repropack.compare.csv_rule",
        "repropack.compare.json_rule",
        "repropack.compare.text_rule",
        "repropack.compare.image_rule",
        "repropack.compare.bytes_rule",
    ),
)
