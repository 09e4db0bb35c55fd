"""What every command shares: one stderr line per error with its exit code, and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from repropack.errors import RepropackError
from repropack.ui.text import console, safe

#: Progress, verdicts and advice go to stderr; stdout holds only what --json promises.
stderr = console(stderr=True)


def fail(error: RepropackError) -> None:
    # Messages quote member names, paths and cell errors from the package: one safe line (ui.text).
    click.echo(f"repropack: error: {safe(error)}", err=True)
    sys.exit(error.exit_code)


def run_pipeline(action: Callable[[], Any]) -> Any:
    """Run a pipeline call, turning its errors into one stderr line and an exit code."""
    try:
        return action()
    except RepropackError as error:
        fail(error)
    except KeyboardInterrupt:
        click.echo("repropack: interrupted; nothing was written", err=True)
        sys.exit(130)


def emit_json(data: dict) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def parameter_options(parameter_help: str, file_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-p/--parameter NAME VALUE`` and ``--parameters-file``, as export and replay both take them."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--parameters-file", type=click.Path(path_type=Path), metavar="FILE.yaml", help=file_help
        )(command)
        return click.option(
            "-p",
            "--parameter",
            "parameter_pairs",
            nargs=2,
            multiple=True,
            metavar="NAME VALUE",
            help=parameter_help,
        )(command)

    return decorate


def command_line_parameters(pairs: tuple[tuple[str, str], ...], file: Path | None) -> dict[str, Any]:
    """``--parameters-file`` then ``-p NAME VALUE`` (which wins), papermill's order; BadInput for a bad one."""
    from repropack import parameters

    return parameters.merge(parameters.read_parameters_file(file) if file else {}, parameters.parse_cli_pairs(pairs))


def given(ctx: click.Context, names: list[str]) -> dict[str, Any]:
    """Only the options the user typed, so config files can fill in the rest."""
    out = {}
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            out[name] = ctx.params[name]
    return out
