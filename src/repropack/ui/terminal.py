"""The replay verdict in the terminal: the outputs, what differs (recorded vs replayed), drift and the cause.

A reviewer reads it top to bottom: a table of every output, then for each
output that differs the first lines of its difference with each side labelled
(``recorded`` is what the package holds, ``replayed`` what this run produced),
the environment notes, "N of M outputs differ", the verdict, and where the
record and its report are. Whatever comes from the package or the run (file
names, diffs, causes, drift) is shown literally (``ui.text``): a file may be
named ``[red]x[/red].csv``.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from repropack.fs.names import shown
from repropack.fs.shown_paths import shown_path
from repropack.model import OutputStatus, ReplayResult
from repropack.model.results import WHAT_IF_NOTE
from repropack.ui.text import literal, plain

_STYLE = {"identical": "green", "equivalent": "green", "different": "red", "missing": "red", "unexpected": "dim"}
_VERDICT = {"reproduced": "bold green", "not_reproduced": "bold red", "failed": "bold yellow"}

#: Lines of a difference shown per output, and outputs shown with their difference; the report and
#: ``repropack diff`` show the rest.
DIFF_LINES = 8
DETAILED_OUTPUTS = 10

_RECORDED, _REPLAYED = "recorded", "replayed"
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_SEPARATOR = " != "


def render_replay(console: Console, result: ReplayResult) -> None:
    if result.rejudged_from:
        console.print(
            f"re-judgement of {literal(result.rejudged_from.get('record'))} "
            f"(its verdict: {literal(str(result.rejudged_from.get('verdict')).replace('_', ' '))}); nothing was re-run"
        )
    if result.outputs:
        console.print(_outputs_table(result))
        _render_differences(console, result)
    for line in result.drift:
        console.print(f"[yellow]drift (warning):[/yellow] {literal(line)}")
    for line in result.drift_info:
        console.print(f"[dim]drift (info):[/dim] {literal(line)}")
    if result.base_image:
        console.print(f"base image: {literal(result.base_image)} ({literal(result.base_image_reason)})")
    disk = str(result.limits.get("disk_enforcement") or "")
    if disk.startswith("not enforced: "):
        console.print(f"[yellow]disk limit not enforced:[/yellow] {literal(disk.removeprefix('not enforced: '))}")
    for line in result.not_kept:
        console.print(f"[dim]not kept in the record:[/dim] {literal(line)}")
    if result.cause:
        console.print(f"[yellow]cause:[/yellow] {literal(result.cause)}")
    if result.outputs:
        differ, compared = result.difference_count()
        unexpected = len(result.outputs) - compared
        extra = f"; {unexpected} unexpected file{'s' if unexpected != 1 else ''}" if unexpected else ""
        console.print(f"{differ} of {compared} output{'s' if compared != 1 else ''} differ{extra}")
    for line in result.what_if_lines():
        console.print(f"[bold yellow]what-if parameter:[/bold yellow] {literal(line)}")
    if result.what_if:
        console.print(f"[bold yellow]{literal(WHAT_IF_NOTE)}[/bold yellow]")
    verdict = ("what-if, " if result.what_if else "") + result.verdict.value.replace("_", " ")
    errors = result.recorded_errors_note()
    console.print(f"[{_VERDICT[result.verdict.value]}]{verdict}[/]" + (f": {literal(errors)}" if errors else ""))
    if result.record:
        console.print(f"record: {literal(shown_path(result.record))}")
        console.print(f"report: {literal(shown_path(result.report))}")


def _outputs_table(result: ReplayResult) -> Table:
    table = Table(title="Outputs")
    for column in ("output", "status", "rule", "detail"):
        table.add_column(column)
    for o in result.outputs:
        status = Text(o.status.value, style=_STYLE[o.status.value])
        if o.nondeterminism is not None:
            status.append(f" ({o.nondeterminism.value})", style="yellow")
        table.add_row(plain(o.path), status, plain(o.rule), plain(_table_detail(o)))
    return table


def _table_detail(o) -> str:
    """One short line per output; a difference is shown in full below the table, not here."""
    if o.status is OutputStatus.DIFFERENT:
        return "see below"
    if o.status is OutputStatus.MISSING:
        return "recorded, not produced by the replay"
    if o.status is OutputStatus.UNEXPECTED and not o.detail:
        return "produced by the replay, not recorded"
    return o.detail.splitlines()[0] if o.detail else ""


def _render_differences(console: Console, result: ReplayResult) -> None:
    differing = [o for o in result.outputs if o.status in (OutputStatus.DIFFERENT, OutputStatus.MISSING)]
    for o in differing[:DETAILED_OUTPUTS]:
        heading = Text()
        heading.append_text(plain(o.path))
        heading.append(f"  {o.status.value}", style=_STYLE[o.status.value])
        if o.rule:
            heading.append_text(plain(f" ({o.rule})"))
        console.print(heading)
        if o.status is OutputStatus.MISSING:
            console.print(Text(f"    {_RECORDED}: in the package\n    {_REPLAYED}: not produced"))
        for line in difference_lines(o.detail):
            console.print(line)
        if o.hint:
            console.print(Text("    hint: ", style="yellow") + plain(o.hint))
    if len(differing) > DETAILED_OUTPUTS:
        console.print(f"… and {len(differing) - DETAILED_OUTPUTS} more differing outputs: see the report")
    if differing and result.record:
        console.print(
            f"[dim]in full: repropack diff {literal(_shell_word(str(result.record)))} [PATH][/dim]", highlight=False
        )


def difference_lines(detail: str, limit: int = DIFF_LINES) -> list[Text]:
    """The first ``limit`` lines of a comparison detail with each side labelled ``recorded`` or ``replayed``.

    Rules write one difference as ``where: OLD != NEW`` and the text rule a
    unified diff (``-`` recorded, ``+`` replayed); either is turned into
    labelled lines. Any other line is shown as it is.
    """
    lines = detail.splitlines()
    unified = any(_HUNK.match(line) for line in lines)
    out: list[Text] = []
    for line in lines:
        out.extend(_labelled(line, unified))
    if len(out) > limit:
        cut = len(out) - limit
        out = [*out[:limit], Text(f"    … {cut} more line{'s' if cut != 1 else ''}", style="dim")]
    return out


def _labelled(line: str, unified: bool) -> list[Text]:
    if unified:
        hunk = _HUNK.match(line)
        if hunk:
            return [Text(f"  at line {hunk.group(1)} (recorded) / {hunk.group(2)} (replayed):")]
        if line.startswith("-"):
            return [_side(_RECORDED, line[1:])]
        if line.startswith("+"):
            return [_side(_REPLAYED, line[1:])]
        if line.startswith(" "):
            return [Text("              ", style="dim") + plain(line[1:])]
        return [Text("  ") + plain(line)]
    split = split_difference(line)
    if split is None:
        return [Text("  ") + plain(line)]
    where, old, new, rest = split
    heading = " ".join(part for part in (where, rest) if part)
    shown = [Text("  ") + plain(heading)] if heading else []
    return [*shown, _side(_RECORDED, old), _side(_REPLAYED, new)]


def _side(label: str, value: str) -> Text:
    return Text(f"    {label}: ", style="red" if label == _RECORDED else "green") + plain(value)


def split_difference(line: str) -> tuple[str, str, str, str] | None:
    """``("where", "OLD", "NEW", "rest")`` for a line ``where: OLD != NEW rest``; None for any other line.

    Quoted values (Python reprs, as the rules quote them) may themselves hold
    ``" != "`` or ``": "``: only separators outside quotes count, and a line
    with more than one ``" != "`` is not split.
    """
    separators = _outside_quotes(line, _SEPARATOR)
    if len(separators) != 1:
        return None
    left, right = line[: separators[0]], line[separators[0] + len(_SEPARATOR) :]
    colons = _outside_quotes(left, ": ")
    where, old = (left[: colons[-1]], left[colons[-1] + 2 :]) if colons else ("", left)
    new, rest = right, ""
    end = _quoted_end(right, 0)
    if end is not None:
        new, rest = right[:end], right[end:].strip()
    if not old.strip() or not new.strip():
        return None
    return where.strip(), old.strip(), new.strip(), rest


def _quoted_end(text: str, start: int) -> int | None:
    """Where the quoted value starting at ``start`` ends (after a trailing "…"), or None when none starts there."""
    if start >= len(text) or text[start] not in "'\"":
        return None
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            i += 1
            return i + 1 if text[i : i + 1] == "…" else i
        i += 1
    return None


def _outside_quotes(line: str, needle: str) -> list[int]:
    """Positions of ``needle`` in ``line`` that are not inside a quoted value."""
    found, i = [], 0
    while i < len(line):
        if line[i] in "'\"" and (i == 0 or line[i - 1] in " ([{:,="):
            end = _quoted_end(line, i)
            if end is not None:
                i = end
                continue
        if line.startswith(needle, i):
            found.append(i)
            i += len(needle)
            continue
        i += 1
    return found


def _shell_word(text: str) -> str:
    """``text`` as one shell word: quoted when it holds anything a shell would split or expand."""
    if re.fullmatch(r"[\w./@%+=:,-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def diff_text(diffs) -> str:
    """``repropack diff``'s output: per output, the replay's judgement, where each side is, and the difference.

    Every line is made safe to print (``fs.names.shown``): a diff quotes files a
    hostile package or notebook wrote, which may hold escape sequences.
    """
    lines: list[str] = []
    for d in diffs:
        rule = f" ({d.rule})" if d.rule else ""
        lines.append(f"=== {d.path}: {d.status}{rule}")
        if d.detail:
            lines.extend(
                f"the replay said: {line}" if i == 0 else f"                 {line}"
                for i, line in enumerate(d.detail.splitlines())
            )
        lines.append(f"{_RECORDED} (in the package): {d.recorded}")
        lines.append(f"{_REPLAYED} (kept in the record): {d.replayed}")
        lines.extend(d.lines)
        lines.append("")
    return "\n".join(shown(line) for line in lines).rstrip("\n")


def render_rejudgement(console: Console, rejudgement) -> None:
    """What changed under the new rules, then the re-judged verdict as a replay's is shown."""
    if not rejudgement.changed:
        console.print("no output's judgement changed under these rules")
    for before, after in rejudgement.changed:
        line = Text()
        line.append_text(plain(after.path))
        line.append(": ")
        line.append(before.status.value, style=_STYLE[before.status.value])
        line.append(" -> ")
        line.append(after.status.value, style=_STYLE[after.status.value])
        if after.rule:
            line.append_text(plain(f" ({after.rule})"))
        if after.detail and after.status is not OutputStatus.DIFFERENT:
            line.append_text(plain(f": {after.detail.splitlines()[0]}"))
        console.print(line)
    render_replay(console, rejudgement.new)
    old = rejudgement.old.verdict.value.replace("_", " ")
    new = rejudgement.new.verdict.value.replace("_", " ")
    console.print(f"was {old}, now {new}" if old != new else f"still {new}")
    if rejudgement.new.record is None:
        console.print(
            f"[dim]the signed record {literal(rejudgement.record)} is unchanged; "
            "pass --record NEW to write this re-judgement as a new signed record[/dim]"
        )
