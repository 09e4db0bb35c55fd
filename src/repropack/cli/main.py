"""The ``repropack`` command line: parse, call the pipeline, render. No logic here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from repropack import __version__
from repropack.errors import RepropackError
from repropack.fs.names import shown
from repropack.ui.text import literal

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
      repropack replay my-project.crate.zip    # rebuild, re-run in a sandbox, compare, sign a record
      repropack verify-record my-project.crate.replay-20261124T101500Z

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
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Package path: NAME.zip for a deterministic zip, any other path for a folder. Default: ./<project>.crate.zip",
)
@click.option(
    "--notebook",
    "notebooks",
    multiple=True,
    help="Notebook to run (repeatable). Default: every *.ipynb outside hidden, checkpoint and virtualenv folders.",
)
@click.option(
    "--no-execute",
    "execute",
    flag_value=False,
    default=True,
    help="Package the notebooks as they are; outputs are their saved state.",
)
@click.option("--allow-errors", is_flag=True, help="Keep going when a cell raises; the run is recorded as failed.")
@click.option("--timeout", type=int, help="Seconds a single cell may run (default 600).")
@click.option("--kernel", help="Jupyter kernel to run (default python3, whatever the notebook's metadata says).")
@click.option(
    "--restrict",
    multiple=True,
    metavar="GLOB",
    help="Describe matching files by hash only; their bytes stay out of the package (repeatable).",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave matching files out entirely (repeatable).")
@click.option(
    "--allow-secret", multiple=True, metavar="PATH", help="Pack PATH although it looks like a secret (repeatable)."
)
@click.option(
    "--wheelhouse",
    is_flag=True,
    help="Download wheels of the locked environment into the package, for replays with no network.",
)
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
    from repropack.config import resolve_settings
    from repropack.export import export_project
    from repropack.ui.progress import RichProgress

    names = [
        "notebooks",
        "execute",
        "allow_errors",
        "timeout",
        "kernel",
        "restrict",
        "exclude",
        "allow_secret",
        "wheelhouse",
        "base_image",
        "force",
    ]

    def work():
        settings = resolve_settings(_given(ctx, names), project)
        with RichProgress(_stderr) as progress:
            return export_project(project, output, settings, progress)

    result = _run(work)
    for warning in result.warnings:
        _stderr.print(f"[yellow]warning:[/yellow] {literal(warning)}")
    if json_:
        _emit_json(result.summary())
    else:
        summary = result.summary()
        _stderr.print(
            f"[green]wrote[/green] {literal(summary['output'])}: {len(summary['notebooks'])} notebook(s), "
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
    from repropack.ui.inspect_view import describe_package, render_inspection

    def work():
        with open_package(package) as opened:
            return describe_package(opened.source, opened.package, opened.environment_hash)

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
    roc-validator for its RO-Crate version (1.1, 1.2 or 1.3) and
    process-run-crate-0.5, run offline.

    Exit 0 when valid, 1 when not, with each problem on its own line.
    Recommendations that only need a fact nobody gave (a ROR id, a contact
    point) are printed as advice naming the setting that supplies it; they do
    not make a package invalid.

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
            click.echo(f"{problem.kind}: {shown(problem.message)}")
        for advice in report.advice:
            _stderr.print(f"advice: {literal(str(advice))}")
        verdict = "valid" if report.valid else f"invalid ({len(report.problems)} problem(s))"
        _stderr.print(f"{literal(package)}: {verdict}; {report.files_checked} file hashes checked")
    sys.exit(0 if report.valid else 1)


def _parse_inputs(values: tuple[str, ...]) -> dict[str, Path]:
    parsed = {}
    for value in values:
        path, sep, file = value.partition("=")
        if not sep or not path or not file:
            raise click.BadParameter(f"{value!r}: expected PATH=FILE", param_hint="--input")
        parsed[path] = Path(file)
    return parsed


class _RegisteredBackends(click.Choice):
    """The --backend choices: the registered backends (plugins included), looked up only when
    the option is parsed or its help shown, so other commands never import the Docker SDK."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from repropack.sandbox import BACKENDS

        return tuple(BACKENDS.names())

    @choices.setter
    def choices(self, _ignored: Any) -> None:
        pass  # the registry is the list

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value not in self.choices:  # a plugin that failed to load: say why, not just "not one of"
            from repropack.errors import CannotRun
            from repropack.sandbox import BACKENDS

            try:
                BACKENDS.get(value)
            except CannotRun as error:
                self.fail(str(error), param, ctx)
            except RepropackError:
                pass
        return super().convert(value, param, ctx)


@main.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=_RegisteredBackends(),
    help="Where to run: a locked-down container, or a cached virtualenv (weaker isolation) where there is no engine.",
)
@click.option("--base-image", help="Base image to build on (default: the one recorded in the package).")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted CA bundle for the build (behind a TLS-intercepting proxy); used in a build stage only. Default: $PIP_CERT, $REQUESTS_CA_BUNDLE or $SSL_CERT_FILE.",
)
@click.option("--offline", is_flag=True, help="Build from the package's wheelhouse with no network.")
@click.option("--input", "inputs", multiple=True, metavar="PATH=FILE", help="Supply a restricted input (repeatable).")
@click.option(
    "--inputs",
    "inputs_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding restricted inputs at their package paths.",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    help="Wall-clock seconds for the whole run; the sandbox is killed after (default 1800).",
)
@click.option("--memory", help="Memory limit of the sandbox, docker syntax: 512m, 2g (default 2g).")
@click.option(
    "--compare",
    "compare",
    multiple=True,
    metavar="GLOB=RULE[:k=v,...]",
    help="Override a comparison rule, e.g. 'outputs/*.png=image:threshold=0.02'.",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help="Where the signed governed-run record goes (default: beside the package).",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ed25519 private key to sign with (default: the one `repropack keys generate` made; made now if there is none).",
)
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the HTML report to FILE.html.",
)
@click.option("--keep", is_flag=True, help="Keep the work dir and container for debugging.")
@click.option(
    "--json", "json_", is_flag=True, help="Print one JSON object on stdout (schemas/replay-result.schema.json)."
)
def replay(
    package: Path,
    backend: str | None,
    base_image: str | None,
    ca_bundle: Path | None,
    offline: bool,
    inputs: tuple[str, ...],
    inputs_dir: Path | None,
    timeout: int | None,
    memory: str | None,
    compare: tuple[str, ...],
    record: Path | None,
    key: Path | None,
    report: Path | None,
    keep: bool,
    json_: bool,
) -> None:
    """Rebuild PACKAGE's environment, re-run its notebooks in a sandbox and
    compare every output with what was recorded.

    Writes a signed governed-run record and prints a verdict. Exit 0
    reproduced, 1 not reproduced, 3 failed (with its cause), 2 bad or tampered
    package. --backend, --timeout, --memory and --base-image may also be set in
    the [replay] table of ~/.config/repropack/config.toml.

    \b
    Examples:
      repropack replay claims.crate.zip --inputs /secure/enclave/claims
      repropack replay pkg.zip --offline --json
      repropack replay pkg.zip --compare 'outputs/*.png=image:threshold=0.02' --report report.html
    """
    from repropack.config import resolve_replay_settings
    from repropack.replay import replay_package
    from repropack.ui.progress import RichProgress
    from repropack.ui.terminal import render_replay

    flags = {
        "backend": backend,
        "base_image": base_image,
        "ca_bundle": ca_bundle,
        "offline": offline or None,
        "inputs": _parse_inputs(inputs) or None,
        "inputs_dir": inputs_dir,
        "timeout": timeout,
        "memory": memory,
        "compare": compare or None,
        "keep": keep or None,
        "record": record,
        "key": key,
        "report": report,
    }
    resolved = _run(lambda: resolve_replay_settings(flags))

    def work():
        with RichProgress(_stderr) as progress:
            return replay_package(package, resolved.values, progress, sources=resolved.sources)

    result = _run(work)
    if json_:
        _emit_json(result.as_dict())
    else:
        render_replay(_stderr, result)
    sys.exit(result.verdict.exit_code)


@main.command("verify-record")
@click.argument("record", type=click.Path(path_type=Path))
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key the record must be signed with.",
)
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def verify_record_command(record: Path, key: Path | None, json_: bool) -> None:
    """Check a governed-run record's signature and every file hash.

    Exit 0 valid, 1 tampered (each problem on its own line).

    \b
    Example:
      repropack verify-record claims.crate.replay-20261124T101500 --key ~/.config/repropack/keys/repropack.pub
    """
    from repropack.record.signing import verify_record

    result = _run(lambda: verify_record(record, key))
    if json_:
        _emit_json({"valid": result.valid, "key_id": result.key_id, "problems": list(result.problems)})
    else:
        for problem in result.problems:
            click.echo(problem)
        _stderr.print(
            f"{literal(record)}: {'valid' if result.valid else 'TAMPERED'}; signed by {literal(result.key_id)}"
        )
    sys.exit(0 if result.valid else 1)


@main.group()
def keys() -> None:
    """Manage the Ed25519 key that signs governed-run records."""


@keys.command("generate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the key pair (default: the user config dir).",
)
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
def keys_generate(directory: Path | None, force: bool) -> None:
    """Make a signing key pair (NAME.key, mode 0600, and NAME.pub).

    \b
    Example:
      repropack keys generate && repropack replay pkg.zip
    """
    from repropack.record.keys import generate_key_pair

    pair = _run(lambda: generate_key_pair(directory, force=force))
    click.echo(f"{pair.key_id}\n  private {pair.private_path}\n  public  {pair.public_path}")


@main.group()
def base() -> None:
    """Base images built from a Debian mirror (no registry needed)."""


@base.command("build")
@click.option("--tag", default=None, help="Image name:tag (default repropack/base:bookworm-py3.11).")
@click.option("--suite", default="bookworm", show_default=True)
@click.option("--mirror", default="http://deb.debian.org/debian", show_default=True)
@click.option("--if-missing", is_flag=True, help="Do nothing when the image already exists.")
def base_build(tag: str | None, suite: str, mirror: str, if_missing: bool) -> None:
    """debootstrap a minimal Debian with Python and import it into the engine.

    \b
    Example:
      repropack base build --if-missing
    """
    from repropack.config import DEFAULT_BASE_IMAGE
    from repropack.sandbox.docker.base_image import base_image_exists, build_base_image

    tag = tag or DEFAULT_BASE_IMAGE
    if if_missing and _run(lambda: base_image_exists(tag)):
        click.echo(f"{tag}: already present")
        return
    with _stderr.status(f"Building {tag} from {mirror} ({suite}); about a minute") as status:
        image_id = _run(
            lambda: build_base_image(
                tag, suite=suite, mirror=mirror, on_line=lambda line: status.update(f"{tag}: {line[:90]}")
            )
        )
    click.echo(f"{tag}: {image_id}")
