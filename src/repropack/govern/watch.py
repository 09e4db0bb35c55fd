"""``repropack govern watch``: a policy run on an interval, and the stop signals it honours.

What a caller may rely on:

- ``StopSignal`` (a context manager, in the main thread) turns the first SIGTERM or SIGINT into a request:
  ``requested`` is True, no new task is dispatched, replays already running finish and are recorded. A second
  signal raises KeyboardInterrupt where the process is: the policy run is marked "stopped", its unfinished tasks
  stay for the next run (nothing half-recorded: a task is done with its record in one transaction, or not).
  The previous handlers are restored on exit.
- ``watch`` runs ``run_once`` at once and then every ``every_seconds``; a stop during the wait ends it at once.
  A run that could not run (CannotRun: the engine is down, the policy is running elsewhere) is reported and the
  watch goes on, since the next interval may succeed; a bad policy or repository (BadInput) ends it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from repropack.errors import CannotRun
from repropack.govern.run import GovernReport

#: The exit code of a watch (or a run) a signal stopped.
STOPPED = 130


class StopSignal:
    """The stop requests of SIGTERM and SIGINT, for the ``with`` block (see the module docstring)."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def __call__(self) -> bool:
        """``should_stop`` for ``run_policy``."""
        return self.requested

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, or until a stop is requested; whether one was."""
        return self._requested.wait(seconds)

    def request(self) -> None:
        self._requested.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._requested.is_set():
            raise KeyboardInterrupt  # the second: abandon what is running
        self._requested.set()

    def __enter__(self) -> StopSignal:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def watch(
    run_once: Callable[[], GovernReport],
    every_seconds: int,
    stop: StopSignal,
    on_report: Callable[[GovernReport], None],
    on_problem: Callable[[str], None],
) -> int:
    """Run ``run_once`` now and every ``every_seconds`` until ``stop`` is requested, then return 130 (only a stop
    ends a watch; each run's own outcome is in its report). A KeyboardInterrupt (a second signal) goes on to the
    caller, as does BadInput."""
    while True:
        try:
            report = run_once()
        except CannotRun as error:
            on_problem(f"this run could not run ({error}); trying again in {every_seconds} s")
        else:
            on_report(report)
        if stop.requested or stop.wait(every_seconds):
            return STOPPED
