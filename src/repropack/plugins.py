"""One registry type for every extension point: sandbox backends, comparison rules, report formats.

An extension is an object (usually a class) with a ``name`` attribute, kept in
a ``Registry`` under that name. It gets there in one of three ways, all
equivalent once loaded:

- a built-in module, imported on the registry's first lookup, registers it
  with ``@REGISTRY.register``;
- an installed distribution declares an entry point in the registry's group
  that names the object itself (``quiet-local = my_plugin:QuietBackend``);
- or an entry point that names a module, whose import registers what it
  provides (``my-rules = my_plugin.rules``).

What a caller may rely on:

- Importing a registry imports nothing of its extensions; the first
  ``get`` or ``names`` imports the built-in modules, then every entry point
  of the group, once per process.
- Built-ins are loaded before any entry point, so a built-in name always
  keeps its built-in object: a plugin may add names, never take one over.
- ``names()`` lists what ``get`` can return, in registration order: the
  built-ins first (in the order their modules register them: a built-in
  module importing another registers the other first), then the entry
  points' objects, sorted by entry-point name.
- A broken entry point (its import fails, or it names an object without a
  string ``name``) breaks nothing else: it is left out of ``names()``, and
  only ``get`` of its entry-point name raises ``CannotRun`` saying what
  failed. Name an entry point as the object's ``name``, so that error is
  raised for the name users type.
- An entry point whose object claims a name already registered is refused:
  the registered object stays, and the refusal is logged once as a one-line
  warning on the ``repropack.plugins`` logger (printed on stderr when the
  application configured no logging).
- ``problems()`` lists every entry point that was not registered, one line each.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, TypeVar

from repropack.errors import BadInput, CannotRun

T = TypeVar("T")

_log = logging.getLogger(__name__)


class NameTaken(ValueError):
    """``register`` was given a second, different object under a name already registered."""


class Registry(Generic[T]):
    """Extensions of one kind by name.

    ``kind`` names the extension in messages ("comparison rule" gives
    "unknown comparison rule 'x' (known: ...)"); ``group`` is the entry-point
    group read on first lookup (None reads none); ``built_in`` lists the
    modules whose import registers the built-in extensions.
    """

    def __init__(self, kind: str, group: str | None = None, built_in: Sequence[str] = ()) -> None:
        self.kind = kind
        self.group = group
        self.built_in = tuple(built_in)
        self._objects: dict[str, T] = {}
        self._broken: dict[str, str] = {}  # entry-point name -> why it could not be loaded
        self._problems: list[str] = []
        self._built_ins_loaded = False
        self._entry_points_loading = False
        self._entry_points_loaded = False
        self._lock = threading.RLock()  # re-entrant: built-in modules call register() while being loaded

    def register(self, obj: T) -> T:
        """Add ``obj`` under its ``name`` attribute and return it; usable as a class decorator.

        Registering the same object again does nothing. Raises ``NameTaken``
        (a ValueError) naming both objects when another object has the name,
        and TypeError when ``obj`` has no non-empty string ``name``. The
        built-ins are loaded first, so a clash with one is raised here, at
        the plugin's registration, whatever the import order.
        """
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} needs a non-empty string 'name' attribute: {_describe(obj)}")
        with self._lock:
            self._load_built_ins()
            known = self._objects.get(name)
            if known is obj:
                return obj
            if known is not None:
                raise NameTaken(
                    f"a {self.kind} named {name!r} is already registered: {_describe(known)}; refusing {_describe(obj)}"
                )
            self._objects[name] = obj
            return obj

    def get(self, name: str) -> T:
        """The object registered as ``name``.

        Raises ``CannotRun`` when ``name`` is an entry point that could not
        be loaded (the message says which and why), else ``BadInput``:
        "unknown <kind> 'name' (known: a, b)" with the known names sorted.
        """
        self._load()
        try:
            return self._objects[name]
        except KeyError:
            pass
        if name in self._broken:
            raise CannotRun(self._broken[name])
        raise BadInput(f"unknown {self.kind} {name!r} (known: {', '.join(sorted(self._objects))})")

    def names(self) -> list[str]:
        """The registered names in registration order: built-ins first, then entry points by entry-point name."""
        self._load()
        return list(self._objects)

    def problems(self) -> list[str]:
        """One line per entry point of the group that was not registered (broken or refused)."""
        self._load()
        return list(self._problems)

    def load_entry_points(self) -> None:
        """Load every entry point of ``group`` (after the built-ins); only the first call does anything.

        Lookups call this; call it directly only to load plugins early.
        Never raises for a plugin: see the module docstring for what
        happens to a broken or clashing one.
        """
        with self._lock:
            # "loading": a plugin that looks something up while being imported gets what is
            # registered so far instead of loading the group again.
            if self._entry_points_loaded or self._entry_points_loading:
                return
            self._load_built_ins()
            self._entry_points_loading = True
            try:
                if self.group is not None:
                    found = metadata.entry_points(group=self.group)
                    for entry_point in sorted(found, key=lambda ep: (ep.name, ep.value)):
                        self._load_entry_point(entry_point)
            finally:
                self._entry_points_loaded = True  # once: a plugin's failure is kept, never retried

    def _load(self) -> None:
        if not self._entry_points_loaded:
            self.load_entry_points()

    def _load_built_ins(self) -> None:
        with self._lock:
            if self._built_ins_loaded:
                return
            self._built_ins_loaded = True  # before importing: the modules call register()
            try:
                for module in self.built_in:
                    importlib.import_module(module)
            except BaseException:
                # A built-in that cannot be imported is repropack's own bug or a missing
                # dependency: raise it again on the next lookup rather than serve half a registry.
                self._built_ins_loaded = False
                raise

    def _load_entry_point(self, entry_point: metadata.EntryPoint) -> None:
        where = _origin(entry_point, self.group)
        try:
            loaded: Any = entry_point.load()
        except NameTaken as error:  # a module entry point whose import registers a taken name
            self._refuse(where, error)
            return
        except Exception as error:
            self._break(entry_point.name, f"{where} could not be loaded: {type(error).__name__}: {error}")
            return
        if isinstance(loaded, ModuleType):
            return  # importing the module registered what it provides
        try:
            self.register(loaded)
        except NameTaken as error:
            self._refuse(where, error)
        except TypeError as error:
            self._break(entry_point.name, f"{where} is not a {self.kind}: {error}")

    def _break(self, name: str, message: str) -> None:
        line = f"{self.kind} {name!r} is unavailable: {message}"
        self._broken.setdefault(name, line)  # the first of two broken entry points of one name is reported
        self._problems.append(line)

    def _refuse(self, where: str, error: NameTaken) -> None:
        message = f"{self.kind} plugin refused: {where}: {error}"
        self._problems.append(message)
        _log.warning("repropack: warning: %s", message)


def _describe(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}" if module else qualname


def _origin(entry_point: metadata.EntryPoint, group: str | None) -> str:
    dist = getattr(entry_point, "dist", None)
    source = f", from {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point '{entry_point.name} = {entry_point.value}' ({group}{source})"
