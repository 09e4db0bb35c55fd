"""``diff`` and ``rejudge``: reading a signed governed-run record again, without re-running anything."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from repropack.cli.common import emit_json, run_pipeline, stderr

_PACKAGE_HELP = (
    "Where the replayed package is now, when it was moved (default: the path the record names); "
    "its metadata sha256 must be the one the record names."
)


@click.command("diff")
@click.argument("record", type=click.Path(path_type=Path))
@click.argument("path", required=False)
@click.option("--package", type=click.Path(path_type=Path), help=_PACKAGE_HELP)
@click.option(
    "-U", "--context", type=click.IntRange(min=0), default=3, show_default=True, help="Lines of context in text diffs."
)
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def diff_command(record: Path, path: str | None, package: Path | None, context: int, json_: bool) -> None:
    """Show in full how an output of a replay differs from the recorded one.

    The recorded side is the package's file, the replayed side the copy the
    signed RECORD keeps. PATH is a package path (an output or an executed
    notebook); without it, every output that differs or is missing. Text is a
    unified diff ('-' recorded, '+' replayed), a notebook is compared cell by
    cell by its sources and outputs, an image is summarised (pixels that
    differ, by how much, where). The record must verify. Exit 0 when nothing
    shown differs, 1 when something does, 2 bad input (a tampered record, a
    package that is not the one replayed).

    \b
    Examples:
      repropack diff study.crate.replay-20261124T101500Z
      repropack diff study.crate.replay-20261124T101500Z outputs/counts.csv --package moved/study.crate.zip
    """
    from repropack.record.diff import diff_record
    from repropack.ui.terminal import diff_text

    diffs = run_pipeline(lambda: diff_record(record, path, package=package, context=context))
    if json_:
        emit_json(
            {
                "record": str(record),
                "outputs": [
                    {
                        "path": d.path,
                        "status": d.status,
                        "rule": d.rule,
                        "detail": d.detail,
                        "recorded": d.recorded,
                        "replayed": d.replayed,
                        "differs": d.differs,
                        "diff": list(d.lines),
                    }
                    for d in diffs
                ],
            }
        )
    elif diffs:
        click.echo(diff_text(diffs))
    else:
        stderr.print("no output of this replay differs from the recorded one")
    sys.exit(1 if any(d.differs for d in diffs) else 0)


@click.command("rejudge")
@click.argument("record", type=click.Path(path_type=Path))
@click.option(
    "--compare",
    "compare",
    multiple=True,
    required=True,
    metavar="GLOB=RULE[:k=v,...]",
    help="A comparison rule to apply (repeatable), e.g. 'outputs/*.png=image:threshold=0.02'; it wins over the replay's and the package's rules.",
)
@click.option("--package", type=click.Path(path_type=Path), help=_PACKAGE_HELP)
@click.option(
    "--record",
    "new_record",
    type=click.Path(path_type=Path),
    help="Also write the re-judgement as a new signed record at NEW, naming the record it re-judges.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ed25519 private key to sign the new record with (default: the one `repropack keys generate` made).",
)
@click.option(
    "--json", "json_", is_flag=True, help="Print the re-judged result on stdout (schemas/replay-result.schema.json)."
)
def rejudge_command(
    record: Path,
    compare: tuple[str, ...],
    package: Path | None,
    new_record: Path | None,
    key: Path | None,
    json_: bool,
) -> None:
    """Re-apply comparison rules to the outputs a signed RECORD keeps, without re-running.

    Prints the verdict the replay would have had under these rules. The record
    itself is never rewritten; --record NEW writes a new signed record that
    states it is a re-judgement of RECORD. Exit 0 reproduced, 1 not
    reproduced, 2 bad input (a tampered record, a package that is not the one
    replayed, a replay that failed and compared nothing).

    \b
    Examples:
      repropack rejudge study.crate.replay-20261124T101500Z --compare 'figures/*.png=image:threshold=0.02'
      repropack rejudge study.crate.replay-20261124T101500Z --compare '*.csv=csv:rtol=1e-9' --record rejudged
    """
    from repropack.config import resolve_replay_settings
    from repropack.replay.rejudge import rejudge, write_rejudgement
    from repropack.ui.terminal import render_rejudgement

    judged = run_pipeline(lambda: rejudge(record, compare, package=package))
    if new_record is not None:
        settings = run_pipeline(lambda: resolve_replay_settings({"key": key, "record": new_record})).values
        written = run_pipeline(lambda: write_rejudgement(judged, new_record, settings))
        judged = replace(judged, new=written)
    if json_:
        emit_json(judged.new.as_dict())
    else:
        render_rejudgement(stderr, judged)
    sys.exit(judged.new.verdict.exit_code)
