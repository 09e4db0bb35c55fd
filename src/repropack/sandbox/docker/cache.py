"""What repropack keeps between replays, and its pruning: environment images on the engine, folders on disk.

Images are ``IMAGE_REPOSITORY`` tags carrying ``ENVIRONMENT_LABEL`` (nothing else on the engine is looked
at), each with its size, when it was built and when a replay last built or reused it (``ledger``; an image
never noted there counts as last used when it was built). ``prune`` removes them least recently used first:
those not used for ``older_than`` seconds, then more until the rest hold at most ``keep_size`` bytes. An
image a running container was started from is never removed: that is checked again right before each
removal, and the removal itself is never forced, so the engine also refuses one any container still uses.

On disk, everything lives under ``default_cache_dir()``; with ``older_than``, ``prune`` also removes the
local backend's virtualenvs and the wheel cache's files whose last change is older (the rest, such as the
hash and index caches, are listed only). Nothing outside that folder is touched, and no link is followed.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from docker.errors import APIError, DockerException, NotFound
from requests.exceptions import RequestException

from repropack.environment.wheelcache import cache_folder as wheel_folder
from repropack.environment.wheelcache import cached_files
from repropack.fs.hashing import default_cache_dir
from repropack.sandbox.docker.image import ENVIRONMENT_LABEL, IMAGE_REPOSITORY
from repropack.sandbox.docker.ledger import forget, last_uses

#: The folder of the local backend's virtualenvs under the cache folder (``sandbox.local``).
VENVS = "venvs"


@dataclass(frozen=True)
class CachedImage:
    """One environment image. ``size`` is what the engine reports (the base image's layers included);
    ``unique_size`` what only this image holds, what removing it frees."""

    tag: str
    id: str
    size: int
    unique_size: int
    created: float  # Unix seconds
    last_used: float  # Unix seconds: the ledger's, else ``created``
    in_use: bool  # a running container was started from it


@dataclass(frozen=True)
class DiskCache:
    """One entry at the top of the cache folder: its name, size in bytes and number of files."""

    name: str
    path: Path
    size: int
    files: int


@dataclass(frozen=True)
class Removal:
    """What prune removed (or, in a dry run, would remove): ``kind`` is "image", "venv" or "wheel"."""

    kind: str
    name: str
    size: int


@dataclass(frozen=True)
class PruneResult:
    removed: tuple[Removal, ...]
    spared: tuple[str, ...]  # images chosen but kept: a container uses them
    dry_run: bool

    @property
    def freed(self) -> int:
        return sum(removal.size for removal in self.removed)


def _timestamp(created: str) -> float:
    """The engine's ``Created`` ("2026-12-02T18:00:01.123456789Z") in Unix seconds; 0 when unreadable."""
    try:
        return datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _unique_sizes(client) -> dict[str, int]:
    try:
        return {
            entry["Id"]: max(0, int(entry["Size"]) - max(0, int(entry.get("SharedSize") or 0)))
            for entry in client.df().get("Images") or ()
        }
    except (DockerException, RequestException, KeyError, TypeError, ValueError):
        return {}


def _running_from(client, image_id: str) -> bool:
    """Whether a running (or paused) container was started from ``image_id`` or an image built on it.
    When the engine does not answer, it counts as used: nothing is removed on a guess."""
    try:
        return bool(client.containers.list(filters={"ancestor": image_id}, sparse=True, ignore_removed=True))
    except (DockerException, RequestException):
        return True


def list_images(client, repository: str = IMAGE_REPOSITORY, cache_dir: Path | None = None) -> list[CachedImage]:
    """The environment images in ``repository``, least recently used first."""
    uses = last_uses(cache_dir)
    unique = _unique_sizes(client)
    found = []
    for image in client.images.list(name=repository, filters={"label": ENVIRONMENT_LABEL}):
        tags = sorted(tag for tag in image.tags if tag.rsplit(":", 1)[0] == repository)
        if not tags:
            continue
        created = _timestamp(str(image.attrs.get("Created", "")))
        size = int(image.attrs.get("Size") or 0)
        found.append(
            CachedImage(
                tag=tags[0],
                id=image.id,
                size=size,
                unique_size=unique.get(image.id, size),
                created=created,
                last_used=max([uses[tag] for tag in tags if tag in uses], default=created),
                in_use=_running_from(client, image.id),
            )
        )
    return sorted(found, key=lambda image: (image.last_used, image.tag))


def choose_evictions(
    images: Sequence[CachedImage], *, keep_size: int | None = None, older_than: float | None = None, now: float
) -> list[CachedImage]:
    """The images to remove, least recently used first: each unused for ``older_than`` seconds, then the
    least recently used until the rest hold at most ``keep_size`` bytes. Images in use are never chosen
    (and still count towards the size kept)."""
    ordered = sorted(images, key=lambda image: (image.last_used, image.tag))
    chosen = [
        image for image in ordered if older_than is not None and not image.in_use and image.last_used < now - older_than
    ]
    if keep_size is not None:
        kept = sum(image.unique_size for image in ordered if image not in chosen)
        for image in ordered:
            if kept <= keep_size:
                break
            if image.in_use or image in chosen:
                continue
            chosen.append(image)
            kept -= image.unique_size
    return sorted(chosen, key=lambda image: (image.last_used, image.tag))


def disk_caches(cache_dir: Path | None = None) -> list[DiskCache]:
    """Each entry at the top of the cache folder with its size (links counted, never followed)."""
    root = cache_dir or default_cache_dir()
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return []
    return [DiskCache(entry.name, Path(entry.path), *_size(Path(entry.path))) for entry in entries]


def _size(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``, without following links."""
    try:
        info = path.lstat()
    except OSError:
        return 0, 0
    if not stat.S_ISDIR(info.st_mode):
        return info.st_size, 1
    total = files = 0
    for folder, dirs, names in os.walk(path):  # os.walk does not follow links to folders
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
                files += 1
            except OSError:
                continue
    return total, files


def prune(
    client,
    *,
    keep_size: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
    repository: str = IMAGE_REPOSITORY,
    cache_dir: Path | None = None,
    now: float | None = None,
) -> PruneResult:
    """Remove (or with ``dry_run`` only name) what ``choose_evictions`` picks, then, with ``older_than``, the
    virtualenvs and cached wheels not changed for that long. ``client`` None: the engine is not reachable,
    only the disk is pruned. Images that went away meanwhile are skipped; one the engine refuses is spared."""
    now = time.time() if now is None else now
    removed: list[Removal] = []
    spared: list[str] = []
    if client is not None:
        images = list_images(client, repository, cache_dir)
        gone = []
        for image in choose_evictions(images, keep_size=keep_size, older_than=older_than, now=now):
            if _running_from(client, image.id):  # again, right before: a replay may have started since
                spared.append(image.tag)
                continue
            if not dry_run and not _remove_image(client, image, repository):
                spared.append(image.tag)
                continue
            gone.append(image.tag)
            removed.append(Removal("image", image.tag, image.unique_size))
        if not dry_run:
            forget(gone, cache_dir)
    if older_than is not None:
        cutoff = now - older_than
        root = cache_dir or default_cache_dir()
        removed += _prune_entries(_venvs(root), "venv", cutoff, dry_run, root)
        wheels = wheel_folder() if cache_dir is None else cache_dir / wheel_folder().name
        removed += _prune_entries(cached_files(wheels), "wheel", cutoff, dry_run, root)
    return PruneResult(tuple(removed), tuple(spared), dry_run)


def _remove_image(client, image: CachedImage, repository: str) -> bool:
    """Untag each of the image's tags in ``repository``, unforced: the engine removes the image with its last
    tag, and refuses while a container (running or not) uses it."""
    try:
        tags = [tag for tag in client.images.get(image.id).tags if tag.rsplit(":", 1)[0] == repository]
        for tag in tags:
            client.images.remove(tag, force=False)
    except NotFound:
        return True
    except (APIError, DockerException, RequestException):
        return False
    return True


def _venvs(root: Path) -> list[Path]:
    folder = root / VENVS
    try:
        return sorted(Path(entry.path) for entry in os.scandir(folder))
    except OSError:
        return []


def _prune_entries(paths: Iterable[Path], kind: str, cutoff: float, dry_run: bool, root: Path) -> list[Removal]:
    removed = []
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_mtime >= cutoff or not _inside(path, root):
            continue
        size = _size(path)[0]
        if not dry_run:
            try:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path)  # refuses a link; never follows one inside
                else:
                    path.unlink()
            except OSError:
                continue
        removed.append(Removal(kind, path.name, size))
    return removed


def _inside(path: Path, root: Path) -> bool:
    """``path``'s folder is ``root`` or below it, with links resolved: nothing elsewhere is removed."""
    try:
        return path.parent.resolve().is_relative_to(root.resolve())
    except OSError:
        return False
