"""How export and replay start and stop a kernel: ready as soon as the kernel said it is idle after kernel_info, not
after a fixed quiet time; a kernel that hangs, idle, on its way out is terminated quickly, one that is still working
(finalizers, atexit handlers) keeps jupyter_client's grace period."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from repropack.sandbox.runner import (
    IOPUB_QUIET_SECONDS,
    KERNEL_HUNG_SECONDS,
    _hangs_on_exit,
    kernel_manager_class,
    ready_kernel_client_class,
    tree_cpu_ticks,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the hang check reads /proc (Linux)")

BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def _start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args])


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def _alive(process: subprocess.Popen):
    async def is_alive() -> bool:
        return process.poll() is None

    return is_alive


def test_cpu_ticks_grow_while_a_process_works():
    process = _start(BUSY.format(seconds=2))
    try:
        first = tree_cpu_ticks(process.pid)
        time.sleep(0.5)
        assert tree_cpu_ticks(process.pid) > first
    finally:
        _stop(process)


def test_cpu_ticks_count_a_descendant_behind_an_idle_wrapper():
    # A kernelspec may start the kernel through a shell that only waits: the work is the grandchild's.
    wrapper = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0"; true', BUSY.format(seconds=2)])
    try:
        time.sleep(0.2)
        first = tree_cpu_ticks(wrapper.pid)
        time.sleep(0.5)
        assert tree_cpu_ticks(wrapper.pid) > first
    finally:
        subprocess.run(["pkill", "-KILL", "-P", str(wrapper.pid)], check=False)
        _stop(wrapper)


def test_cpu_ticks_are_none_for_a_process_that_is_gone_or_without_proc(tmp_path):
    process = _start("pass")
    process.wait()
    assert tree_cpu_ticks(process.pid) is None
    assert tree_cpu_ticks(os.getpid(), proc=str(tmp_path / "no-proc")) is None


def test_an_idle_process_counts_as_hung_after_the_hung_time():
    process = _start("import time; time.sleep(30)")
    try:
        started = time.monotonic()
        assert asyncio.run(_hangs_on_exit(_alive(process), process.pid, grace=2.5))
        assert KERNEL_HUNG_SECONDS <= time.monotonic() - started < 2.0
    finally:
        _stop(process)


def test_a_working_process_does_not_count_as_hung():
    process = _start(BUSY.format(seconds=5))
    try:
        assert not asyncio.run(_hangs_on_exit(_alive(process), process.pid, grace=1.5))
    finally:
        _stop(process)


def test_a_process_that_exits_does_not_count_as_hung():
    process = _start("import time; time.sleep(0.2)")
    try:
        started = time.monotonic()
        assert not asyncio.run(_hangs_on_exit(_alive(process), process.pid, grace=2.5, hung_after=1.0))
        assert time.monotonic() - started < 1.0
    finally:
        _stop(process)


def _execute(tmp_path, source: str) -> float:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=kernel_manager_class(),
        timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    assert client.km is None or not client.km.has_kernel  # shut down, not left behind
    return elapsed


def test_a_real_kernel_that_hangs_on_exit_is_terminated_quickly(tmp_path):
    # An atexit handler that sleeps stands in for ipykernel 7's shutdown deadlock: alive, idle, never exiting.
    baseline = _execute(tmp_path, "pass")
    hung = _execute(tmp_path, "import atexit, time\natexit.register(time.sleep, 30)")
    # jupyter_client alone waits half of shutdown_wait_time (2.5 s) before it terminates the kernel.
    assert hung - baseline < 2.0


def test_a_real_kernel_still_working_on_exit_keeps_its_grace(tmp_path):
    marker = tmp_path / "written-at-exit"
    source = (
        "import atexit, time\n"
        "def finish():\n"
        "    end = time.monotonic() + 1.0\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        f"    open({str(marker)!r}, 'w').write('done')\n"
        "atexit.register(finish)\n"
    )
    _execute(tmp_path, source)
    assert marker.read_text() == "done"


def test_a_real_kernels_first_cell_shows_only_its_own_output(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint('one')\nprint('two', file=sys.stderr)"))
    client = NotebookClient(nb, kernel_name="python3", kernel_manager_class=kernel_manager_class(), timeout=60)
    client.execute()
    assert [(o["name"], o["text"]) for o in nb.cells[0].outputs] == [("stdout", "one\n"), ("stderr", "two\n")]
    assert kernel_manager_class()().client_factory.__name__ == "ReadyKernelClient"  # the client nbclient used


class _Channel:
    """A kernel channel that hands out scripted messages, each after its delay; then times out like a quiet one."""

    def __init__(self, *messages: tuple[float, dict]) -> None:
        self.messages = list(messages)

    async def get_msg(self, timeout=None):
        from queue import Empty

        if not self.messages or self.messages[0][0] > timeout:
            await asyncio.sleep(timeout)
            raise Empty
        delay, message = self.messages.pop(0)
        await asyncio.sleep(delay)
        return message


def _message(msg_type: str, parent: str = "", **content) -> dict:
    if msg_type == "kernel_info_reply":
        content = {"protocol_version": "5.3", **content}
    return {"msg_type": msg_type, "parent_header": {"msg_id": parent} if parent else {}, "content": content}


def _client(shell: list[_Channel], iopub: list[_Channel], alive: bool = True):
    """A ReadyKernelClient whose kernel_info requests are numbered and whose channels are scripted, one pair of
    channels per request (fault injection: what a real kernel does only now and then)."""
    base = ready_kernel_client_class()

    class Scripted(base):
        sent: list[str]

        def kernel_info(self):
            self.sent.append(f"request-{len(self.sent)}")
            return self.sent[-1]

        @property
        def shell_channel(self):
            return shell[min(len(self.sent), len(shell)) - 1]

        @property
        def iopub_channel(self):
            return iopub[min(len(self.sent), len(iopub)) - 1]

        async def is_alive(self):
            return alive

    client = Scripted()
    client.sent = []
    return client


def _ready(client, timeout=5.0) -> float:
    started = time.monotonic()
    asyncio.run(client.wait_for_ready(timeout=timeout))
    return time.monotonic() - started


def test_ready_as_soon_as_the_kernel_is_idle_after_the_request():
    reply = _message("kernel_info_reply", "request-0")
    idle = _message("status", "request-0", execution_state="idle")
    busy = _message("status", "request-0", execution_state="busy")
    client = _client([_Channel((0.0, reply))], [_Channel((0.0, busy), (0.0, idle))])
    assert _ready(client) < IOPUB_QUIET_SECONDS  # jupyter_client would wait for 0.2 s of quiet
    assert client.sent == ["request-0"]


def test_asks_again_when_iopub_was_not_connected_or_only_welcomed_the_subscriber():
    replies = [_Channel((0.0, _message("kernel_info_reply", f"request-{n}"))) for n in range(3)]
    iopub = [
        _Channel(),  # nothing: the subscription missed the status
        _Channel((0.0, _message("iopub_welcome"))),  # connected only now: this request's status is gone
        _Channel((0.0, _message("status", "request-2", execution_state="idle"))),
    ]
    client = _client(replies, iopub)
    assert _ready(client) < 2 * IOPUB_QUIET_SECONDS
    assert client.sent == ["request-0", "request-1", "request-2"]


def test_a_kernel_that_never_reports_its_status_is_ready_after_a_quiet_time():
    reply = _message("kernel_info_reply", "request-0")
    chatter = _message("stream", name="stdout", text="starting\n")  # no idle status with a parent, no welcome
    client = _client([_Channel((0.0, reply))], [_Channel((0.0, chatter))])
    assert IOPUB_QUIET_SECONDS <= _ready(client) < 1.0
    assert client.sent == ["request-0"]


def test_a_kernel_that_died_or_never_answers_is_an_error():
    with pytest.raises(RuntimeError, match="died"):
        _ready(_client([_Channel()], [_Channel()], alive=False))
    with pytest.raises(RuntimeError, match="didn't respond in 1 seconds"):
        _ready(_client([_Channel()], [_Channel()]), timeout=1.0)
