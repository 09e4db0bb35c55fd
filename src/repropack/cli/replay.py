"""``replay`` and ``verify-record``: re-running a package and checking its signed record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from repropack.cli.common import command_line_parameters, emit_json, parameter_options, run_pipeline, stderr
from repropack.config import CRATE_VERSIONS
from repropack.errors import RepropackError
from repropack.model.disclosure import DisclosureReport
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
    "--identity",
    type=click.Path(dir_okay=False, path_type=Path),
    help="age identity file (repropack keys identity) to decrypt the restricted inputs the package carries "
    "encrypted to you; they go into the sandbox only (a tmpfs, or the local backend's private work dir), "
    "checked against their recorded sha256, and are removed after the run. Default: [replay] identity.",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    help="Seconds a single cell may run, as at export (default: the per-cell timeout the export ran with).",
)
@click.option(
    "--total-timeout",
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
    "--min-count",
    type=click.IntRange(min=1),
    metavar="K",
    help="Disclosure control: a count below K in a declared count column fails, over the package's recorded "
    "[disclosure] rules (or ACRO's defaults when it declares none). A failing output is recorded but never "
    "copied into the record; the verdict does not change. Default: [replay] disclosure.",
)
@parameter_options(
    "What if NAME had been VALUE? Injects it instead of the recorded value (repeatable; typed as "
    "papermill -p types it), e.g. -p year 2025. The outputs are still compared with the recorded ones, but the "
    "verdict is labelled what-if: it is not a reproduction. Only parameters the package recorded can change.",
    "YAML mapping of what-if parameter values (a key 'NAME.ipynb' holds one notebook's own); -p wins.",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help="Folder the signed governed-run record is written to (default: beside the package, NAME.replay-TIME); "
    "refused before the replay starts if it exists.",
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
    help="Also write the HTML report to FILE, exactly that path (e.g. --report review.html); refused before the "
    "replay starts if FILE exists.",
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
    identity: Path | None,
    timeout: int | None,
    total_timeout: int | None,
    build_timeout: int | None,
    memory: str | None,
    disk: str | None,
    compare: tuple[str, ...],
    min_count: int | None,
    record: Path | None,
    key: Path | None,
    report: Path | None,
    keep: bool,
    keep_restricted: bool,
    crate_version: str | None,
    json_: bool,
    parameter_pairs: tuple[tuple[str, str], ...],
    parameters_file: Path | None,
) -> None:
    """Rebuild PACKAGE's environment, re-run its notebooks in a sandbox and
    compare every output with what was recorded.

    Writes a signed governed-run record and prints a verdict. Exit 0
    reproduced, 1 not reproduced, 3 failed (with its cause), 2 bad or tampered
    package. --backend, --timeout, --total-timeout, --memory, --disk, --base-image and --crate-version
    may also be set in the [replay] table of ~/.config/repropack/config.toml,
    and who replays in its [replay.operator] table (default: git's user.name
    and user.email, else the login name). The record lists every setting used
    and where it came from.

    \b
    Examples:
      repropack replay claims.crate.zip --inputs /secure/enclave/claims
      repropack replay pkg.zip --offline --json
      repropack replay pkg.zip --timeout 1200 --total-timeout 7200   # a slow machine: per cell, and in all
      repropack replay pkg.zip --compare 'outputs/*.png=image:threshold=0.02' --report report.html
      repropack replay pkg.zip -p year 2025      # what-if: another value, compared, not a reproduction
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
        "identity": str(identity) if identity else None,  # a path, as the user config's [replay] identity
        "timeout": timeout,
        "total_timeout": total_timeout,
        "build_timeout": build_timeout,
        "memory": memory,
        "disk": disk,
        "compare": compare or None,
        "disclosure": {"min_count": min_count} if min_count else None,
        "keep": keep or None,
        "keep_restricted": keep_restricted or None,
        "record": record,
        "key": key,
        "report": report,
        "crate_version": crate_version,
    }

    def settings():
        if parameter_pairs or parameters_file:
            flags["parameters"] = command_line_parameters(parameter_pairs, parameters_file)
        return resolve_replay_settings(flags)

    resolved = run_pipeline(settings)

    def work():
        with RichProgress(stderr) as progress:
            return replay_package(package, resolved.values, progress, sources=resolved.sources)

    result = run_pipeline(work)
    if json_:
        emit_json(result.as_dict())
    else:
        render_replay(stderr, result)
        if result.disclosure is not None:
            stderr.print(_disclosure_line(result.disclosure), soft_wrap=True)
    sys.exit(result.verdict.exit_code)


def _disclosure_line(report: DisclosureReport) -> str:
    """The disclosure gate's outcome in one line: what is withheld, what was masked, what needs a person."""
    from repropack.crate.assess import FAILED, PENDING_REVIEW, outcome

    said = outcome(report)
    checked = f"{len(report.files)} file{'s' if len(report.files) != 1 else ''} checked"
    if said == FAILED:
        cells = len(report.findings())
        withheld = ", ".join(literal(path) for path in report.failing() if path not in report.suppressed)
        return (
            f"[bold red]disclosure control: failed[/bold red] — {cells} cell{'s' if cells != 1 else ''} "
            f"({checked}); not copied into the record: {withheld}"
        )
    if said == PENDING_REVIEW:
        review = ", ".join(literal(path) for path in report.needs_review())
        return f"[yellow]disclosure control: pending review by a person[/yellow] ({checked}): {review}"
    masked = sum(len(cells) for cells in report.suppressed.values())
    return f"[green]disclosure control: {said}[/green] ({checked}" + (
        f"; {masked} cell{'s' if masked != 1 else ''} masked as at export)" if masked else ")"
    )


@click.command("verify-record")
@click.argument("record", type=click.Path(path_type=Path))
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key the record must be signed with; without it the record's own embedded key is used, which "
    "proves the record is unchanged but not who signed it.",
)
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def verify_record_command(record: Path, key: Path | None, json_: bool) -> None:
    """Check a governed-run record's signature and every file hash.

    RECORD is the folder a replay wrote, or a zip of it (opened as safely as a
    zipped package). Exit 0 valid, 1 tampered (each problem on its own line) or
    signed by a different key than --key, 2 not a record.

    \b
    Examples:
      repropack verify-record claims.crate.replay-20261124T101500Z --key ~/.config/repropack/keys/repropack.pub
      repropack verify-record claims.crate.replay-20261124T101500Z.zip
    """
    from repropack.config import resolve_opening_limits
    from repropack.fs.shown_paths import shown_path
    from repropack.record.archived import record_folder
    from repropack.record.signing import verify_record

    def work():
        with record_folder(record, resolve_opening_limits()) as folder:
            return verify_record(folder, key)

    result = run_pipeline(work)
    if json_:
        emit_json(
            {
                "valid": result.valid,
                "key_id": result.key_id,
                "expected_key_id": result.expected_key_id,
                "other_signer": result.other_signer,
                "key_name": result.key_name,
                "problems": list(result.problems),
                "sign_offs": [sign_off.as_dict() for sign_off in result.sign_offs],
            }
        )
    else:
        where = literal(shown_path(record))
        signer = literal(result.key_id) + (f" (key {literal(repr(result.key_name))})" if result.key_name else "")
        if result.other_signer:
            stderr.print(
                f"{where}: signed by a different key: {signer}, not {literal(result.expected_key_id)} "
                "given with --key (the record is otherwise intact)",
                soft_wrap=True,
            )
        else:
            for problem in result.problems:
                click.echo(safe(problem))
            verdict = "valid" if result.valid else "TAMPERED"
            if result.expected_key_id is not None:
                checked = "the key given with --key"
            else:
                checked = (
                    "checked against the record's own key: it proves the record is unchanged, not who signed it "
                    "(pass --key KEY.pub to check the signer)"
                )
            stderr.print(f"{where}: {verdict}; signed by {signer}, {checked}", soft_wrap=True)
        for sign_off in result.sign_offs:  # each checked against its own embedded key, as the record without --key
            stderr.print(
                f"  sign-off {literal(sign_off.id)}: {literal(sign_off.decision or 'no decision')} by "
                f"{literal(repr(sign_off.by))} ({literal(sign_off.role or 'no role')}) at {literal(sign_off.time)}, "
                f"key {literal(sign_off.key_id)}: {'valid' if sign_off.valid else 'INVALID'}",
                soft_wrap=True,
            )
    sys.exit(0 if result.valid else 1)
