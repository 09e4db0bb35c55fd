"""ui.text: package-derived text reaches the terminal inert, whichever way it is printed."""

from __future__ import annotations

import io

from rich.console import Console

from repropack.ui.progress import RichProgress
from repropack.ui.text import console, literal, plain, safe

HOSTILE = "\x1b]0;pwned\x07\x1b[2J[bold]x[/bold]\x9b31m\x7f\u202e:warning:"
SHOWN = r"\x1b]0;pwned\x07\x1b[2J[bold]x[/bold]\x9b31m\x7f\u202e:warning:"


def _colour_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system="standard", emoji=False, width=200), out


def test_safe_escapes_every_control_and_bidi_character_on_one_line() -> None:
    assert safe(HOSTILE + "\nnext\ttab") == SHOWN + r"\nnext\ttab"


def test_literal_in_markup_prints_the_text_as_typed() -> None:
    terminal, out = _colour_console()

    terminal.print(f"[yellow]cause:[/yellow] {literal(HOSTILE)}", highlight=False)

    assert out.getvalue() == f"\x1b[33mcause:\x1b[0m {SHOWN}\n"


def test_plain_keeps_line_breaks_only_when_asked() -> None:
    assert plain("a\x1b]0;t\x07\nb", lines=True).plain == "a\\x1b]0;t\\x07\nb"
    assert plain("a\nb").plain == "a\\nb"


def test_the_cli_console_never_turns_an_emoji_code_into_an_emoji() -> None:
    terminal = console()
    with terminal.capture() as captured:
        terminal.print(f"title {literal(':warning: :smile:')}")

    assert captured.get() == "title :warning: :smile:\n"


def test_progress_shows_a_hostile_stage_and_build_log_line_escaped() -> None:
    terminal, out = _colour_console()

    with RichProgress(terminal) as progress:
        progress.stage(f"Running {HOSTILE}")
        progress.detail(f"Step 3/9 : RUN echo {HOSTILE}")

    visible = out.getvalue()
    assert "\x1b]" not in visible and "\x07" not in visible and "\x9b" not in visible and "\u202e" not in visible
    assert r"Running \x1b]0;pwned\x07\x1b[2J[bold]x[/bold]" in visible
