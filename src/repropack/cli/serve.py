"""``serve``: the repository's read-only web view (package list, search, package pages, JSON API)."""

from __future__ import annotations

from pathlib import Path

import click

from repropack.cli.common import run_pipeline
from repropack.cli.repository import repository_options
from repropack.ui.text import safe

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command("serve")
@repository_options
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: this machine only)."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free one).",
)
def serve(repository_path: Path | None, catalog: str | None, host: str, port: int) -> None:
    """Serve a read-only web view of the repository: search, package pages, file downloads, a JSON API.

    Only GET and HEAD are answered; restricted files are described, never served.

    \b
    Examples:
      repropack serve --repository /srv/packages
      repropack serve --host 0.0.0.0 --port 8080     # reachable from other machines
    """
    from repropack.repository.location import open_location
    from repropack.repository.web.server import serve as serve_web

    def ready(url: str) -> None:
        exposure = "" if host in _LOOPBACK else " (reachable from other machines)"
        click.echo(f"serving {safe(location.root)} read-only at {url}{exposure}; Ctrl-C stops", err=True)

    location = run_pipeline(lambda: open_location(repository_path, catalog))
    run_pipeline(lambda: serve_web(location, host, port, ready))
