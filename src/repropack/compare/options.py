"""How a comparison rule declares its options and checks the values it is given.

A rule lists its options as the fields of a frozen dataclass, each made with
``option(default, check)``. A check turns a value read from ``repropack.toml``
or a ``--compare`` flag into the value the rule uses, or raises ``ValueError``
saying what it expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import field, fields
from typing import Any, TypeVar

Check = Callable[[Any], Any]

_CHECK = "repropack.option_check"

OptionsT = TypeVar("OptionsT")


def option(default: Any, check: Check) -> Any:
    """A dataclass field for one rule option: its default and its check."""
    return field(default=default, metadata={_CHECK: check})


def build_options(options_type: type[OptionsT], given: Mapping[str, Any]) -> OptionsT:
    """An ``options_type`` instance from ``given`` values, defaults for the rest.

    Raises ``ValueError`` naming the first unknown option or the option whose
    value its check refused.
    """
    declared = {spec.name: spec for spec in fields(options_type)}  # type: ignore[arg-type]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        accepted = ", ".join(declared) or "none"
        raise ValueError(f"unknown option {unknown[0]!r} (accepted: {accepted})")
    checked = {}
    for name, value in given.items():
        try:
            checked[name] = declared[name].metadata[_CHECK](value)
        except ValueError as error:
            raise ValueError(f"option {name!r}: {error}") from None
    return options_type(**checked)


def options_as_json(options: object) -> dict[str, Any]:
    """The option values of a dataclass instance as JSON-able data (tuples become lists)."""
    return {
        spec.name: list(value) if isinstance(value := getattr(options, spec.name), tuple) else value
        for spec in fields(options)  # type: ignore[arg-type]
    }


# --- checks -------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but `true` given as a tolerance is a mistake, not 1.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def non_negative_number(value: Any) -> float:
    if not _is_number(value) or not value >= 0 or value == float("inf"):
        raise ValueError(f"expected a finite number >= 0, got {value!r}")
    return float(value)


def fraction(value: Any) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"expected a fraction between 0 and 1, got {value!r}")
    return float(value)


def channel_delta(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
        raise ValueError(f"expected a whole number between 0 and 255, got {value!r}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def regex_list(value: Any) -> tuple[str, ...]:
    """A list of regular expressions; one string is taken as a list of one."""
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(item, str) for item in patterns):
        raise ValueError(f"expected a list of regular expressions, got {value!r}")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
    return tuple(patterns)


def choice(*allowed: str) -> Check:
    """A check accepting one of ``allowed`` words."""

    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    return check
