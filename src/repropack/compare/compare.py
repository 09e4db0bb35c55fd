"""Comparing a replay's outputs with the recorded ones, each file under the rule chosen for it.

Researchers choose rules by glob in the ``[compare]`` table of
``repropack.toml`` or with ``--compare GLOB=RULE[:key=value,...]``; files no
glob names get the rule whose default globs take their name, else ``bytes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from repropack.compare.context import NO_CONTEXT, RunWindows
from repropack.compare.excerpts import clip
from repropack.compare.rules import RULES, ComparisonRule
from repropack.errors import BadInput
from repropack.fs.hashing import sha256_file
from repropack.model import OutputComparison, OutputStatus

#: The rule named in an OutputComparison decided by digests alone.
SHA256 = "sha256"

_FALLBACK_RULE = "bytes"

_FLAG = re.compile(r"(?P<glob>.+?)=(?P<rule>[A-Za-z][\w-]*)(?::(?P<options>.*))?", re.DOTALL)
_OPTION_KEY = re.compile(r"(?P<key>[A-Za-z_]\w*)=")
_NEXT_OPTION = re.compile(r",(?=[A-Za-z_]\w*=)")
_JSON = json.JSONDecoder()

_CONFIG_SHAPE = 'expected entries like "outputs/*.png" = { rule = "image", threshold = 0.01 }'
_FLAG_SHAPE = "expected GLOB=RULE[:key=value,...], e.g. outputs/*.png=image:threshold=0.05"


@dataclass(frozen=True)
class RuleChoice:
    """A researcher's choice: files matching ``glob`` are compared with ``rule``."""

    glob: str  # as declared
    rule: ComparisonRule


def rules_from_config(config: Mapping[str, Any]) -> list[RuleChoice]:
    """The choices of a ``[compare]`` table, in declared order.

    Each key is a glob; each value a table with ``rule`` (a registered rule
    name) and that rule's options. Raises BadInput("compare: ...") naming the
    entry on any bad shape, unknown rule or invalid option.
    """
    if not isinstance(config, Mapping):
        raise BadInput(f"compare: {_CONFIG_SHAPE}")
    choices = []
    for glob, entry in config.items():
        if not isinstance(glob, str) or not glob.strip():
            raise BadInput(f"compare: {glob!r} is not a glob; {_CONFIG_SHAPE}")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("rule"), str):
            raise BadInput(f"compare: {glob!r}: {_CONFIG_SHAPE}")
        options = {key: value for key, value in entry.items() if key != "rule"}
        try:
            rule = RULES.get(entry["rule"])(**options)
        except BadInput as error:
            raise BadInput(f"compare: {glob!r}: {error}") from None
        choices.append(RuleChoice(glob=glob, rule=rule))
    return choices


def parse_rule_flag(text: str) -> tuple[str, dict[str, Any]]:
    """The glob and ``[compare]`` entry a ``--compare`` flag declares.

    ``"outputs/*.png=image:threshold=0.05"`` gives
    ``("outputs/*.png", {"rule": "image", "threshold": 0.05})``. A value is
    read as JSON when it parses (numbers, true/false, lists), else kept as a
    string. The rule name and options are checked by ``rules_from_config``,
    not here. Raises BadInput when the flag is malformed.
    """
    flag = _FLAG.fullmatch(text)
    if flag is None:
        raise BadInput(f"--compare {text!r}: {_FLAG_SHAPE}")
    entry: dict[str, Any] = {"rule": flag["rule"]}
    options = flag["options"]
    if options is None:
        return flag["glob"], entry
    position = 0
    while True:
        key = _OPTION_KEY.match(options, position)
        if key is None:
            raise BadInput(f"--compare {text!r}: expected key=value at {options[position:]!r}; {_FLAG_SHAPE}")
        if key["key"] in entry:
            raise BadInput(f"--compare {text!r}: option {key['key']!r} is given twice (the rule is named before ':')")
        entry[key["key"]], position = _option_value(options, key.end())
        if position == len(options):
            return flag["glob"], entry
        position += 1  # the comma: _option_value stops only at one or at the end


def _option_value(options: str, start: int) -> tuple[Any, int]:
    """The value starting at ``start`` and where it ends (at a comma or the end).

    JSON is tried first, so a list keeps its commas; otherwise the value is
    the text up to the comma that starts the next "key=".
    """
    try:
        value, end = _JSON.raw_decode(options, start)
    except ValueError:
        pass
    else:
        if end == len(options) or options[end] == ",":
            return value, end
    separator = _NEXT_OPTION.search(options, start)
    end = separator.start() if separator else len(options)
    return options[start:end], end


def choose_rule(path: str, choices: Sequence[RuleChoice]) -> ComparisonRule:
    """The rule that compares the file at package ``path``.

    The first choice whose glob matches wins. A glob with a "/" matches the
    whole path (fnmatch: "*" crosses "/" too); one without matches the file
    name at any depth; both are case-sensitive. Otherwise the first registered
    rule whose default globs match the name (case-insensitively: suffixes
    like .PNG are common) takes it, with default options; else ``bytes``.
    """
    name = PurePosixPath(path).name
    for choice in choices:
        if fnmatchcase(path if "/" in choice.glob else name, choice.glob):
            return choice.rule
    lowered = name.lower()
    for rule_name in RULES.names():
        rule = RULES.get(rule_name)
        if any(fnmatchcase(lowered, glob) for glob in rule.default_globs):
            return rule()
    return RULES.get(_FALLBACK_RULE)()


def compare_outputs(
    recorded_root: Path,
    produced_root: Path,
    recorded: Mapping[str, str],
    produced: Iterable[str],
    choices: Sequence[RuleChoice],
    windows: RunWindows | None = None,
) -> list[OutputComparison]:
    """How each output compares, sorted by path.

    ``recorded`` maps each recorded output's package path to its sha256 (its
    bytes, when the package holds them, are under ``recorded_root``);
    ``produced`` lists the package paths the replay created or changed (under
    ``produced_root``). ``windows`` says when the runs that made each output
    ran, on both sides (``repropack.compare.context.run_windows``), so rules
    can tell clock readings from results; without it none is recognised.
    Never raises for a file's content: a file a rule cannot read or parse is
    DIFFERENT, saying why. MISSING and UNEXPECTED entries have no rule ("").
    """
    produced_paths = set(produced)
    results = [
        _compare_one(path, sha256, recorded_root, produced_root, choices, windows)
        if path in produced_paths and (produced_root / path).is_file()
        else OutputComparison(path=path, status=OutputStatus.MISSING, rule="")
        for path, sha256 in recorded.items()
    ]
    results.extend(
        OutputComparison(path=path, status=OutputStatus.UNEXPECTED, rule="")
        for path in produced_paths - recorded.keys()
    )
    return sorted(results, key=lambda result: result.path)


def _compare_one(
    path: str,
    recorded_sha256: str,
    recorded_root: Path,
    produced_root: Path,
    choices: Sequence[RuleChoice],
    windows: RunWindows | None,
) -> OutputComparison:
    produced_file = produced_root / path
    try:
        produced_sha256 = sha256_file(produced_file).sha256
    except OSError as error:
        return OutputComparison(
            path, OutputStatus.DIFFERENT, SHA256, f"cannot read the produced file: {error.strerror or error}"
        )
    if produced_sha256 == recorded_sha256:
        return OutputComparison(path, OutputStatus.IDENTICAL, SHA256, "")
    recorded_file = recorded_root / path
    if not recorded_file.is_file():
        # A restricted output: the package describes it but does not hold its bytes.
        return OutputComparison(
            path,
            OutputStatus.DIFFERENT,
            SHA256,
            "sha256 differs; the package does not hold the recorded bytes to compare content",
        )
    rule = choose_rule(path, choices)
    try:
        outcome = rule.compare_in(recorded_file, produced_file, windows.context(path) if windows else NO_CONTEXT)
    except Exception as error:
        return OutputComparison(
            path, OutputStatus.DIFFERENT, rule.name, clip(f"cannot compare as {rule.name}: {_reason(error)}")
        )
    status = OutputStatus.EQUIVALENT if outcome.equal else OutputStatus.DIFFERENT
    return OutputComparison(path, status, rule.name, clip(outcome.detail))


def _reason(error: Exception) -> str:
    message = str(error).strip().split("\n", 1)[0]
    return message or type(error).__name__
