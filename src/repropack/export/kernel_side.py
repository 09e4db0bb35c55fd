"""Observer code that runs inside the notebook's kernel, not in repropack's process.

It is sent to the kernel as source text, so it must use the standard library
only: the kernel's interpreter may be a different environment without
repropack. ``start`` installs an audit hook that notes every ``open`` of a file
under the project; ``collect`` writes what was seen, the modules imported since
``start`` and the interpreter's environment, as JSON, to a path outside the
project. Audit hooks cannot be removed, so ``collect`` switches recording off.
"""

import json
import os
import platform
import sys

_state = {
    "root": "",
    "recording": False,
    "reads": set(),
    "writes": set(),
    "outside": set(),
    "modules_before": set(),
    "imported": set(),
    "user_ns": None,  # the notebook's namespace: imports made with it as globals are the notebook's own
}

# Reads outside the project under these folders are the interpreter, libraries
# and per-user caches at work, not data the notebook depends on.
_SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/proc/", "/sys/", "/dev/", "/opt/", "/var/", "/run/")
_MAX_OUTSIDE = 50

_CHANGING_FLAGS = os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _on_audit(event, args):
    # Called for every audited event in the kernel: keep the common path cheap.
    if event != "open" or not _state["recording"]:
        return
    path, mode, flags = args
    if isinstance(path, int):
        return  # an already-open descriptor: its path was seen when it was opened
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if mode:  # open() and io.open_code() pass a mode string
        reading = "r" in mode or "+" in mode
        writing = any(c in mode for c in "wax+")
    else:  # os.open() passes flags only
        access = (flags or 0) & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
        reading = access in (os.O_RDONLY, os.O_RDWR)
        writing = access != os.O_RDONLY or bool((flags or 0) & _CHANGING_FLAGS)
    root = _state["root"]
    if full == root or full.startswith(root + os.sep):
        if reading:
            _state["reads"].add(full)
        if writing:
            _state["writes"].add(full)
    elif reading and not writing:
        _note_outside(full)


def _note_outside(full):
    if len(_state["outside"]) >= _MAX_OUTSIDE or full.startswith(_state["ignored_prefixes"]):
        return
    if os.path.isfile(full):
        _state["outside"].add(full)


def _from_the_notebook(importer_globals):
    """True for an import made by a notebook cell or a module of the project, not by a library."""
    if not importer_globals:
        return False
    if importer_globals is _state["user_ns"]:
        return True
    module_file = importer_globals.get("__file__") or ""
    return module_file.startswith(_state["root"] + os.sep)


def _recording_import(original):
    # `import x` of a module already loaded (by an IPython startup file, say) does
    # not change sys.modules, so the before/after comparison alone would miss it.
    # Only the notebook's own imports count: libraries import lazily all the time.
    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and _state["recording"] and _from_the_notebook(globals):
            _state["imported"].add(name.partition(".")[0])
        return original(name, globals, locals, fromlist, level)

    return __import__


def _user_namespace():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell.user_ns if shell is not None else None


def start(root):
    _state["user_ns"] = _user_namespace()
    home_dotfiles = os.path.join(os.path.expanduser("~"), ".")
    interpreter = {p.rstrip(os.sep) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    _state["ignored_prefixes"] = tuple(interpreter | set(_SYSTEM_PREFIXES) | {home_dotfiles})
    _state["root"] = os.path.abspath(root)
    _state["modules_before"] = set(sys.modules)
    _state["recording"] = True
    sys.addaudithook(_on_audit)
    import builtins

    builtins.__import__ = _recording_import(builtins.__import__)


def _marker_environment():
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
            }
        )
    return found


def collect(out_path):
    _state["recording"] = False
    # A package loaded before the run (IPython, by the kernel) may load more of its
    # submodules lazily during it: that is the kernel at work, not a new import.
    loaded_before = {name.partition(".")[0] for name in _state["modules_before"]}
    newly_loaded = {name.partition(".")[0] for name in set(sys.modules) - _state["modules_before"]}
    imported = (newly_loaded - loaded_before) | _state["imported"]
    report = {
        "reads": sorted(_state["reads"]),
        "writes": sorted(_state["writes"]),
        "outside_reads": sorted(_state["outside"]),
        "imported_modules": sorted(imported),
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
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
