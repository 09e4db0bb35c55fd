"""The kernel's interpreter facts without starting a kernel, remembered while its environment is unchanged.

``--no-execute`` needs only what the kernel-side observer reports about the
interpreter (version, platform, PEP 508 marker values, installed distributions),
not a kernel. For a kernelspec that launches ``PYTHON -m ipykernel_launcher``
(or ``ipykernel``), its interpreter is asked directly: a short subprocess runs
``kernel_side.interpreter_facts`` (the same function the observer runs) with the
kernelspec's environment, in the notebook's folder, as the kernel would start.
Any other kernelspec gets ``None`` and the caller starts the kernel as before.

The answer is cached in the user cache folder, keyed by the interpreter (path and
stat), the folder it ran in and the variables that move ``sys.path``. An entry
is trusted only while every path it depended on has the stat it had when the
answer was computed: the interpreter binary, ``pyvenv.cfg``, each ``sys.path``
folder (a new distribution or ``.pth`` file changes its folder's mtime), the
user site folder (also while absent), each ``.pth`` file, and every file of every
distribution's metadata folder (an in-place rewrite of METADATA changes the
file, not its folder). The notebook's folder is on ``sys.path`` too, but its
mtime moves with every file written there, so its metadata names
(``*.dist-info``, ``*.egg-info``, ``*.pth``...) are compared instead. The stats
are taken before the facts are read and checked again after: an install while
the interpreter answered leaves nothing cached. A stale answer would record a
wrong lock, so any doubt is a miss. The cache file is read as bounded strict JSON of a checked shape:
another process may have written it, and a damaged or hostile one is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from repropack import __version__
from repropack.errors import CannotRun
from repropack.export.execute import NotebookExecution, Observation, kernel_display_name, read_notebook
from repropack.fs.atomic import write_bytes_atomically
from repropack.fs.bounded import UnsafeData, read_json_file
from repropack.fs.hashing import default_cache_dir

_KERNEL_SIDE_SOURCE = Path(__file__).with_name("kernel_side.py").read_text(encoding="utf-8")

# Runs after kernel_side's source, in the kernel's interpreter: the facts, and the paths they depend on.
_PROBE_TAIL = """
def _watched():
    import site
    from importlib import metadata

    here = os.getcwd()  # the notebook's folder: its mtime moves with every file written there, so it is
    folders = [p for p in (os.path.abspath(p or os.curdir) for p in sys.path) if p != here]  # listed instead
    try:
        folders.append(site.getusersitepackages())
    except Exception:
        pass
    paths = [os.path.realpath(sys.executable), os.path.join(sys.prefix, "pyvenv.cfg")]
    for folder in folders:
        paths.append(folder)
        try:
            paths.extend(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".pth"))
        except OSError:
            pass
    for dist in metadata.distributions():
        where = getattr(dist, "_path", None)
        if where is None:
            continue
        where = os.fspath(where)
        paths.append(where)
        try:
            paths.extend(os.path.join(where, n) for n in os.listdir(where))
        except OSError:
            pass
    return [[p, _stat_of(p)] for p in sorted(set(paths))], [[here, _metadata_names(here)]]


def _metadata_names(folder):
    try:
        return sorted(n for n in os.listdir(folder) if n.endswith(_METADATA_SUFFIXES))
    except OSError:
        return None


_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg", ".egg-link", ".pth")


def _stat_of(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _probe():
    import json

    watched, listed = _watched()  # before the facts: a change while they are read shows as a difference after
    sys.stdout.write(json.dumps({"facts": interpreter_facts(), "watched": watched, "listed": listed}))


_probe()
"""

# Variables that change the interpreter's sys.path or user site folder, hence the distributions it sees.
_PATH_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONUSERBASE", "PYTHONSAFEPATH", "HOME")

_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg", ".egg-link", ".pth")
_CACHE_FOLDER = "interpreters"
_CACHE_FORMAT = 2
_MAX_CACHE_BYTES = 16 * 2**20
_MAX_CACHE_VALUES = 2_000_000
_PROBE_TIMEOUT_S = 120
_KERNEL_MODULES = ("ipykernel_launcher", "ipykernel")


@dataclass(frozen=True)
class InterpreterFacts:
    """What the observer's ``interpreter_facts`` reports, plus the kernel's environment variables."""

    interpreter: dict[str, str]
    marker_environment: dict[str, str]
    distributions: tuple[dict[str, Any], ...]
    environment: dict[str, str]  # os.environ as the kernel would start: ours, with the kernelspec's env over it
    cached: bool  # answered from the cache, without starting the interpreter


@dataclass(frozen=True)
class _Launch:
    executable: str
    env: dict[str, str]


def kernel_interpreter(kernel: str) -> str | None:
    """The absolute path of the interpreter ``kernel``'s spec starts as ``PYTHON -m ipykernel_launcher``, else None."""
    launch = _launch_of(kernel)
    return launch.executable if launch else None


def kernel_interpreter_facts(kernel: str, folder: Path, *, cache_dir: Path | None = None) -> InterpreterFacts | None:
    """The facts of ``kernel``'s interpreter as a kernel started in ``folder`` would report them.

    None when the kernelspec is not a plain ``PYTHON -m ipykernel_launcher`` launch
    (the caller then starts the kernel). ``cache_dir`` defaults to the user's
    cache (``$REPROPACK_CACHE_DIR`` or the platform cache folder). Raises
    CannotRun when the interpreter cannot be run or answers nonsense.
    """
    launch = _launch_of(kernel)
    if launch is None:
        return None
    folder = folder.resolve()
    key = _cache_key(launch, folder)
    if key is None:
        return None
    entry_path = (cache_dir or default_cache_dir()) / _CACHE_FOLDER / f"{key}.json"
    cached = _read_entry(entry_path, key)
    if cached is not None:
        return _facts(cached, launch, cached=True)
    answer = _ask(launch, folder)
    if _still_true(answer):  # nothing changed while it answered
        _write_entry(entry_path, key, answer)
    return _facts(answer["facts"], launch, cached=False)


def _launch_of(kernel: str) -> _Launch | None:
    """The interpreter and environment of a kernelspec that starts ``PYTHON -m ipykernel_launcher``, else None."""
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        return None  # the caller's kernel_display_name says so, with the kernels installed
    argv = list(spec.argv or ())
    if len(argv) < 3 or argv[1] != "-m" or argv[2] not in _KERNEL_MODULES:
        return None
    env_values = dict(spec.env or {})
    if any("${" in str(v) for v in env_values.values()):
        return None  # jupyter_client substitutes these; leave that to it
    # As jupyter_client's format_kernel_cmd: a bare "python" is this interpreter, {prefix} is sys.prefix.
    first = argv[0]
    if first in {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}:
        executable = sys.executable
    else:
        first = first.replace("{prefix}", sys.prefix).replace("{resource_dir}", spec.resource_dir)
        if "{" in first:
            return None
        executable = first if os.sep in first else (shutil.which(first) or "")
    if not executable or not os.path.isfile(executable):
        return None
    env = {**os.environ, **{str(k): str(v) for k, v in env_values.items()}}
    return _Launch(os.path.abspath(executable), env)


def _stat_key(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _cache_key(launch: _Launch, folder: Path) -> str | None:
    binary = _stat_key(os.path.realpath(launch.executable))
    if binary is None:
        return None
    identity = {
        "format": _CACHE_FORMAT,
        "repropack": __version__,  # a new observer may report more
        "executable": launch.executable,
        "binary": [os.path.realpath(launch.executable), binary],
        "folder": str(folder),  # sys.path starts with it, as in the kernel
        "variables": {name: launch.env.get(name) for name in _PATH_VARIABLES},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


def _ask(launch: _Launch, folder: Path) -> dict[str, Any]:
    source = _KERNEL_SIDE_SOURCE + _PROBE_TAIL
    shown = launch.executable
    try:
        done = subprocess.run(
            [launch.executable, "-c", source],
            cwd=folder,
            env=launch.env,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotRun(f"cannot ask the kernel's interpreter {shown} for its environment: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        said = f": {lines[-1].strip()}" if lines else ""
        raise CannotRun(f"the kernel's interpreter {shown} could not report its environment{said}")
    try:
        answer = json.loads(done.stdout)
        _check_answer(answer)
    except (ValueError, TypeError) as exc:
        raise CannotRun(
            f"the kernel's interpreter {shown} reported its environment in a shape not understood: {exc}"
        ) from None
    return {"facts": answer["facts"], "watched": answer["watched"], "listed": answer["listed"]}


def _check_answer(answer: Any) -> None:
    """Raise TypeError unless ``answer`` has the probe's shape (what the rest of export indexes into)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("facts"), dict):
        raise TypeError("not an object with facts")
    facts = answer["facts"]
    for name in ("interpreter", "marker_environment"):
        value = facts.get(name)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise TypeError(f"{name} is not an object of strings")
    for needed in ("python_version", "implementation", "platform", "machine", "executable"):
        if needed not in facts["interpreter"]:
            raise TypeError(f"interpreter.{needed} is missing")
    distributions = facts.get("distributions")
    if not isinstance(distributions, list):
        raise TypeError("distributions is not a list")
    for dist in distributions:
        if (
            not isinstance(dist, dict)
            or not isinstance(dist.get("name"), str)
            or not isinstance(dist.get("version"), str)
        ):
            raise TypeError("a distribution has no name or version")
        if not isinstance(dist.get("requires"), list) or not all(isinstance(r, str) for r in dist["requires"]):
            raise TypeError(f"distribution {dist['name']!r} has requirements that are not strings")
        if not isinstance(dist.get("top_level_modules"), list) or not isinstance(dist.get("local"), bool):
            raise TypeError(f"distribution {dist['name']!r} has a malformed entry")
        for optional, kinds in (("source", (str, type(None))), ("record", (str, type(None))), ("editable", (bool,))):
            if optional in dist and not isinstance(dist[optional], kinds):
                raise TypeError(f"distribution {dist['name']!r} has a malformed {optional}")
    watched = answer.get("watched")
    if not isinstance(watched, list) or not watched:
        raise TypeError("watched is not a list of paths")
    for item in watched:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError("a watched path is malformed")
        stat_key = item[1]
        if stat_key is not None and not (
            isinstance(stat_key, list) and len(stat_key) == 3 and all(type(n) is int for n in stat_key)
        ):
            raise TypeError("a watched path's stat is malformed")
    listed = answer.get("listed")
    if not isinstance(listed, list):
        raise TypeError("listed is not a list of folders")
    for item in listed:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError("a listed folder is malformed")
        if item[1] is not None and not (isinstance(item[1], list) and all(isinstance(n, str) for n in item[1])):
            raise TypeError("a listed folder's names are malformed")


def _read_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The cached facts if the entry is well formed, for ``key``, and every watched path is as it was."""
    try:
        entry = read_json_file(path, limit=_MAX_CACHE_BYTES, max_values=_MAX_CACHE_VALUES, what=str(path))
    except UnsafeData:
        return None  # missing, damaged or not ours: ask the interpreter again
    if not isinstance(entry, dict) or entry.get("format") != _CACHE_FORMAT or entry.get("key") != key:
        return None
    try:
        _check_answer(entry)
    except TypeError:
        return None
    return entry["facts"] if _still_true(entry) else None


def _still_true(answer: dict[str, Any]) -> bool:
    """Every watched path has its recorded stat and every listed folder its recorded metadata names: else
    something was installed, removed or rewritten, and the answer may be stale."""
    return all(_stat_key(path) == recorded for path, recorded in answer["watched"]) and all(
        _metadata_names(folder) == names for folder, names in answer["listed"]
    )


def _metadata_names(folder: str) -> list[str] | None:
    """What in ``folder`` importlib.metadata or site could read (the probe's own function of the same name)."""
    try:
        return sorted(n for n in os.listdir(folder) if n.endswith(_METADATA_SUFFIXES))
    except OSError:
        return None


def _write_entry(path: Path, key: str, answer: dict[str, Any]) -> None:
    entry = {"format": _CACHE_FORMAT, "key": key, **answer}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(path, json.dumps(entry).encode("utf-8"))
    except OSError:
        pass  # only an optimisation: the next export asks again


def _facts(facts: dict[str, Any], launch: _Launch, *, cached: bool) -> InterpreterFacts:
    return InterpreterFacts(
        interpreter=facts["interpreter"],
        marker_environment=facts["marker_environment"],
        distributions=tuple(facts["distributions"]),
        environment=dict(launch.env),
        cached=cached,
    )


def environment_reading(project_root: Path, relpath: str, *, kernel: str) -> NotebookExecution | None:
    """An unexecuted ``relpath`` with its kernel's interpreter facts, as ``execute_notebook(execute_cells=False)``
    gives, but without starting a kernel; None when the kernelspec cannot be asked directly."""
    path = project_root / relpath
    nb = read_notebook(path, relpath)
    display_name = kernel_display_name(kernel)
    facts = kernel_interpreter_facts(kernel, path.parent)
    if facts is None:
        return None
    observation = Observation(
        reads=frozenset(),
        writes=frozenset(),
        consumed=frozenset(),
        outside_reads=frozenset(),
        imported_modules=frozenset(),
        interpreter=facts.interpreter,
        marker_environment=facts.marker_environment,
        distributions=facts.distributions,
        environment=facts.environment,
    )
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return NotebookExecution(relpath, nb, kernel, display_name, now, now, (), observation)
