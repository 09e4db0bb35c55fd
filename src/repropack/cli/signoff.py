"""``sign-off``: a person's signed approval or rejection of a governed-run record after their review."""

from __future__ import annotations

from pathlib import Path

import click

from repropack.cli.common import emit_json, run_pipeline, stderr
from repropack.ui.text import literal


@click.command("sign-off")
@click.argument("record", type=click.Path(path_type=Path))
@click.option("--by", "by", required=True, metavar="NAME", help="Name of the person signing off (required).")
@click.option("--role", default="checker", show_default=True, help="Their role in the review, e.g. output checker.")
@click.option(
    "--decision",
    type=click.Choice(["approved", "rejected"]),
    default="approved",
    show_default=True,
    help="Their decision.",
)
@click.option("--note", metavar="TEXT", help="Why, in a sentence; kept in the record with the sign-off.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key to sign the sign-off with (default: yours, made now if missing).",
)
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")
def sign_off_command(
    record: Path, by: str, role: str, decision: str, note: str | None, key: Path | None, json_: bool
) -> None:
    """Add a signed sign-off to a governed-run record, after a person reviewed its disclosure check.

    RECORD is the record folder a replay wrote (unzip a zipped one first). The
    record must verify; its own signature stays valid, and verify-record checks
    the sign-off's signature too. Exit 0 signed off, 2 bad input (a record that
    does not verify, an empty --by, a zip) with nothing written.

    \b
    Examples:
      repropack sign-off claims.crate.replay-20261124T101500Z --by "Rita Reviewer"
      repropack sign-off claims.crate.replay-20261124T101500Z --by "Rita Reviewer" --decision rejected \\
          --note "row 3 of counts.csv is below the threshold"
    """
    from repropack.fs.shown_paths import shown_path
    from repropack.record.sign_off import sign_off_record

    sign_off = run_pipeline(lambda: sign_off_record(record, by=by, role=role, decision=decision, note=note, key=key))
    if json_:
        emit_json({"record": shown_path(record), **sign_off.as_dict()})
    else:
        stderr.print(
            f"{literal(shown_path(record))}: sign-off {literal(sign_off.id)}: {literal(sign_off.decision)} by "
            f"{literal(sign_off.by)} ({literal(sign_off.role)}), signed with {literal(sign_off.key_id)}",
            soft_wrap=True,
        )
