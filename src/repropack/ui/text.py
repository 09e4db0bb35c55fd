"""Text from a package or a run, shown in the terminal as it is.

File names, titles, diffs and causes come from researchers and from packages
that may be hostile: a file may be named ``[red]x[/red].csv``, which rich would
take for markup, or hold an escape sequence. These helpers show such text
literally, on one line, with control characters escaped (``fs.names.shown``).
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from repropack.fs.names import shown


def plain(value: object, *, lines: bool = False) -> Text:
    """``value`` as literal text: never markup, control characters escaped (but line breaks kept with ``lines``)."""
    text = str(value)
    return Text("\n".join(map(shown, text.split("\n"))) if lines else shown(text))


def literal(value: object) -> str:
    """``value`` to put inside a markup string: markup and control characters escaped."""
    return escape(shown(str(value)))
