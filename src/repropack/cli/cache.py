"""``cache list`` and ``cache prune``: the environment images and on-disk caches replays keep."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from repropack.cli.common import emit_json, fail, run_pipeline, stderr
from repropack.errors import BadInput, CannotRun
from repropack.ui.text import literal, safe


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M") if seconds else "-"


def _engine():
    """The engine's client, or None with the reason when none answers (the disk caches are still there)."""
    from repropack.sandbox.docker.engine import engine_client

    try:
        return engine_client(), ""
    except CannotRun as error:
        return None, str(error)


@click.group()
def cache() -> None:
    """The environment images and on-disk caches that replays keep, and their pruning.

    \b
    Examples:
      repropack cache list
      repropack cache prune --keep-size 50G          # least recently used images first
      repropack cache prune --older-than 30d --dry-run
    """


@cache.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def cache_list(as_json: bool) -> None:
    """List the environment images (tag, size, last use) and the on-disk caches, with totals.

    An image's size is what only it holds (the base image's layers are shared), what removing it frees.

    \b
    Examples:
      repropack cache list
      repropack cache list --json | jq '.images[] | .tag'
    """
    from repropack.fs.hashing import default_cache_dir
    from repropack.sandbox.docker.cache import disk_caches, list_images

    client, unreachable = _engine()
    images = run_pipeline(lambda: list_images(client)) if client is not None else []
    disk = disk_caches()
    if as_json:
        emit_json(
            {
                "engine": None if client is None else "reachable",
                "engine_error": unreachable or None,
                "images": [
                    {
                        "tag": image.tag,
                        "id": image.id,
                        "size": image.unique_size,
                        "size_with_base": image.size,
                        "created": image.created,
                        "last_used": image.last_used,
                        "in_use": image.in_use,
                    }
                    for image in images
                ],
                "disk": {
                    "folder": str(default_cache_dir()),
                    "caches": [{"name": entry.name, "size": entry.size, "files": entry.files} for entry in disk],
                },
                "total": {
                    "images": sum(image.unique_size for image in images),
                    "disk": sum(entry.size for entry in disk),
                },
            }
        )
        return
    if client is None:
        stderr.print(f"images: not listed: {literal(unreachable)}")
    else:
        click.echo(f"{'IMAGE':<36} {'SIZE':>10}  {'LAST USED (UTC)':<16}")
        for image in images:
            mark = "  (in use)" if image.in_use else ""
            click.echo(f"{safe(image.tag):<36} {_bytes(image.unique_size):>10}  {_when(image.last_used):<16}{mark}")
        click.echo(f"{len(images)} image(s), {_bytes(sum(image.unique_size for image in images))}")
    click.echo(f"\n{'CACHE (' + safe(default_cache_dir()) + ')':<47} {'SIZE':>10}  FILES")
    for entry in disk:
        click.echo(f"{safe(entry.name):<47} {_bytes(entry.size):>10}  {entry.files}")
    click.echo(f"on disk: {_bytes(sum(entry.size for entry in disk))}")


@cache.command("prune")
@click.option(
    "--keep-size",
    metavar="SIZE",
    help="Remove the least recently used images until the rest hold at most SIZE (50G, 800m; binary units).",
)
@click.option(
    "--older-than",
    metavar="AGE",
    help="Remove images not used for AGE (30d, 12h, 90m, 2w), and the local backend's virtualenvs and "
    "cached wheels not changed for AGE.",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def cache_prune(keep_size: str | None, older_than: str | None, dry_run: bool, as_json: bool) -> None:
    """Remove environment images least recently used first, and old on-disk cache entries.

    An image a running replay was started from is never removed. Signing keys and everything outside
    the cache folder are never touched.

    \b
    Examples:
      repropack cache prune --keep-size 50G
      repropack cache prune --older-than 30d
      repropack cache prune --keep-size 20G --older-than 14d --dry-run
    """
    from repropack.config import duration_in_seconds, size_in_bytes
    from repropack.sandbox.docker.cache import prune

    if keep_size is None and older_than is None:
        raise click.UsageError("give --keep-size SIZE or --older-than AGE (or both)")

    def parsed(parse, text, option):
        try:
            return None if text is None else parse(text)
        except ValueError as error:
            raise BadInput(f"{option}: {error}") from None

    keep = run_pipeline(lambda: parsed(size_in_bytes, keep_size, "--keep-size"))
    age = run_pipeline(lambda: parsed(duration_in_seconds, older_than, "--older-than"))
    client, unreachable = _engine()
    if client is None and keep is not None:
        fail(CannotRun(f"--keep-size needs the engine: {unreachable}"))
    result = run_pipeline(lambda: prune(client, keep_size=keep, older_than=age, dry_run=dry_run, now=time.time()))
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "removed": [{"kind": r.kind, "name": r.name, "size": r.size} for r in result.removed],
                "spared_in_use": list(result.spared),
                "freed": result.freed,
                "engine_error": unreachable or None,
            }
        )
        return
    if client is None:
        stderr.print(f"images: not pruned: {literal(unreachable)}")
    verb = "would remove" if dry_run else "removed"
    for removal in result.removed:
        click.echo(f"{verb} {removal.kind} {safe(removal.name)} ({_bytes(removal.size)})")
    for tag in result.spared:
        click.echo(f"kept image {safe(tag)}: a container uses it")
    click.echo(f"{'would free' if dry_run else 'freed'} {_bytes(result.freed)} ({len(result.removed)} removed)")
