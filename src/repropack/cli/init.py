"""``init``: write a project's repropack.toml from what its files say, asking for what they do not."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repropack.cli.common import emit_json, run_pipeline, stderr
from repropack.errors import BadInput
from repropack.ui.text import literal


def _ask(missing: tuple[str, ...]) -> dict:
    """Prompt for each missing required field; an empty answer leaves it missing."""
    from repropack.export.project_config import check_given, parse_author

    answers: dict = {}
    if "title" in missing:
        answers["title"] = click.prompt("Title of the work", default="", show_default=False).strip()
    if "license" in missing:
        while True:
            license = click.prompt("License (SPDX id, e.g. MIT; empty to skip)", default="", show_default=False)
            try:
                answers.update(check_given({"license": license.strip()}))
                break
            except BadInput as error:
                click.echo(f"  {error}", err=True)
    if "authors" in missing:
        authors = []
        while True:
            text = click.prompt(
                "Author as 'Name <ORCID>' (empty when done)" if not authors else "Another author (empty when done)",
                default="",
                show_default=False,
            ).strip()
            if not text:
                break
            try:
                authors.append(parse_author(text))
            except BadInput as error:
                click.echo(f"  {error}", err=True)
        answers["authors"] = tuple(authors)
    return {k: v for k, v in answers.items() if v}


@click.command("init")
@click.argument("project", type=click.Path(path_type=Path, file_okay=False), default=".", required=False)
@click.option("--title", help="Title of the work.")
@click.option("--description", help="One paragraph on what the work is.")
@click.option("--license", "license_", metavar="SPDX", help="License as an SPDX id: MIT, Apache-2.0, CC-BY-4.0...")
@click.option(
    "--author", "authors", multiple=True, metavar="'NAME <ORCID> <EMAIL>'", help="An author (repeatable, in order)."
)
@click.option("--keyword", "keywords", multiple=True, help="A keyword (repeatable).")
@click.option("--work-version", help="Version of the work (not of repropack).")
@click.option("--doi", help="DOI of the work: 10.NNNN/... or https://doi.org/10.NNNN/...")
@click.option("--publisher", metavar="'NAME <URL>'", help="The publishing organization.")
@click.option("--force", is_flag=True, help="Rewrite an existing repropack.toml that holds only package metadata.")
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask for what is missing (default: when stdin is a terminal and --json is not given).",
)
@click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout: fields, sources, missing.")
def init(
    project: Path,
    title: str | None,
    description: str | None,
    license_: str | None,
    authors: tuple[str, ...],
    keywords: tuple[str, ...],
    work_version: str | None,
    doi: str | None,
    publisher: str | None,
    force: bool,
    interactive: bool | None,
    json_: bool,
) -> None:
    """Write PROJECT/repropack.toml with the package metadata the project already states.

    It reads CITATION.cff, codemeta.json, .zenodo.json, pyproject.toml [project],
    setup.cfg, setup.py (parsed, never run) and a LICENSE/COPYING file identified
    by its text, and writes each value with a comment naming its source; flags
    win over them. On a terminal it asks for a missing title, license or author.
    Without one, it writes what it has, lists what is missing on stderr (and in
    --json's "missing") and exits 0: export then warns about the same fields.

    \b
    Examples:
      repropack init                                   # the current folder; asks on a terminal
      repropack init my-project --license MIT --author 'Ada Lovelace <0000-0002-1825-0097>'
      repropack init . --no-interactive --json         # write what is found, report the rest
    """
    from repropack.export.project_config import (
        GivenMetadata,
        check_given,
        parse_author,
        parse_publisher,
        plan_init,
        refuse_overwrite,
        write_init,
    )

    if not project.is_dir():
        raise click.BadParameter(f"{project}: not a folder", param_hint="PROJECT")

    def work():
        refuse_overwrite(project, force)
        flags = {
            "title": title,
            "description": description,
            "license": license_,
            "keywords": tuple(keywords),
            "version": work_version,
            "doi": doi,
            "authors": tuple(parse_author(a) for a in authors),
            "publisher": parse_publisher(publisher) if publisher else None,
        }
        typed = GivenMetadata(check_given(flags))
        plan = plan_init(project, typed)
        ask = interactive if interactive is not None else (sys.stdin.isatty() and not json_)
        if ask and plan.missing:
            plan = plan_init(project, typed, GivenMetadata(_ask(plan.missing), "the prompt"))
        write_init(plan)
        return plan

    plan = run_pipeline(work)
    for note in plan.notes:
        stderr.print(f"[yellow]warning:[/yellow] {literal(note)}")
    if json_:
        emit_json(plan.summary())
        return
    stderr.print(f"[green]wrote[/green] {literal(str(plan.path))}")
    for name, source in plan.summary()["fields"].items():
        stderr.print(f"  {name}: from {literal(source)}")
    if plan.missing:
        stderr.print(
            f"[yellow]missing:[/yellow] {', '.join(plan.missing)}: add them to {literal(str(plan.path))} "
            "(the file shows where), or run init again with --force and flags"
        )
