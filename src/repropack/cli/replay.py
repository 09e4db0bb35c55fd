"""``replay`` and ``verify-record``: re-running a package and checking its signed record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from repropack.cli.common import emit_json, run_pipeline, stderr
from repropack.config import CRATE_VERSIONS
from repropack.errors import RepropackError
from repropack.ui.text import literal, safe


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


@click.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=_RegisteredBackends(),
    help="Where to run: a locked-down container, or a cached virtualenv (weaker isolation) where there is no engine.",
)
@click.option(
    "--crate-version",
    type=click.Choice(CRATE_VERSIONS),
    help="RO-Crate version of the record (default 1.2; 1.1 for tools that read only 1.1).",
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
    help="Wall-clock seconds for the whole run; the sandbox is killed after (default: 3 x the recorded "
    "wall time + 60, at least 300; 1800 for a package that recorded none).",
)
@click.option(
    "--build-timeout",
    type=click.IntRange(min=1),
    help="Seconds the environment's image build may take; past it the build is cancelled (default 1800).",
)
@click.option(
    "--memory",
    help="Memory limit of the sandbox, docker syntax: 512m, 2g (default: 2 x the recorded peak, at least 512m; "
    "2g for a package that recorded none).",
)
@click.option(
    "--disk",
    metavar="SIZE",
    help="Most the work folder may hold, docker syntax: 20m, 1g; writes past it fail in the sandbox "
    "(default: 4 x the package's files, at least 1g). Enforced by a file system of its own when run as root.",
)
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
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the container, and a copy of the work dir for debugging (mode 0700; regular files and folders "
    "only, no setuid bits; restricted inputs left out).",
)
@click.option(
    "--keep-restricted", is_flag=True, help="With --keep: keep the restricted inputs in the copy of the work dir too."
)
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
    build_timeout: int | None,
    memory: str | None,
    disk: str | None,
    compare: tuple[str, ...],
    record: Path | None,
    key: Path | None,
    report: Path | None,
    keep: bool,
    keep_restricted: bool,
    crate_version: str | None,
    json_: bool,
) -> None:
    """Rebuild PACKAGE's environment, re-run its notebooks in a sandbox and
    compare every output with what was recorded.

    Writes a signed governed-run record and prints a verdict. Exit 0
    reproduced, 1 not reproduced, 3 failed (with its cause), 2 bad or tampered
    package. --backend, --timeout, --memory, --disk, --base-image and --crate-version
    may also be set in the [replay] table of ~/.config/repropack/config.toml,
    and who replays in its [replay.operator] table (default: git's user.name
    and user.email, else the login name). The record lists every setting used
    and where it came from.

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
        "build_timeout": build_timeout,
        "memory": memory,
        "disk": disk,
        "compare": compare or None,
        "keep": keep or None,
        "keep_restricted": keep_restricted or None,
        "record": record,
        "key": key,
        "report": report,
        "crate_version": crate_version,
    }
    resolved = run_pipeline(lambda: resolve_replay_settings(flags))

    def work():
        with RichProgress(stderr) as progress:
            return replay_package(package, resolved.values, progress, sources=resolved.sources)

    result = run_pipeline(work)
    if json_:
        emit_json(result.as_dict())
    else:
        render_replay(stderr, result)
    sys.exit(result.verdict.exit_code)


@click.command("verify-record")
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

    result = run_pipeline(lambda: verify_record(record, key))
    if json_:
        emit_json({"valid": result.valid, "key_id": result.key_id, "problems": list(result.problems)})
    else:
        for problem in result.problems:
            click.echo(safe(problem))
        stderr.print(
            f"{literal(record)}: {'valid' if result.valid else 'TAMPERED'}; signed by {literal(result.key_id)}"
        )
    sys.exit(0 if result.valid else 1)
