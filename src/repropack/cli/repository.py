"""The package repository: ``import``, ``search``, ``show``, ``checkout``, ``link``, ``export-bag``, ``export-rdm``
and ``repository init|check``. Parse, call ``repropack.repository``, render."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from repropack.cli.common import emit_json, run_pipeline, stderr
from repropack.errors import RepropackError
from repropack.ui.text import literal, safe


def repository_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--repository PATH`` and ``--catalog URL``, as every repository command takes them."""
    command = click.option(
        "--catalog",
        metavar="URL",
        help="Catalog database URL, over the one the repository records (e.g. postgresql+psycopg://host/db).",
    )(command)
    return click.option(
        "--repository",
        "repository_path",
        type=click.Path(path_type=Path),
        help="Repository folder (default: $REPROPACK_REPOSITORY, the user config's [repository] path, or the user "
        "data directory's).",
    )(command)


def _opened(repository_path: Path | None, catalog: str | None):
    from repropack.repository.opened import Repository

    return Repository.open(repository_path, catalog)


def _in_repository(repository_path: Path | None, catalog: str | None, action: Callable[[Any], Any]) -> Any:
    """``action(repository)`` on the repository the options name, closed after; errors as every command shows them."""

    def work():
        with _opened(repository_path, catalog) as repository:
            return action(repository)

    return run_pipeline(work)


def _json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "json_", is_flag=True, help="Print one JSON object on stdout.")(command)


@click.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PACKAGE...")
@click.option(
    "--as",
    "as_id",
    metavar="ID",
    help="Import as a new version of package ID (when its identifying facts changed, e.g. its title), or give a "
    "new package this ID instead of one derived from its DOI or identifier. One PACKAGE only.",
)
@repository_options
@_json_option
def import_command(
    sources: tuple[Path, ...], as_id: str | None, repository_path: Path | None, catalog: str | None, json_: bool
) -> None:
    """Import packages (folders or zips, BagIt bags, GakuNin RDM project zips) and governed-run records.

    Each package is opened safely outside the repository and refused, with nothing
    written, when it is hostile (exit 2) or invalid or against the repository's
    policy.toml (exit 1). What is admitted is stored deduplicated and catalogued in
    one transaction: fully visible or not at all. The same content again changes
    nothing and says so; the same work with new content becomes a new version.
    A record (what `repropack replay` writes) is verified and joins the history
    of the package it replayed. With several PACKAGEs each is imported on its own;
    the exit code is the worst of them.

    \b
    Examples:
      repropack import claims.crate.zip --repository /srv/repository
      repropack import incoming/*.zip --json | jq '.imports[] | .reference'
      repropack import claims-bag/ .rdm-project-20261124.zip
      repropack import claims.crate.replay-20261124T101500Z       # a governed-run record
      repropack import claims-v2.crate.zip --as pkg-3f9a1c2b7d4e   # a new version of a renamed package
    """
    from repropack.config import default_operator, resolve_opening_limits
    from repropack.repository.importer import import_source
    from repropack.ui.progress import RichProgress
    from repropack.ui.repository_view import render_import

    if as_id is not None and len(sources) > 1:
        raise click.UsageError("--as names one package's id: give one PACKAGE with it")
    repository = run_pipeline(lambda: _opened(repository_path, catalog))
    done, refused, worst = [], [], 0
    with repository:
        policy = run_pipeline(repository.policy)
        limits = run_pipeline(resolve_opening_limits)
        operator = default_operator().name
        for source in sources:
            try:
                with RichProgress(stderr) as progress:
                    outcome = import_source(
                        repository, source, policy, operator, as_id=as_id, limits=limits, progress=progress
                    )
            except RepropackError as error:
                click.echo(f"repropack: error: {safe(error)}", err=True)
                refused.append({"source": str(source), "error": str(error), "exit_code": error.exit_code})
                worst = max(worst, error.exit_code)
                continue
            except KeyboardInterrupt:
                click.echo(f"repropack: interrupted; {safe(source)} was not catalogued", err=True)
                sys.exit(130)
            done.append(outcome)
            if not json_:
                render_import(stderr, outcome)
    if json_:
        emit_json({"imports": [o.as_dict() for o in done], "refused": refused, "settings": repository.settings_used()})
    sys.exit(worst)


@click.command()
@click.argument("query", required=False, default="")
@click.option("--author", help="Part of an author's name (case ignored), or an ORCID.")
@click.option("--keyword", help="A keyword, exactly (case ignored).")
@click.option("--doi", help="The package's DOI or one linked with `repropack link` (bare, doi: or a doi.org URL).")
@click.option("--verdict", help="The verdict of the newest governed run: reproduced, not_reproduced or failed.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Most hits shown.")
@click.option("--all-versions", is_flag=True, help="Every matching version, not only the latest of each package.")
@repository_options
@_json_option
def search(
    query: str,
    author: str | None,
    keyword: str | None,
    doi: str | None,
    verdict: str | None,
    limit: int,
    all_versions: bool,
    repository_path: Path | None,
    catalog: str | None,
    json_: bool,
) -> None:
    """Find packages: every word of QUERY in the title, description, authors,
    keywords or file names (case and accents ignored), narrowed by the options.

    \b
    Examples:
      repropack search claims hokkaido
      repropack search --author "Ada Example" --keyword insurance
      repropack search --doi 10.5281/zenodo.123456
      repropack search --verdict not_reproduced --json
    """
    from dataclasses import asdict

    from repropack.repository.catalog.search import SearchQuery
    from repropack.repository.catalog.search import search as run_search
    from repropack.ui.repository_view import render_hits
    from repropack.ui.text import console

    wanted = SearchQuery(
        text=query, author=author, keyword=keyword, doi=doi, verdict=verdict, limit=limit, all_versions=all_versions
    )

    def work():
        with _opened(repository_path, catalog) as repository, repository.catalog.session() as session:
            return run_search(session, wanted)

    hits = run_pipeline(work)
    if json_:
        emit_json({"hits": [asdict(hit) for hit in hits]})
    else:
        render_hits(console(), hits)


@click.command()
@click.argument("ref", metavar="ID[@VERSION]")
@repository_options
@_json_option
def show(ref: str, repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Show a package: its facts, files with sizes and hashes, governed runs, versions and linked DOIs.

    \b
    Examples:
      repropack show pkg-3f9a1c2b7d4e
      repropack show pkg-3f9a1c2b7d4e@1 --json | jq '.version.files[] | select(.restricted)'
    """
    from repropack.repository.queries import as_json, package_view
    from repropack.ui.repository_view import render_package
    from repropack.ui.text import console

    def work():
        with _opened(repository_path, catalog) as repository, repository.catalog.session() as session:
            return package_view(session, ref)

    view = run_pipeline(work)
    if json_:
        emit_json(as_json(view))
    else:
        render_package(console(), view)


@click.command()
@click.argument("ref", metavar="ID[@VERSION]")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="A new folder, or NAME.zip for the deterministic zip (compared with the imported archive).",
)
@repository_options
@_json_option
def checkout(ref: str, out: Path, repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Write a package out of the repository, every file verified against its sha256.

    OUT is a new folder, or a NAME.zip: the deterministic zip repropack export writes,
    byte-identical to the imported one when that was such a zip (it says whether).
    Restricted files are listed, not written: the repository never had their bytes.
    Nothing is replaced: an existing OUT is refused.

    \b
    Examples:
      repropack checkout pkg-3f9a1c2b7d4e -o claims
      repropack checkout pkg-3f9a1c2b7d4e@1 -o claims-v1.crate.zip
    """
    from repropack.repository.checkout import checkout as run_checkout

    done = _in_repository(repository_path, catalog, lambda repository: run_checkout(repository, ref, out))
    if json_:
        emit_json(done.as_dict())
        return
    stderr.print(
        f"[green]wrote[/green] {literal(done.out)}: {literal(done.public_id)}@{done.version}, "
        f"{done.files_written} file(s), {done.bytes_written} bytes",
        soft_wrap=True,
    )
    if done.restricted:
        stderr.print(f"restricted, described only (not written): {literal(', '.join(done.restricted))}", soft_wrap=True)
    if done.same_as_imported is True:
        stderr.print(f"byte-identical to the imported archive (sha256 {done.zip_sha256})", soft_wrap=True)
    elif done.same_as_imported is False:
        stderr.print(
            f"[yellow]not byte-identical to the imported archive[/yellow] (sha256 {done.zip_sha256}, imported "
            f"{done.imported_sha256}); the files in it are the same"
        )
    elif done.zip_sha256 is not None:
        stderr.print(f"sha256 {done.zip_sha256} (imported from a folder: no archive to compare with)")


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--doi", required=True, help="The publication's DOI: 10.NNNN/suffix, doi:10.… or https://doi.org/10.…")
@repository_options
@_json_option
def link(ref: str, doi: str, repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Link the paper a package supports, by its DOI: shown by `show`, found by `search --doi`.

    \b
    Example:
      repropack link pkg-3f9a1c2b7d4e --doi 10.1234/journal.5678
    """
    from repropack.repository.publications import link_publication

    done = _in_repository(repository_path, catalog, lambda repository: link_publication(repository, ref, doi))
    if json_:
        emit_json(done.as_dict())
    elif done.linked:
        stderr.print(f"[green]linked[/green] {literal(done.doi)} to {literal(done.public_id)}")
    else:
        stderr.print(f"{literal(done.public_id)} is linked to {literal(done.doi)} already; nothing changed")


@click.command("export-bag")
@click.argument("ref", metavar="ID[@VERSION]")
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="A new folder for the bag.")
@click.option(
    "--layout",
    type=click.Choice(["rocrate", "weko"]),
    default="rocrate",
    show_default=True,
    help="rocrate: the RO-Crate BagIt convention (the crate is data/, sha512 manifests); weko: WEKO's import "
    "layout (ro-crate-metadata.json beside data/, sha256 manifests).",
)
@repository_options
@_json_option
def export_bag(
    ref: str, out: Path, layout: str, repository_path: Path | None, catalog: str | None, json_: bool
) -> None:
    """Write a package as a BagIt bag.

    \b
    Examples:
      repropack export-bag pkg-3f9a1c2b7d4e -o claims-bag
      repropack export-bag pkg-3f9a1c2b7d4e@2 -o claims-weko --layout weko
    """
    from repropack.repository.exports import export_bag as run_export

    written = _in_repository(
        repository_path, catalog, lambda repository: run_export(repository, ref, out, layout=layout)
    )
    if json_:
        emit_json({"out": str(written), "layout": layout})
    else:
        stderr.print(f"[green]wrote[/green] the {layout} bag {literal(written)}")


@click.command("export-rdm")
@click.argument("ref", metavar="ID[@VERSION]")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="The zip to write, or a folder to write .rdm-project-<date>.zip in.",
)
@click.option("--addon", default="osfstorage", show_default=True, help="The RDM storage add-on the files go under.")
@repository_options
@_json_option
def export_rdm(ref: str, out: Path, addon: str, repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Write a package as a GakuNin RDM project zip that RDM's importer accepts.

    \b
    Example:
      repropack export-rdm pkg-3f9a1c2b7d4e -o claims.rdm-project.zip
    """
    from repropack.repository.exports import export_rdm as run_export

    written = _in_repository(repository_path, catalog, lambda repository: run_export(repository, ref, out, addon=addon))
    if json_:
        emit_json({"out": str(written), "addon": addon})
    else:
        stderr.print(f"[green]wrote[/green] the RDM project zip {literal(written)}")


@click.group("repository")
def repository_group() -> None:
    """Create and check a package repository.

    \b
    Examples:
      repropack repository init --repository /srv/repository
      repropack repository init --repository /srv/repository --catalog postgresql+psycopg://repo@db/repository
      repropack repository check --repository /srv/repository --json
    """


@repository_group.command("init")
@repository_options
@_json_option
def init_command(repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Make a repository (or upgrade an existing one's catalog to this repropack's schema).

    Writes repository.toml, a commented policy.toml with the default admission
    rules, blobs/ and tmp/, and creates the catalog: catalog.sqlite inside the
    folder unless --catalog names another database.
    """
    from repropack.repository.location import choose_root
    from repropack.repository.opened import init_repository

    def work():
        root, _ = choose_root(repository_path)
        return init_repository(root, catalog)

    location = run_pipeline(work)
    if json_:
        emit_json({"repository": str(location.root), "catalog": _hidden_password(location.catalog_url)})
    else:
        stderr.print(
            f"repository {literal(location.root)} ready; catalog {literal(_hidden_password(location.catalog_url))}; "
            f"policy in {literal(location.policy_file)}",
            soft_wrap=True,
        )


@repository_group.command("check")
@repository_options
@_json_option
def check_command(repository_path: Path | None, catalog: str | None, json_: bool) -> None:
    """Check every blob's hash and that the catalog and the store agree both ways.

    Exit 0 when they do, 1 listing each problem on its own line. Blobs stored but
    not catalogued (left by an interrupted import) are noted, not problems; staging
    files of importers that died are removed.

    \b
    Examples:
      repropack repository check --repository /srv/repository
      repropack repository check --json | jq -r '.problems[]'
    """
    from repropack.repository.check import check_repository

    report = _in_repository(repository_path, catalog, check_repository)
    if json_:
        emit_json(report.as_dict())
    else:
        for problem in report.problems:
            click.echo(safe(problem))
        for note in report.notes:
            stderr.print(f"note: {literal(note)}", soft_wrap=True)
        verdict = "intact" if report.ok else f"{len(report.problems)} problem(s)"
        stderr.print(f"{verdict}; {report.blobs_checked} blob(s) hashed, {report.files_checked} file row(s) resolved")
    sys.exit(report.exit_code)


def _hidden_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)  # a URL the catalog was just created at


COMMANDS = (import_command, search, show, checkout, link, export_bag, export_rdm, repository_group)
