"""Text from a package, a notebook or a sandbox, shown in the terminal as it is.

File names, titles, diffs, causes, cell errors and error messages come from
researchers and from packages that may be hostile: a file may be named
``[red]x[/red].csv``, which rich would take for markup, or hold an escape
sequence (``\\x1b]0;title\\x07`` retitles a terminal, ``\\x1b[2J`` clears it) or
a bidi override that reorders what a reader sees. Every such string reaches
the terminal through one of these helpers. Control characters (C0, DEL, C1,
and so every ANSI/OSC escape sequence, which starts with ESC or a C1 control)
and bidi formatting characters are *escaped*, not deleted (``fs.names.shown``):
the reader sees ``\\x1b]0;pwned\\x07`` and knows the package tried something,
and two names cannot be made to look alike by hiding characters.

Rich also turns ``:smile:`` into an emoji in markup strings: the CLI's consoles
are made with ``emoji=False`` (``console``). ``--json`` output never passes
through here: JSON escapes control characters itself.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from repropack.fs.names import shown


def safe(value: object) -> str:
    """``value`` on one line, safe to write as it is (``click.echo``, no markup): control and bidi characters escaped."""
    return shown(str(value))


def plain(value: object, *, lines: bool = False) -> Text:
    """``value`` as literal text: never markup, control characters escaped (but line breaks kept with ``lines``)."""
    text = str(value)
    return Text("\n".join(map(shown, text.split("\n"))) if lines else shown(text))


def literal(value: object) -> str:
    """``value`` to put inside a markup string: markup and control characters escaped."""
    return escape(shown(str(value)))


def console(*, stderr: bool = False) -> Console:
    """A console for the CLI: markup for repropack's own styles only: no emoji codes (a file may be named ``:x:``) and no
    highlighting of numbers and paths (it costs a fifth of a second on the first print and colours what it guesses)."""
    return Console(stderr=stderr, emoji=False, highlight=False)
