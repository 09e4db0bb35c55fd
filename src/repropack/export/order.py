"""The order notebooks run in, decided by the files they read and write.

A notebook that writes a file runs before every notebook that reads it; among
notebooks the data does not order, names decide (``run_order``). The sets are
known only after running, so export decides in two steps (``export.pipeline``):

1. It runs the notebooks in name order, or in the order given with
   ``--notebook`` (given several times).
2. If a notebook read a file that a notebook run after it writes (its input was
   stale, or missing, which fails the cell: export then keeps going to learn who
   writes the file), the first run's results cannot stand. Without a given
   order, export runs every notebook again, once, in ``run_order``, warns naming
   the reader, the file and the writer, and records that order (the package's
   runs are in it, and replay follows it). A given order that the data
   contradicts is refused (``refuse_contradicted_order``), naming both
   notebooks and the file and suggesting the ``--notebook`` order that works.
   Notebooks that need each other's files in a cycle are refused either way.

"Reads" here are the files a notebook opened for reading before it wrote
them itself (``Observation.consumed``): reading back one's own output, or a
file opened with ``w+``, needs nothing from another notebook.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from repropack.errors import BadInput


@dataclass(frozen=True, order=True)
class Misread:
    """``reader`` read ``path`` before ``writer``, which writes it, had run."""

    reader: str
    path: str
    writer: str

    def describe(self) -> str:
        return f"{self.reader} read {self.path} before {self.writer}, which writes it, had run"


def dependencies(
    notebooks: Sequence[str], reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """(writer, reader) -> the files the reader reads that the writer writes, for every pair that shares one."""
    edges: dict[tuple[str, str], tuple[str, ...]] = {}
    for writer in notebooks:
        written = set(writes.get(writer, ()))
        for reader in notebooks:
            if reader == writer:
                continue
            shared = written.intersection(reads.get(reader, ()))
            if shared:
                edges[(writer, reader)] = tuple(sorted(shared))
    return edges


def run_order(
    notebooks: Sequence[str], reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]
) -> list[str]:
    """Every notebook after the notebooks whose files it reads; ties by name.

    Raises BadInput naming the notebooks and files of a cycle.
    """
    return _topological(notebooks, dependencies(notebooks, reads, writes), rank={nb: nb for nb in notebooks})


def misreads(
    order: Sequence[str], reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]
) -> list[Misread]:
    """The reads in ``order`` of a file that a notebook later in ``order`` writes."""
    position = {nb: i for i, nb in enumerate(order)}
    found = [
        Misread(reader, path, writer)
        for (writer, reader), paths in dependencies(order, reads, writes).items()
        if position[writer] > position[reader]
        for path in paths
    ]
    return sorted(found, key=lambda m: (position[m.reader], m.path, position[m.writer]))


def refuse_contradicted_order(
    given: Sequence[str], reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]
) -> None:
    """BadInput when the data contradicts an order the researcher gave; the message suggests one that works."""
    wrong = misreads(given, reads, writes)
    if not wrong:
        return
    edges = dependencies(given, reads, writes)
    suggested = _topological(given, edges, rank={nb: i for i, nb in enumerate(given)})  # raises on a cycle
    first = wrong[0]
    more = f" (and {len(wrong) - 1} more such read{'s' if len(wrong) > 2 else ''})" if len(wrong) > 1 else ""
    raise BadInput(
        f"the notebook order given contradicts the files the notebooks use: {first.reader} reads {first.path}, "
        f"which {first.writer} (given after it) writes{more}; give " + " ".join(f"--notebook {nb}" for nb in suggested)
    )


def reorder(
    ran: Sequence[str], given: bool, reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]
) -> tuple[list[str] | None, tuple[str, ...]]:
    """After a first run in ``ran``: None when that order stands, else the order to run again in and the warnings.

    A given order the data contradicts, and a cycle, are refused (BadInput).
    """
    wrong = misreads(ran, reads, writes)
    if not wrong:
        return None, ()
    if given:
        refuse_contradicted_order(ran, reads, writes)
    order = run_order(ran, reads, writes)
    again = ", ".join(order)
    return order, tuple(
        f"{m.describe()}: ran the notebooks again in the order their files need ({again})" for m in wrong
    )


def confirm(order: Sequence[str], reads: Mapping[str, Collection[str]], writes: Mapping[str, Collection[str]]) -> None:
    """BadInput when the run in the data's own order still read a file before its writer ran (the data moved)."""
    wrong = misreads(order, reads, writes)
    if wrong:
        raise BadInput(
            f"run again in the order the files of the first run needed, {wrong[0].describe()}; the notebooks do "
            "not read and write the same files from run to run: give the order with --notebook"
        )


def _topological(notebooks: Sequence[str], edges: Mapping[tuple[str, str], tuple[str, ...]], rank) -> list[str]:
    """Kahn's algorithm, taking the available notebook of lowest ``rank`` first."""
    successors: dict[str, list[str]] = {nb: [] for nb in notebooks}
    waiting = dict.fromkeys(notebooks, 0)
    for writer, reader in edges:
        successors[writer].append(reader)
        waiting[reader] += 1
    ready = [(rank[nb], nb) for nb in notebooks if waiting[nb] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, nb = heapq.heappop(ready)
        order.append(nb)
        for after in successors[nb]:
            waiting[after] -= 1
            if waiting[after] == 0:
                heapq.heappush(ready, (rank[after], after))
    if len(order) < len(notebooks):
        raise BadInput(_cycle_message([nb for nb in notebooks if waiting[nb] > 0], edges))
    return order


def _cycle_message(stuck: list[str], edges: Mapping[tuple[str, str], tuple[str, ...]]) -> str:
    """Name one cycle among the notebooks that could not be ordered, with the file behind each step."""
    inside = set(stuck)
    writers_of = {nb: sorted(w for (w, r) in edges if r == nb and w in inside) for nb in stuck}
    # Walk back from a stuck notebook through its writers until a notebook repeats: that loop is a cycle.
    path = [min(stuck)]
    while True:
        nb = writers_of[path[-1]][0]
        if nb in path:
            loop = path[path.index(nb) :]
            break
        path.append(nb)
    loop.reverse()  # writer before reader
    steps = [
        f"{writer} writes {edges[(writer, reader)][0]}, which {reader} reads"
        for writer, reader in zip(loop, loop[1:] + loop[:1])
    ]
    return (
        "the notebooks read each other's files in a cycle, so no order can run them: "
        + "; ".join(steps)
        + "; make one of them read an input that no later notebook writes"
    )
