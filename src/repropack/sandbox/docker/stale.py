"""Replay containers that outlived their run: labelled when started, removed by the next replay.

Every container repropack starts for a replay carries ``org.repropack.replay`` and, from this version
on, its deadline (``org.repropack.deadline``: Unix seconds after which it must not be running; it
kills itself then, see ``deadline_command``) and its owner (``org.repropack.owner``: the repropack
process, ``fs/stale.py``'s token). ``org.repropack.keep`` marks one kept on purpose (``--keep``).

``remove_stale_containers`` removes each labelled container that is not kept and whose deadline has
passed or whose owner, a process on this host, is dead. A container without a deadline label (an
older repropack's) is left alone: it may be someone's kept container.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from repropack.fs.stale import owner_is_dead, owner_token, parse_owner

REPLAY_LABEL = "org.repropack.replay"
DEADLINE_LABEL = "org.repropack.deadline"
OWNER_LABEL = "org.repropack.owner"
KEEP_LABEL = "org.repropack.keep"

#: Seconds the container outlives the host's own wait, so that the host, when alive, sees and names the
#: timeout first; the container's own kill is the backstop for a host that died.
SELF_KILL_MARGIN = 10


def deadline_command(command: list[str], seconds: int) -> list[str]:
    """``command`` under coreutils' (or busybox's) ``timeout`` as the container's first process, which
    SIGKILLs it ``seconds`` + the margin after the start; when it goes, the kernel kills the whole container.

    As the PID namespace's init, ``timeout`` cannot be killed or stopped by the notebook (the kernel
    delivers to an init only the signals it handles, and never SIGKILL or SIGSTOP from inside).
    """
    return ["timeout", "-s", "KILL", str(seconds + SELF_KILL_MARGIN), *command]


def replay_labels(seconds: int, keep: bool = False) -> dict[str, str]:
    """The labels of a replay container that must be gone ``seconds`` (+ the margin) from now."""
    # Each one set, "0" included: a container also carries its image's labels, unless set here.
    return {
        REPLAY_LABEL: "1",
        DEADLINE_LABEL: str(int(time.time()) + seconds + SELF_KILL_MARGIN),
        OWNER_LABEL: owner_token(),
        KEEP_LABEL: "1" if keep else "0",
    }


def is_stale(labels: Mapping[str, str], now: float) -> bool:
    """Whether a container with these labels belongs to a dead run (pure but for the owner lookup)."""
    if labels.get(KEEP_LABEL) == "1" or DEADLINE_LABEL not in labels:
        return False
    try:
        deadline = int(labels[DEADLINE_LABEL])
    except ValueError:
        return False
    return now > deadline or owner_is_dead(parse_owner(labels.get(OWNER_LABEL, "")))


def remove_stale_containers(client) -> list[str]:
    """Remove (killing if running) the stale replay containers on ``client``'s engine; returns their ids.

    Never raises for a container that went away meanwhile or an engine that does not answer.
    """
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    try:
        containers = client.containers.list(all=True, filters={"label": REPLAY_LABEL}, ignore_removed=True)
    except (DockerException, RequestException):
        return []
    now = time.time()
    removed = []
    for container in containers:
        if is_stale(container.labels, now):
            try:
                container.remove(force=True)
            except (DockerException, RequestException):
                continue
            removed.append(container.id)
    return removed
