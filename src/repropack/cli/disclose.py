"""``disclose check``: statistical disclosure control over outputs, before anything leaves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from repropack.cli.common import emit_json, run_pipeline
from repropack.errors import BadInput
from repropack.ui.text import safe


@click.group("disclose")
def disclose() -> None:
    """Statistical disclosure control: check tables in outputs before they leave.

    \b
    Examples:
      repropack disclose check outputs/ --min-count 10
      repropack disclose check outputs/ --rules acro.yaml
    """


@disclose.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    metavar="K",
    help="Smallest count that may be shown (ACRO's safe_threshold); overrides the rules' min_count everywhere.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Read the rules from FILE: a repropack.toml (its [disclosure] table) or an ACRO config (.yaml). "
    "Default: the [disclosure] table of the nearest repropack.toml above the first PATH, else ACRO's defaults.",
)
@click.option("--json", "json_", is_flag=True, help="Print the report as one JSON object on stdout.")
def check(paths: tuple[Path, ...], min_count: int | None, rules_file: Path | None, json_: bool) -> None:
    """Check the tables in PATH... (files or folders) against the disclosure rules.

    Tables are read from CSV/TSV files and from the HTML tables a notebook's
    outputs show; only the columns the rules declare as counts ([disclosure]
    counts) are checked: a count below the minimum, a zero when zeros are
    disclosive, a suppressed cell recoverable from a total, and dominance and
    p % over tables of contributors. An ACRO results.json among the files is
    honoured: its fail and review decisions block release. Figures and free
    text need review by a person. Each violating cell is one line on stdout:
    FILE[, TABLE]: row R, column C: value V: RULE (detail). Files are named
    relative to the project the rules came from (else the current folder);
    folders are walked without following links.

    Exit 0 when nothing must be withheld (files needing review are listed),
    1 when a cell or file fails, 2 bad input (a bad [disclosure] table or ACRO
    config, a results.json naming a file outside its folder, a missing PATH).

    \b
    Examples:
      repropack disclose check outputs/
      repropack disclose check outputs/ analysis.ipynb --min-count 10
      repropack disclose check outputs/ --rules acro.yaml --json
    """
    from repropack.disclosure.check import check_outputs
    from repropack.disclosure.rules import nearest_project_rules, rules_from_file, with_overrides
    from repropack.ui.disclosure_view import report_lines, summary_line

    if rules_file is not None:
        rules = run_pipeline(lambda: rules_from_file(rules_file))
        project = rules_file.resolve().parent if rules_file.suffix.lower() == ".toml" else None
    else:
        rules, project = run_pipeline(lambda: nearest_project_rules(paths[0]))
    if min_count is not None:
        rules = run_pipeline(lambda: with_overrides(rules, {"min_count": min_count}, where="--min-count"))
    files = run_pipeline(lambda: _files(paths, project or Path.cwd().resolve()))
    report = run_pipeline(lambda: check_outputs(files, rules, "check"))
    if json_:
        emit_json(report.as_dict())
    else:
        for line in report_lines(report, summary=False):
            click.echo(line)
        click.echo(summary_line(report), err=True)
    sys.exit(1 if report.failing() else 0)


def _files(paths: tuple[Path, ...], base: Path) -> dict[str, Path]:
    """Every regular file named or under a named folder, by its path relative to ``base`` (else absolute).

    A named PATH that is missing or a link is BadInput; links and special files met in a folder are
    skipped, and said so on stderr (a link may point anywhere: it is not what the folder holds).
    """
    found: dict[str, Path] = {}
    for given in paths:
        if not os.path.lexists(given):
            raise BadInput(f"{given}: no such file or folder")
        if given.is_symlink():
            raise BadInput(f"{given}: a symlink; name the file or folder it points to")
        absolute = Path(os.path.abspath(given))
        top = absolute.parent.resolve() / absolute.name
        if top.is_file():
            found[_key(top, base)] = top
            continue
        if not top.is_dir():
            raise BadInput(f"{given}: neither a regular file nor a folder")
        for folder, dirs, names in os.walk(top, onerror=_unreadable):
            for name in sorted(dirs):
                if (Path(folder) / name).is_symlink():
                    click.echo(f"repropack: skipped {safe(Path(folder) / name)}: a link, not followed", err=True)
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    click.echo(f"repropack: skipped {safe(path)}: not a regular file", err=True)
                    continue
                found[_key(path, base)] = path
    return found


def _unreadable(error: OSError) -> None:
    raise BadInput(f"{error.filename}: cannot be read: {error.strerror}")


def _key(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_posix()
