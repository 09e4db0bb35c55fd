"""Running the kernel's event loop so that Ctrl-C stops an export cleanly.

nbclient answers SIGINT by shutting the kernel down under the running cell: the cell then fails as
"Kernel died" and nbclient's own clean-up runs a second time on a kernel manager already gone (an
AssertionError, a traceback). The loop here handles SIGINT itself, for nbclient too: it cancels the
task instead, so nbclient's exit path shuts the kernel down once, and the caller gets
KeyboardInterrupt whatever the task ended with; the CLI shows it as "interrupted; nothing was written".
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _InterruptibleLoop(asyncio.SelectorEventLoop):
    """An event loop on which SIGINT cancels ``main`` and is remembered, whoever asks to handle it."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False
        self.main: asyncio.Task | None = None

    def interrupt(self) -> None:
        self.interrupted = True
        if self.main is not None:
            self.main.cancel()

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:
        if sig == signal.SIGINT:
            callback, args = self.interrupt, ()
        super().add_signal_handler(sig, callback, *args)


def run_interruptibly(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, except that a SIGINT while it runs always ends in KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)  # signal handlers can only be set from the main thread
    previous = signal.getsignal(signal.SIGINT)
    loop = _InterruptibleLoop()
    # As asyncio.run does: code that asks for "the" event loop outside a coroutine (jupyter_client's and
    # nbclient's synchronous wrappers) must get this one, not a new loop its futures would not belong to.
    asyncio.set_event_loop(loop)
    try:
        loop.main = loop.create_task(main)
        loop.add_signal_handler(signal.SIGINT, loop.interrupt)
        try:
            return loop.run_until_complete(loop.main)
        except BaseException:
            if loop.interrupted:
                raise KeyboardInterrupt from None
            raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, previous)
        try:
            # As asyncio.run does: what the task left running (nbclient's kernel poll) ends before the loop does.
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
