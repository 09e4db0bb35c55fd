"""The ``repropack`` command line: parse, call the pipeline, render. No logic here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from repropack import __version__
from repropack.errors import RepropackError

_stderr = Console(stderr=True)


def _fail(error: RepropackError) -> None:
    click.echo(f"repropack: error: {error}", err=True)
    sys.exit(error.exit_code)


def _run(action: Callable[[], Any]) -> Any:
    """Run a pipeline call, turning its errors into one stderr line and an exit code."""
    try:
        return action()
    except RepropackError as error:
        _fail(error)
    except KeyboardInterrupt:
        click.echo("repropack: interrupted; nothing was written", err=True)
        sys.exit(130)


def _emit_json(data: dict) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def run() -> None:
    """Console-script entry: usage errors become one line on stderr and exit 2."""
    try:
        code = main.main(standalone_mode=False)
    except click.UsageError as error:
        where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        click.echo(f"repropack: error: {error.format_message()}{where}", err=True)
        sys.exit(2)
    except click.Abort:
        click.echo("repropack: interrupted; nothing was written", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="repropack")
def main() -> None:
    """Make notebook results reproducible and checkable.

    \b
    Typical use:
      repropack export my-project              # run the notebooks, write my-project.crate.zip
      repropack check my-project.crate.zip     # hashes, schema, RO-Crate profiles
      repropack inspect my-project.crate.zip   # what is inside

    Exit codes: 0 success, 1 the check said no, 2 usage error or bad input,
    3 the work could not run.
    """


def _given(ctx: click.Context, names: list[str]) -> dict[str, Any]:
    """Only the options the user typed, so config files can fill in the rest."""
    out = {}
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            out[name] = ctx.params[name]
    return out


@main.command()
@click.argument("project", type=click.Path(path_type=Path), default=".", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Package path: NAME.zip for a deterministic zip, any other path for a folder. Default: ./<project>.crate.zip")
@click.option("--notebook", "notebooks", multiple=True, help="Notebook to run (repeatable). Default: every *.ipynb outside hidden, checkpoint and virtualenv folders.")
@click.option("--no-execute", "execute", flag_value=False, default=True, help="Package the notebooks as they are; outputs are their saved state.")
@click.option("--allow-errors", is_flag=True, help="Keep going when a cell raises; the run is recorded as failed.")
@click.option("--timeout", type=int, help="Seconds a single cell may run (default 600).")
@click.option("--kernel", help="Jupyter kernel to run (default python3, whatever the notebook's metadata says).")
@click.option("--restrict", multiple=True, metavar="GLOB", help="Describe matching files by hash only; their bytes stay out of the package (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave matching files out entirely (repeatable).")
@click.option("--allow-secret", multiple=True, metavar="PATH", help="Pack PATH although it looks like a secret (repeatable).")
@click.option("--wheelhouse", is_flag=True, help="Download wheels of the locked environment into the package, for replays with no network.")
@click.option("--base-image", help="Base image of the rendered Dockerfile (default repropack/base:bookworm-py3.11).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "json_", is_flag=True, help="Print a JSON summary on stdout (progress stays on stderr).")
@click.pass_context
def export(ctx: click.Context, project: Path, output: Path | None, json_: bool, **_: Any) -> None:
    """Execute PROJECT's notebooks under observation and write an RO-Crate package.

    Every input and output file is recorded with its sha256, the kernel's
    environment is pinned into a lock and a Dockerfile, git provenance is
    recorded, and restricted inputs are described by hash only.

    Settings may also live in PROJECT/repropack.toml or [tool.repropack] of its
    pyproject.toml; flags win over them.

    \b
    Examples:
      repropack export                                  # the current folder
      repropack export examples/claims-analysis -o claims.crate.zip
      repropack export . --restrict 'data/raw/*.csv' --notebook analysis.ipynb
      SOURCE_DATE_EPOCH=1700000000 repropack export . --no-execute   # byte-identical zips
    """
    from repropack.cli_progress import RichExportProgress
    from repropack.export import export_project

    names = ["notebooks", "execute", "allow_errors", "timeout", "kernel", "restrict", "exclude", "allow_secret", "wheelhouse", "base_image", "force"]

    def work():
        with RichExportProgress(_stderr) as progress:
            return export_project(project, output, _given(ctx, names), progress)

    result = _run(work)
    for warning in result.warnings:
        _stderr.print(f"[yellow]warning:[/yellow] {warning}")
    if json_:
        _emit_json(result.summary())
    else:
        summary = result.summary()
        _stderr.print(
            f"[green]wrote[/green] {summary['output']}: {len(summary['notebooks'])} notebook(s), "
            f"{len(summary['inputs'])} input(s), {len(summary['outputs'])} output(s), "
            f"{len(summary['restricted'])} restricted, {summary['locked_distributions']} locked distributions"
        )


@main.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def inspect(package: Path, json_: bool) -> None:
    """Show what a package holds: notebooks, files, environment, runs.

    \b
    Example:
      repropack inspect claims.crate.zip
      repropack inspect claims.crate.zip --json | jq '.files[] | select(.restricted)'
    """
    from repropack.crate.reader import open_package
    from repropack.inspect_view import render_inspection

    def work():
        with open_package(package) as opened:
            return opened.description()

    description = _run(work)
    if json_:
        _emit_json(description)
    else:
        render_inspection(Console(), description)


@main.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def check(package: Path, json_: bool) -> None:
    """Check a package: every hash, the repropack JSON Schema, and the official
    roc-validator for ro-crate-1.1 and process-run-crate-0.5, run offline.

    Exit 0 when valid, 1 when not, with each problem on its own line.

    \b
    Example:
      repropack check claims.crate.zip
    """
    from repropack.crate.check import check_package

    report = _run(lambda: check_package(package))
    if json_:
        _emit_json(report.as_dict())
    else:
        for problem in report.problems:
            click.echo(f"{problem.kind}: {problem.message}")
        verdict = "valid" if report.valid else f"invalid ({len(report.problems)} problem(s))"
        _stderr.print(f"{package}: {verdict}; {report.files_checked} file hashes checked")
    sys.exit(0 if report.valid else 1)
