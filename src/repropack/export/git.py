"""Git provenance of a project: the commit it was exported from and what differed from it.

Provenance is optional: a project outside any repository, or a machine where
git cannot run, simply has none.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from repropack.export.secrets import CREDENTIAL_PARAMETER
from repropack.model import GitProvenance

if TYPE_CHECKING:
    from git import Repo

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_CREDENTIAL = re.compile(CREDENTIAL_PARAMETER, re.IGNORECASE)

# Schemes whose user name is a login to keep (ssh://alice@host); for the others
# (https://TOKEN@host) the user part is itself a credential.
_LOGIN_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})


def git_provenance(project: Path) -> GitProvenance | None:
    """Provenance of the repository holding ``project`` (searched upwards), or None.

    None when ``project`` is in no repository, the repository has no commit
    yet, it is bare, or git cannot run. The remote is "origin", else the first
    configured one, with credentials stripped. ``dirty`` is true when tracked
    files differ from HEAD or untracked, not ignored files exist; their paths
    (both sides of a rename) are in ``changed_paths``, sorted, POSIX, relative
    to the repository root.
    """
    try:
        # Imported here: GitPython refuses to import when no git executable is
        # found, and a missing git must mean "no provenance", not a broken tool.
        import git
    except ImportError:
        return None
    try:
        repo = git.Repo(project, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        if repo.bare or not repo.head.is_valid():
            return None
        try:
            changed = _changed_paths(repo)
            return GitProvenance(
                commit=repo.head.commit.hexsha,
                branch=None if repo.head.is_detached else repo.active_branch.name,
                remote_url=_remote_url(repo),
                dirty=bool(changed),
                changed_paths=changed,
            )
        except git.CommandError:
            # git refused (a repository owned by another user: "dubious
            # ownership") or vanished after import.
            return None


def strip_credentials(url: str) -> str:
    """``url`` without secrets: the user info of http(s) and other URLs, the password of ssh URLs, and
    query parameters that carry a credential (``?private_token=...``, ``&sig=...``: ``CREDENTIAL_PARAMETER``).

    Stripped silently, as git hides a URL's credentials in what it prints: the
    remote is provenance, and a credential is never part of which repository it
    names. A token under another name (``?t=ghp_...``) stays, and the guard then
    refuses the package naming the metadata field. The authority ends at the
    first "/", "?" or "#", as git parses it. scp-like addresses
    (``git@host:org/x.git``) and local paths have no place for a password and
    are returned unchanged, as is every other part of a URL.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    kept_user = userinfo.partition(":")[0] if scheme.lower() in _LOGIN_SCHEMES else ""
    authority = f"{kept_user}@{host}" if kept_user else host
    return f"{scheme}://{authority if at else rest[:end]}{_without_credential_parameters(rest[end:])}"


def _without_credential_parameters(tail: str) -> str:
    """The path, query and fragment ``tail`` of a URL with credential query parameters left out."""
    unfragmented, hash_, fragment = tail.partition("#")
    before, question, query = unfragmented.partition("?")
    if not question:
        return tail
    kept = [p for p in query.split("&") if not _CREDENTIAL.fullmatch(p.partition("=")[0])]
    return before + (f"?{'&'.join(kept)}" if kept else "") + hash_ + fragment


def _remote_url(repo: Repo) -> str | None:
    remotes = {remote.name: remote for remote in repo.remotes}
    if not remotes:
        return None
    remote = remotes["origin"] if "origin" in remotes else next(iter(remotes.values()))
    url = remote.config_reader.get("url", fallback=None)
    return strip_credentials(url) if url else None


def _changed_paths(repo: Repo) -> tuple[str, ...]:
    # Porcelain status covers staged, unstaged and untracked changes in one
    # call, excludes ignored files, and gives paths relative to the repository
    # root (not the current directory); -z keeps unusual names unquoted.
    status = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", strip_newline_in_stdout=False)
    fields = status.split("\0")
    paths: set[str] = set()
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        paths.add(path)
        if "R" in code or "C" in code:
            # The source path follows as its own field; a copy leaves it unchanged.
            if "R" in code:
                paths.add(fields[index])
            index += 1
    return tuple(sorted(paths))
