"""Observer code that runs inside the notebook's kernel, not in repropack's process.

It is sent to the kernel as source text, so it must use the standard library
only: the kernel's interpreter may be a different environment without
repropack. ``start`` installs one audit hook and nothing else, and the
observation stays invisible to the notebook: no module in ``sys.modules``, no
name in ``builtins`` or the user namespace, no wrapped function and so no extra
frame in any call path (a wrapped ``__import__`` shifted ``stacklevel``, so a
library's ``DeprecationWarning`` was attributed to the wrapper and hidden), no
module imported that the kernel had not loaded already (the rest are imported
by ``collect``, after the last cell). The hook notes:

- every ``open`` of a file under the project (``open`` events, raised before
  the file is opened, so a read of a file that does not exist yet is seen);
- every code object executed from a notebook cell or from a file of the project
  (``exec`` events: a cell, a project module's body, a ``%run`` script), whose
  ``import`` statements ``collect`` reads from the bytecode. That is how an
  import of a module already loaded before the run (by an IPython startup file,
  say) is seen, which comparing ``sys.modules`` before and after cannot see.

``collect`` runs on the custom audit event ``repropack.collect`` (so nothing
needs a handle on the observer), writes what was seen, the modules imported
since ``start`` and the interpreter's environment, as JSON, to a path outside
the project. Audit hooks cannot be removed, so it switches recording off.
"""

import os
import sys

COLLECT_EVENT = "repropack.collect"  # sys.audit(COLLECT_EVENT, out_path) makes the observer report

_state = {
    "root": "",
    "recording": False,
    "reads": set(),
    "writes": set(),
    "consumed": set(),  # read before this session wrote them: what the notebook needed to exist
    "outside": set(),
    "modules_before": set(),
    "code": [],  # code objects run from cells and project files; their imports are the notebook's own
    "is_cell": None,  # filename -> bool: a code object compiled from a notebook cell
    "library_prefixes": (),  # interpreter folders inside the project (a .venv beside the notebooks)
    "ignored_prefixes": (),
}

# Reads outside the project under these folders are the interpreter, libraries
# and per-user caches at work, not data the notebook depends on.
_SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/proc/", "/sys/", "/dev/", "/opt/", "/var/", "/run/")
_MAX_OUTSIDE = 50

_CHANGING_FLAGS = os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _on_audit(event, args):
    # Called for every audited event in the kernel: keep the common path cheap, and never raise
    # (an exception here would surface in the notebook's own open() or import).
    if not _state["recording"]:
        return
    if event == "open":
        try:
            _on_open(*args)
        except Exception:  # the notebook's open() must behave as without us
            pass
    elif event == "exec":
        try:
            _on_exec(args[0])
        except Exception:  # nor may its imports
            pass
    elif event == COLLECT_EVENT:
        collect(args[0])


def _on_open(path, mode, flags):
    if isinstance(path, int):
        return  # an already-open descriptor: its path was seen when it was opened
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if mode:  # open() and io.open_code() pass a mode string
        reading = "r" in mode or "+" in mode
        writing = any(c in mode for c in "wax+")
        truncating = "w" in mode or "x" in mode
    else:  # os.open() passes flags only
        flags = flags or 0
        access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
        reading = access in (os.O_RDONLY, os.O_RDWR)
        writing = access != os.O_RDONLY or bool(flags & _CHANGING_FLAGS)
        truncating = bool(flags & (os.O_TRUNC | os.O_EXCL))
    root = _state["root"]
    if full == root or full.startswith(root + os.sep):
        if reading:
            _state["reads"].add(full)
            if not truncating and full not in _state["writes"]:
                _state["consumed"].add(full)
        if writing:
            _state["writes"].add(full)
    elif reading and not writing:
        _note_outside(full)


def _on_exec(code):
    filename = getattr(code, "co_filename", None)
    if not isinstance(filename, str):
        return  # exec of a string: compiled first, seen as the code object it became
    is_cell = _state["is_cell"]
    if is_cell is not None and is_cell(filename):
        _state["code"].append(code)
        return
    full = os.path.abspath(filename)
    if full.startswith(_state["root"] + os.sep) and not full.startswith(_state["library_prefixes"]):
        _state["code"].append(code)


def _note_outside(full):
    if len(_state["outside"]) >= _MAX_OUTSIDE or full.startswith(_state["ignored_prefixes"]):
        return
    if os.path.isfile(full):
        _state["outside"].add(full)


def _cell_test(shell):
    """A test telling the file name of a compiled notebook cell, or None without IPython."""
    compiler = getattr(shell, "compile", None)
    format_code_name = getattr(compiler, "format_code_name", None)  # IPython >= 8
    if format_code_name is not None:
        return lambda filename: format_code_name(filename) is not None
    names = getattr(compiler, "_filename_map", None)
    if isinstance(names, dict):
        return names.__contains__
    return None


def _forget_own_cell(shell, is_cell):
    """Drop the silent cell that installed the observer from IPython's caches of cell sources."""
    if is_cell is None:
        return
    frame = sys._getframe(1)
    while frame is not None and not is_cell(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return
    name = frame.f_code.co_filename
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        linecache.cache.pop(name, None)
    names = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if isinstance(names, dict):
        names.pop(name, None)


def _shell():
    ipython = sys.modules.get("IPython")  # only if the kernel loaded it: importing it here would show
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def start(root):
    root = os.path.abspath(root)
    shell = _shell()
    is_cell = _cell_test(shell)
    interpreter = {p.rstrip(os.sep) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    home_dotfiles = os.path.join(os.path.expanduser("~"), ".")
    _state["ignored_prefixes"] = tuple(interpreter | set(_SYSTEM_PREFIXES) | {home_dotfiles})
    _state["library_prefixes"] = tuple(p for p in interpreter if p.startswith(root + os.sep))
    _state["root"] = root
    _state["is_cell"] = is_cell
    _state["modules_before"] = set(sys.modules)
    _state["environ"] = dict(os.environ)  # as the kernel started: the world the cells were given
    _state["started"] = os.times().elapsed
    _forget_own_cell(shell, is_cell)
    _state["recording"] = True
    sys.addaudithook(_on_audit)


def _imports_in(code, found, seen):
    """Top-level names of the absolute ``import`` statements in ``code`` and the code nested in it."""
    import dis

    if id(code) in seen:
        return
    seen.add(id(code))
    previous = [None, None]
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            level = previous[0]  # LOAD_CONST level, LOAD_CONST fromlist, IMPORT_NAME name
            name = str(instruction.argval).partition(".")[0]
            if name and (not isinstance(level, int) or level == 0):
                found.add(name)
        constant = instruction.opname in ("LOAD_CONST", "LOAD_SMALL_INT")
        previous = [previous[1], instruction.argval if constant else None]
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _imports_in(const, found, seen)


def _marker_environment():
    import platform

    # The PEP 508 marker variables, computed as packaging does, so the caller can
    # evaluate Requires-Dist markers for this interpreter without running here.
    impl = sys.implementation
    version = impl.version
    impl_version = f"{version.major}.{version.minor}.{version.micro}"
    if version.releaselevel != "final":
        impl_version += version.releaselevel[0] + str(version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _local_source(dist):
    """Where a distribution installed from a local path, file URL or VCS checkout came from.

    Returns (local, path): the path is the folder of a file:// install, else None.
    """
    import json

    try:
        text = dist.read_text("direct_url.json")
    except OSError:
        return False, None
    if not text:
        return False, None
    try:
        info = json.loads(text)
    except ValueError:
        return False, None
    url = str(info.get("url", ""))
    local = "dir_info" in info or "vcs_info" in info or url.startswith("file:")
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return local, unquote(urlparse(url).path)
    return local, None


def installed_distributions():
    """Every distribution visible to this interpreter, first on sys.path wins."""
    from importlib import metadata

    modules_of = {}
    for module, names in metadata.packages_distributions().items():
        for name in names:
            modules_of.setdefault(name.lower(), set()).add(module)
    seen = set()
    found = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        local, source = _local_source(dist)
        found.append(
            {
                "name": name,
                "version": dist.version,
                "requires": list(dist.requires or []),
                "top_level_modules": sorted(modules_of.get(name.lower(), ())),
                "local": local,
                "source": source,
                **(_installed_copy(dist) if source else {}),
            }
        )
    return found


def _installed_copy(dist):
    """For a distribution installed from a folder: whether it is an editable install, and where its RECORD
    is (the installed files a package can carry as a wheel, so the replay installs what ran here)."""
    import json

    try:
        editable = bool(json.loads(dist.read_text("direct_url.json")).get("dir_info", {}).get("editable"))
    except (OSError, ValueError, TypeError, AttributeError):
        editable = False
    record = next((f for f in dist.files or () if f.name == "RECORD" and f.parent.name.endswith(".dist-info")), None)
    return {"editable": editable, "record": str(dist.locate_file(record)) if record is not None else None}


def interpreter_facts():
    """The interpreter, its PEP 508 marker values and its installed distributions.

    Also what ``export/interpreter_facts.py`` asks the interpreter for without
    starting a kernel (``--no-execute``): one function, so both paths record the same facts.
    """
    import platform

    return {
        "interpreter": {
            "python_version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "executable": sys.executable,
        },
        "marker_environment": _marker_environment(),
        "distributions": installed_distributions(),
    }


def collect(out_path):
    import json

    _state["recording"] = False
    # A package loaded before the run (IPython, by the kernel) may load more of its
    # submodules lazily during it: that is the kernel at work, not a new import.
    loaded_before = {name.partition(".")[0] for name in _state["modules_before"]}
    newly_loaded = {name.partition(".")[0] for name in set(sys.modules) - _state["modules_before"]}
    # Only the notebook's own import statements count beyond that: libraries import lazily all the time.
    stated = set()
    seen = set()
    for code in _state["code"]:
        _imports_in(code, stated, seen)
    imported = (newly_loaded - loaded_before) | stated
    report = {
        "reads": sorted(_state["reads"]),
        "writes": sorted(_state["writes"]),
        "consumed": sorted(_state["consumed"]),
        "outside_reads": sorted(_state["outside"]),
        "imported_modules": sorted(imported),
        **interpreter_facts(),
        "environment": _state.get("environ", {}),
        "resources": _resources(),
    }
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(report, fh)


def _resources():
    """Peak resident memory of the kernel and of its largest finished subprocess (bytes), and the run's wall time."""
    import resource

    kib = 1024 if sys.platform != "darwin" else 1  # ru_maxrss is in KiB on Linux, in bytes on macOS
    return {
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib,
        "children_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib,
        "wall_seconds": round(os.times().elapsed - _state.get("started", os.times().elapsed), 3),
    }
