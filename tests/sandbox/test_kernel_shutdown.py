"""How export and replay shut a kernel down: a kernel that hangs, idle, on its way out is terminated quickly; one
that is still working (finalizers, atexit handlers) keeps jupyter_client's grace period."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from repropack.sandbox.runner import KERNEL_HUNG_SECONDS, _hangs_on_exit, kernel_manager_class, tree_cpu_ticks

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
