"""Comparison rules: what "the replay produced the same output" means for a kind of file.

A rule is a small class registered by name in ``RULES``. Its options are the
fields of its ``Options`` dataclass (see ``repropack.compare.options``); a rule
instance holds checked option values and compares pairs of files.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from repropack.compare.options import build_options, options_as_json
from repropack.errors import BadInput


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
    ``repropack.compare.options.option``.
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

    def options(self) -> dict[str, Any]:
        """The effective option values, defaults included, as JSON-able data."""
        return options_as_json(self.settings)


RuleT = TypeVar("RuleT", bound=type[ComparisonRule])


class RuleRegistry:
    """Comparison rule classes by name, in registration order.

    The built-in rule modules are imported on first use, so a plugin may
    register its rules before or after that without import cycles.
    """

    def __init__(self, builtin_modules: Sequence[str]) -> None:
        self._builtin_modules = tuple(builtin_modules)
        self._builtins_loaded = False
        self._rules: dict[str, type[ComparisonRule]] = {}

    def register(self, rule: RuleT) -> RuleT:
        """Add a rule class; usable as a class decorator.

        Raises ValueError when another class already has the rule's name.
        """
        # Built-ins first, so a clash with one is reported at the plugin's registration.
        self._load_builtins()
        known = self._rules.get(rule.name)
        if known is not None and known is not rule:
            raise ValueError(f"a comparison rule named {rule.name!r} is already registered: {known.__qualname__}")
        self._rules[rule.name] = rule
        return rule

    def get(self, name: str) -> type[ComparisonRule]:
        """The rule class registered as ``name``; BadInput listing known names otherwise."""
        self._load_builtins()
        try:
            return self._rules[name]
        except KeyError:
            known = ", ".join(sorted(self._rules))
            raise BadInput(f"unknown comparison rule {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Registered rule names in registration order (built-ins first)."""
        self._load_builtins()
        return list(self._rules)

    def _load_builtins(self) -> None:
        if self._builtins_loaded:
            return
        self._builtins_loaded = True  # before importing: the modules call register()
        for module in self._builtin_modules:
            importlib.import_module(module)


#: The rules ``repropack replay`` knows. Registration order decides only
#: between rules whose default globs overlap (the first wins); the built-ins' do not.
RULES = RuleRegistry(
    builtin_modules=(
        "repropack.compare.notebook_rule",
        "repropack.compare.csv_rule",
        "repropack.compare.json_rule",
        "repropack.compare.text_rule",
        "repropack.compare.image_rule",
        "repropack.compare.bytes_rule",
    )
)
