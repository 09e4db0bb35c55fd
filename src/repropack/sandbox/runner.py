"""Runs inside the sandbox (container or local virtualenv): execute the plan's
notebooks in order and report what happened, as JSON.

Standalone on purpose: it runs with the rebuilt environment's interpreter, where
repropack is not installed, so it may use only the standard library and the
runtime distributions every lock carries (nbclient, nbformat, ipykernel).
The report is rewritten after every notebook, so a sandbox killed for time or
memory still leaves what was done. The notebooks can write where the report is,
so the host reads it as hostile data (sandbox/report.py) that can only make a
verdict worse.

Decrypted restricted inputs never touch the host's disk: when the plan names
``private_folders``, each is a tmpfs the container mounted over the work dir's
folder, and the host sends, on stdin, one JSON header line
(``{"files": [{"path", "size"}, ...]}``) then each file's bytes in that order.
The runner checks the whole header first (package paths inside those folders
only, no ``..``, sizes within the plan's ``private_bytes``), writes the files
into the tmpfs, and only then runs a notebook; a refused or truncated stream
runs none. Nothing of the bytes is printed.

    python runner.py PLAN.json REPORT.json
"""

import json
import os
import re
import sys
import time
import traceback


def _write(report_path, report):
    tmp = report_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    os.replace(tmp, report_path)


def _run_notebook(entry, plan, work):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = os.path.join(work, entry["path"])
    nb = nbformat.read(path, as_version=4)
    current = {"cell": None}

    def on_cell_start(cell, cell_index):
        current["cell"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name=plan["kernel"],
        kernel_manager_class=kernel_manager_class(),
        timeout=plan["cell_timeout"],
        allow_errors=entry["allow_errors"],
        resources={"metadata": {"path": os.path.dirname(path)}},
        on_cell_start=on_cell_start,
    )
    outcome = {"path": entry["path"], "status": "completed", "cell": None, "ename": None, "evalue": None}
    recorded = shown_errors(nb)  # the notebook in the work dir is the recorded run, outputs and all
    started = time.time()
    try:
        client.execute(cwd=os.path.dirname(path))
    except CellExecutionError as exc:
        outcome.update(status="cell_error", cell=current["cell"], ename=exc.ename, evalue=exc.evalue)
    except CellTimeoutError:
        outcome.update(status="timeout", cell=current["cell"])
    except DeadKernelError as exc:
        outcome.update(status="kernel_died", cell=current["cell"], evalue=str(exc).splitlines()[0] if str(exc) else "")
    finally:
        outcome["seconds"] = round(time.time() - started, 3)
    if outcome["status"] != "completed":
        # Errors a cell showed without raising (IPython's %run prints a script's traceback and goes on),
        # in the cells that ran; the cells after the failing one still hold the recorded outputs.
        ran = current["cell"] if current["cell"] is not None else len(nb.cells) - 1
        outcome["shown_errors"] = [e for e in shown_errors(nb) if e["cell"] <= ran]
        outcome["recorded_errors"] = [e for e in recorded if e["cell"] <= ran]
    nbformat.write(nb, path)
    return outcome


#: Seconds a kernel asked to shut down may be alive with its process tree using no CPU before it counts as hung.
KERNEL_HUNG_SECONDS = 0.5
_EXIT_POLL = 0.02
#: Seconds without an IOPub message after which a kernel's IOPub counts as quiet (jupyter_client's own figure).
IOPUB_QUIET_SECONDS = 0.2
#: Seconds to wait for a first IOPub message once the kernel answered ``kernel_info``: it published its status
#: for the request before it replied, so a subscription that was connected has it already.
IOPUB_FIRST_SECONDS = 0.05


def kernel_manager_class():
    """The kernel manager export and replay both start kernels with: jupyter_client's AsyncKernelManager, with
    two waits shortened, each where jupyter_client waits on a timer for what the kernel already said.

    Starting: jupyter_client's client, once the kernel answered ``kernel_info``, reads IOPub until it has been
    quiet for 0.2 s, so every kernel start costs 0.2 s of nothing, and 0.2 s more each time its IOPub
    subscription was not connected yet. Ours stops reading as soon as the kernel said it is idle after that very
    request (the last message the kernel sends for it), and asks again at once when the kernel's welcome to a new
    subscriber shows the answer was missed (``ready_kernel_client_class``); a kernel that says neither gets
    jupyter_client's timing. Measured in a replay's container: ready 0.32 s after launch instead of 0.46 s.

    Stopping: a kernel which hangs on its way out is terminated once it has been idle ``KERNEL_HUNG_SECONDS``,
    not after half of ``shutdown_wait_time`` (2.5 s). ipykernel 7 (7.4.0 seen) sometimes deadlocks after its
    shutdown reply: the control thread flushes stdout into the IOPub thread that the main thread has just
    stopped, while the main thread waits to join the control thread. Measured here: 10 % of kernels one at a
    time, 17 % two at a time, each 3.2 s idle; that tail was what kept two parallel replays from twice the
    throughput of one. A kernel whose processes still use CPU on the way out (finalizers, atexit handlers
    writing files) keeps jupyter_client's whole grace period; without /proc (not Linux), jupyter_client's own
    timing applies to every kernel.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    ready_client = ready_kernel_client_class()

    class ExitWatchingKernelManager(AsyncKernelManager):
        @default("client_factory")
        def _ready_client(self):
            return ready_client

        # shutdown_kernel() awaits this private step (jupyter_client 7 and 8); where it does not, nothing changes.
        async def _async_finish_shutdown(self, waittime=None, pollinterval=0.1, restart=False):
            pid = getattr(self.provisioner, "pid", None)
            grace = max(self.shutdown_wait_time, 0) / 2
            if pid is not None and await _hangs_on_exit(self.is_alive, pid, grace):
                self.log.debug("the kernel is alive and idle since its shutdown reply: terminating it")
                await self.provisioner.terminate(restart=restart)
            await super()._async_finish_shutdown(waittime=waittime, pollinterval=pollinterval, restart=restart)

    return ExitWatchingKernelManager


def ready_kernel_client_class():
    """jupyter_client's AsyncKernelClient whose ``wait_for_ready`` returns once the kernel answered ``kernel_info``
    on the shell channel and reported itself idle after that request on IOPub (see ``kernel_manager_class``).

    Like jupyter_client's: a request unanswered for 1 s is sent again, and so is one answered while IOPub showed
    nothing (its subscription was not connected yet: jupyter_client waits 0.2 s to see that, this 0.05 s);
    RuntimeError when the kernel died or ``timeout`` seconds passed."""
    import asyncio
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    async def next_message(channel, seconds):
        try:
            return await channel.get_msg(timeout=seconds)
        except (Empty, asyncio.TimeoutError):
            return None

    class ReadyKernelClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                request = self.kernel_info()
                reply = await next_message(self.shell_channel, 1.0)
                answered = reply is not None and reply["msg_type"] == "kernel_info_reply"
                if answered and await self._iopub_heard(request):
                    handle = getattr(self, "_handle_kernel_info_reply", None)  # protocol adaptation, where known
                    if handle is not None:
                        handle(reply)
                    return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if deadline is not None and time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

        async def _iopub_heard(self, request):
            """Whether IOPub is connected, read until the kernel's idle status for ``request`` came (True), or
            until a pause: ``IOPUB_FIRST_SECONDS`` with nothing heard, or after the kernel's welcome to a new
            subscriber (JEP 65: it came after ``request``'s status, so ask again), means False; else
            ``IOPUB_QUIET_SECONDS`` means True (a kernel without the welcome: jupyter_client's way). Messages
            read on the way are dropped; one arriving later names no cell's request as its parent, and nbclient
            reads only the messages of the cell it runs."""
            heard = welcomed = False
            while True:
                pause = IOPUB_QUIET_SECONDS if heard and not welcomed else IOPUB_FIRST_SECONDS
                message = await next_message(self.iopub_channel, pause)
                if message is None:
                    return heard and not welcomed
                heard = True
                welcomed = welcomed or message["msg_type"] == "iopub_welcome"
                content = message.get("content", {})
                parent = message.get("parent_header", {}).get("msg_id")
                if message["msg_type"] == "status" and content.get("execution_state") == "idle" and parent == request:
                    return True

    return ReadyKernelClient


async def _hangs_on_exit(is_alive, pid, grace, hung_after=KERNEL_HUNG_SECONDS, poll=_EXIT_POLL):
    """Whether the kernel ``pid`` stays alive with no CPU used by it or its descendants for ``hung_after``
    seconds within ``grace``; False once it exits, when it is busy the whole ``grace``, or without /proc."""
    import asyncio

    last = tree_cpu_ticks(pid)
    if last is None:
        return False
    started = idle_since = time.monotonic()
    while await is_alive():
        await asyncio.sleep(poll)
        now, ticks = time.monotonic(), tree_cpu_ticks(pid)
        if ticks is None:
            return False  # gone between the two readings
        if ticks != last:
            last, idle_since = ticks, now
        elif now - idle_since >= hung_after:
            return True
        if now - started >= grace:
            return False
    return False


def tree_cpu_ticks(pid, proc="/proc"):
    """CPU clock ticks used so far by ``pid`` and every live descendant (a kernelspec may start the kernel
    through a wrapper that only waits); None when ``pid`` cannot be read (no /proc, or it is gone)."""
    stats = {}
    for name in os.listdir(proc) if os.path.isdir(proc) else ():
        if name.isdigit():
            stat = _proc_stat(os.path.join(proc, name, "stat"))
            if stat is not None:
                stats[int(name)] = stat
    if pid not in stats:
        return None
    children = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo.extend(children.get(current, ()))
    return total


def _proc_stat(path):
    """(parent pid, utime + stime + cutime + cstime) from a /proc/PID/stat file; None when unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    try:
        return int(fields[1]), sum(int(value) for value in fields[11:15])
    except (IndexError, ValueError):
        return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_START = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"^(?P<ename>[A-Za-z_][\w.]*)(?::(?: (?P<evalue>.*))?)?$")


def _printed_exception(text):
    """(ename, evalue) of the first Python traceback printed in ``text``, None when it holds none."""
    lines = _ANSI.sub("", text).splitlines()
    for start, line in enumerate(lines):
        if line.strip() != _TRACEBACK_START:
            continue
        for candidate in lines[start + 1 :]:
            if not candidate or candidate[0].isspace():
                continue  # the frames of the traceback are indented
            match = _EXCEPTION_LINE.match(candidate.rstrip())
            if match:
                return match["ename"].rpartition(".")[2], match["evalue"] or ""
            break
    return None


def shown_errors(nb):
    """Each error a cell showed, in order: error outputs, and tracebacks printed to stdout or stderr.

    ``{"cell": index, "ename", "evalue", "via": "error output" | "printed traceback"}``.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", ()):
            kind = output.get("output_type")
            if kind == "error":
                ename = output.get("ename", "")
                found.append({"cell": index, "ename": ename, "evalue": output.get("evalue", ""), "via": "error output"})
            elif kind == "stream":
                printed = _printed_exception(output.get("text", ""))
                if printed:
                    found.append({"cell": index, "ename": printed[0], "evalue": printed[1], "via": "printed traceback"})
    return found


_HEADER_LIMIT = 4 * 2**20  # one JSON line naming the files: far more than any real list
_CHUNK = 2**20


class StreamRefused(Exception):
    """The host's stream of private inputs is not what the plan allows: nothing of it is kept."""


def check_header(line, folders, limit):
    """The (path, size) list of a header line (bytes), each path inside one of ``folders``; StreamRefused
    for anything else. Pure: nothing is written until every entry passed."""
    if not line.endswith(b"\n"):
        raise StreamRefused("the header line is missing, too long or truncated")
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise StreamRefused("the header is not JSON") from None
    files = header.get("files") if isinstance(header, dict) else None
    if not isinstance(files, list):
        raise StreamRefused("the header has no file list")
    found, total = [], 0
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise StreamRefused("a header entry is not a path and a size")
        parts = path.split("/")
        if "\0" in path or len(parts) < 2 or any(part in ("", ".", "..") for part in parts):
            raise StreamRefused(f"{path!r} is not a relative package path")
        if parts[0] not in folders:
            raise StreamRefused(f"{path!r} is outside the private folders")
        total += size
        if total > limit:
            raise StreamRefused(f"the header announces more than the {limit} bytes planned")
        found.append((path, size))
    paths = {path for path, _ in found}
    if len(paths) != len(found):
        raise StreamRefused("the header names a path twice")
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent:
            if parent in paths:
                raise StreamRefused(f"{parent!r} is both a file and a folder")
            parent = parent.rpartition("/")[0]
    return found


def tmpfs_mounts(mountinfo):
    """The mount points of the tmpfs file systems in /proc/self/mountinfo's text (octal escapes decoded)."""
    points = set()
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        after = fields[fields.index("-") + 1 :]
        if len(fields) > 4 and after and after[0] == "tmpfs":
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4]))
    return points


def receive_private_inputs(stream, work, folders, limit):
    """Write the files of ``stream`` (a header line, then the bytes) under ``work``, in ``folders`` only.

    Every file is new (never through a link), mode 0600. StreamRefused, with what was written removed,
    when the header is refused or the stream ends early; returns the paths written.
    """
    entries = check_header(stream.readline(_HEADER_LIMIT), folders, limit)
    written = []
    try:
        for path, size in entries:
            parts = path.split("/")
            folder = work
            for part in parts[:-1]:
                folder = os.path.join(folder, part)
                try:
                    os.mkdir(folder, 0o700)
                except FileExistsError:
                    if os.path.islink(folder) or not os.path.isdir(folder):
                        raise StreamRefused(f"{path!r}: a parent is not a folder") from None
            target = os.path.join(work, *parts)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            written.append(target)
            with os.fdopen(fd, "wb") as out:
                left = size
                while left:
                    chunk = stream.read(min(_CHUNK, left))
                    if not chunk:
                        raise StreamRefused(f"the stream ended inside {path!r}")
                    out.write(chunk)
                    left -= len(chunk)
    except BaseException:
        for target in written:
            try:
                os.unlink(target)
            except OSError:
                pass
        raise
    return [path for path, _ in entries]


def _receive_from_stdin(plan, work):
    folders = plan["private_folders"]
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
        mounted = tmpfs_mounts(fh.read())
    for folder in folders:  # never onto the host's disk: each folder must be the tmpfs the host asked for
        if os.path.join(work, folder) not in mounted:
            raise StreamRefused(f"{folder!r} is not a tmpfs in the sandbox")
    try:
        receive_private_inputs(sys.stdin.buffer, work, set(folders), plan["private_bytes"])
    finally:  # the notebooks' kernels inherit nothing of the stream
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)


def main(plan_path, report_path):
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    work = plan["work_dir"]
    # No facts about the environment: the notebooks could forge them here; the host probes the image itself.
    report = {"notebooks": [], "running": None, "error": None, "finished": False}
    _write(report_path, report)
    try:
        if plan.get("private_folders"):
            _receive_from_stdin(plan, work)
        for entry in plan["notebooks"]:
            report["running"] = entry["path"]
            _write(report_path, report)
            outcome = _run_notebook(entry, plan, work)
            report["notebooks"].append(outcome)
            _write(report_path, report)
            if outcome["status"] != "completed":
                break
    except Exception as exc:  # the runner itself failed: say how, for the verdict's cause
        report["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    report["finished"] = True
    _write(report_path, report)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
