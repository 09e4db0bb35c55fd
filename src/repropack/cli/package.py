"""``export``, ``inspect`` and ``check``: making a package and looking at one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from repropack.cli.common import command_line_parameters, emit_json, given, parameter_options, run_pipeline, stderr
from repropack.config import CRATE_VERSIONS
from repropack.ui.text import console, literal, safe


@click.command()
@click.argument("project", type=click.Path(path_type=Path), default=".", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Package path: NAME.zip for a deterministic zip, any other path for a folder. Default: <project>.crate.zip "
    "in the current folder, or beside the project (../<project>.crate.zip) when run from inside it.",
)
@click.option(
    "--notebook",
    "notebooks",
    multiple=True,
    help=(
        "Notebook to run (repeatable), in the order given. Default: every *.ipynb outside hidden, checkpoint and "
        "virtualenv folders, in the order the data needs (a notebook that reads a file another writes runs after "
        "it; ties by name). An order that contradicts the data is refused."
    ),
)
@click.option(
    "--no-execute",
    "execute",
    flag_value=False,
    default=True,
    help="Package the notebooks as they are; outputs are their saved state.",
)
@click.option("--allow-errors", is_flag=True, help="Keep going when a cell raises; the run is recorded as failed.")
@click.option("--timeout", type=int, help="Seconds a single cell may run (default 600); replay uses it too.")
@click.option(
    "--total-timeout",
    type=int,
    help="Seconds all the notebooks' runs of this export may take together (default: no limit besides --timeout).",
)
@click.option(
    "--runs",
    type=int,
    metavar="N",
    help="Run every notebook N times (default 1; the package holds the first run). With 2 or more, the outputs "
    "that differ between runs are recorded, so a replay can name randomness instead of blaming the environment.",
)
@click.option("--kernel", help="Jupyter kernel to run (default python3, whatever the notebook's metadata says).")
@click.option(
    "--restrict",
    multiple=True,
    metavar="GLOB",
    help="Describe matching files by hash only; their bytes stay out of the package (repeatable): "
    "--restrict 'data/patients/*.csv'. A GLOB that matches no file is refused, so a typo never packs the file.",
)
@click.option(
    "--encrypt-to",
    multiple=True,
    metavar="RECIPIENT",
    help="Also pack each restricted file age-encrypted to RECIPIENT (repeatable): an age X25519 public key "
    "(age1..., as `repropack keys identity` prints it) or a file of them, one a line. Still described by the "
    "plaintext's sha256; a replay with the matching identity (--identity) decrypts it into the sandbox only.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave matching files out entirely (repeatable): --exclude 'scratch/*' --exclude '*.log'.",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Pack matching files although .gitignore leaves them out (repeatable): --include 'data/raw/*.csv'. "
    "Files a notebook reads or writes are packed whatever .gitignore says.",
)
@click.option(
    "--allow-secret",
    multiple=True,
    metavar="PATH",
    help="Pack PATH although it looks like a secret (repeatable); PATH#/POINTER clears one field of a file "
    "repropack writes, as the refusal names it (ro-crate-metadata.json#/@graph/0/description).",
)
@click.option(
    "--env",
    multiple=True,
    metavar="NAME",
    help="Record environment variable NAME at export and set it at replay (repeatable), beyond those recorded "
    "always: PYTHONHASHSEED, TZ, LANG, LC_*, OMP_*, OPENBLAS_*, MKL_* and other thread counts.",
)
@click.option(
    "--suppress",
    is_flag=True,
    help="With [disclosure] declared: pack masked copies of outputs that fail disclosure control (each failing "
    "cell emptied; recorded in the package) instead of refusing the export. The project's files are unchanged.",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    metavar="K",
    help="Refuse outputs with a count below K in the count columns [disclosure] declares (counts), over its "
    "min_count; turns the disclosure check on.",
)
@click.option(
    "--wheelhouse",
    is_flag=True,
    help="Download wheels of the locked environment into the package, for replays with no network.",
)
@click.option(
    "--crate-version",
    type=click.Choice(CRATE_VERSIONS),
    help="RO-Crate version to write (default 1.2; 1.1 for tools that read only 1.1).",
)
@click.option("--base-image", help="Base image of the rendered Dockerfile (default repropack/base:bookworm-py3.11).")
@parameter_options(
    "Inject NAME = VALUE after each notebook's cell tagged 'parameters', as papermill does (repeatable): "
    "-p year 2024 -p alpha 0.05 -p site Kyoto. VALUE is typed as papermill -p types it (True, False, None, "
    "integers, floats, else text, never code); the values are recorded and injected again at replay.",
    "YAML mapping of parameters (lists and mappings too; a key 'NAME.ipynb' holds one notebook's own), "
    "as [parameters] of repropack.toml; -p wins over it.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "json_", is_flag=True, help="Print a JSON summary on stdout (progress stays on stderr).")
@click.pass_context
def export(
    ctx: click.Context,
    project: Path,
    output: Path | None,
    json_: bool,
    parameter_pairs: tuple[tuple[str, str], ...],
    parameters_file: Path | None,
    min_count: int | None,
    **_: Any,
) -> None:
    """Execute PROJECT's notebooks under observation and write an RO-Crate package.

    Every input and output file is recorded with its sha256, the kernel's
    environment is pinned into a lock and a Dockerfile, git provenance is
    recorded, and restricted inputs are described by hash only.

    Settings may also live in PROJECT/repropack.toml or [tool.repropack] of its
    pyproject.toml; flags win over them.

    \b
    Examples:
      repropack export                                  # the current folder, to ../<folder>.crate.zip
      repropack export . --include 'data/raw/*.csv'     # pack files .gitignore leaves out
      repropack export examples/claims-analysis -o claims.crate.zip
      repropack export . --restrict 'data/raw/*.csv' --notebook analysis.ipynb
      repropack export . --restrict 'data/raw/*.csv' --encrypt-to age1...   # restricted files travel encrypted
      repropack export . --min-count 10 --suppress      # mask output cells below 10 ([disclosure])
      repropack export . --runs 2                       # also record what differs between two runs
      repropack export . -p year 2024 --parameters-file params.yaml   # papermill-style parameters
      SOURCE_DATE_EPOCH=1700000000 repropack export . --no-execute   # byte-identical zips
    """
    from repropack.config import resolve_settings
    from repropack.export import export_project
    from repropack.export.disclosure_gate import DisclosureRefused, with_min_count
    from repropack.fs.shown_paths import shown_path
    from repropack.ui.progress import RichProgress

    names = [
        "notebooks",
        "execute",
        "allow_errors",
        "timeout",
        "total_timeout",
        "runs",
        "kernel",
        "restrict",
        "encrypt_to",
        "exclude",
        "include",
        "allow_secret",
        "env",
        "suppress",
        "wheelhouse",
        "base_image",
        "crate_version",
        "force",
    ]

    def work():
        flags = given(ctx, names)
        if parameter_pairs or parameters_file:
            flags["parameters"] = command_line_parameters(parameter_pairs, parameters_file)
        settings = resolve_settings(flags, project)
        if min_count is not None:
            settings = with_min_count(settings, min_count)
        try:
            with RichProgress(stderr) as progress:
                return export_project(project, output, settings, progress)
        except DisclosureRefused as refused:  # one line per violating cell, after the error's own line
            click.echo(f"repropack: error: {safe(refused.headline)}", err=True)
            for line in refused.lines:
                click.echo(f"  {safe(line)}", err=True)
            sys.exit(refused.exit_code)

    result = run_pipeline(work)
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/yellow] {literal(warning)}")
    if json_:
        emit_json(result.summary())
    else:
        summary = result.summary()
        stderr.print(
            f"[green]wrote[/green] {literal(shown_path(summary['output']))}: {len(summary['notebooks'])} notebook(s), "
            f"{len(summary['inputs'])} input(s), {len(summary['outputs'])} output(s), "
            f"{len(summary['restricted'])} restricted, {summary['locked_distributions']} locked distributions"
        )
        if summary["runs"] > 1:
            differed = [
                n["path"] + (f" (cells {', '.join(map(str, n['cells']))})" if n["cells"] else "")
                for n in summary["nondeterministic"]
            ]
            said = (
                f"[yellow]differed between runs:[/yellow] {literal(', '.join(differed))}"
                if differed
                else "none differed"
            )
            stderr.print(f"{summary['runs']} runs compared: {said}")


@click.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def inspect(package: Path, json_: bool) -> None:
    """Show what a package holds: notebooks, files, environment, runs.

    \b
    Example:
      repropack inspect claims.crate.zip
      repropack inspect claims.crate.zip --json | jq '.files[] | select(.restricted)'
    """
    from repropack.config import resolve_opening_limits
    from repropack.crate.reader import open_package
    from repropack.errors import BadInput
    from repropack.ui.inspect_view import describe_package, render_inspection

    def work():
        with open_package(package, resolve_opening_limits()) as opened:
            # Showing what could be read of a package with unreadable parts would hide them.
            problems = opened.problems
            if problems:
                others = f"; {len(problems) - 1} more, which `repropack check` lists" if len(problems) > 1 else ""
                raise BadInput(f"{opened.source}: {problems[0].message}{others}")
            return describe_package(opened.source, opened.package, opened.environment_hash)

    description = run_pipeline(work)
    if json_:
        emit_json(description)
    else:
        render_inspection(console(), description)


@click.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def check(package: Path, json_: bool) -> None:
    """Check a package: every hash, the repropack JSON Schema, and the official
    roc-validator for its RO-Crate version (1.1, 1.2 or 1.3) and
    process-run-crate-0.5, run offline.

    Exit 0 when valid, 1 when not, 2 when its lock holds more than pins (an index, a URL, a path),
    with each problem on its own line.
    Recommendations that only need a fact nobody gave (a ROR id, a contact
    point) are printed as advice naming the setting that supplies it; they do
    not make a package invalid.

    \b
    Example:
      repropack check claims.crate.zip
    """
    from repropack.config import resolve_opening_limits
    from repropack.crate.check import check_package

    report = run_pipeline(lambda: check_package(package, resolve_opening_limits()))
    if json_:
        emit_json(report.as_dict())
    else:
        for problem in report.problems:
            click.echo(f"{safe(problem.kind)}: {safe(problem.message)}")
        for advice in report.advice:
            stderr.print(f"advice: {literal(str(advice))}")
        verdict = "valid" if report.valid else f"invalid ({len(report.problems)} problem(s))"
        stderr.print(f"{literal(package)}: {verdict}; {report.files_checked} file hashes checked")
    sys.exit(report.exit_code)
