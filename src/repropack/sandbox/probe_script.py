"""Runs inside the sandbox before any notebook: print the environment's Python version and installed
distributions as one JSON object on stdout.

Standalone (standard library only, like runner.py) and run as ``python -I -S probe_script.py``: no
site-packages on the path and no ``.pth`` file or ``sitecustomize`` executed, so no installed
distribution's code runs before these facts are read; the distributions are read from the
environment's own site-packages folders.
"""

import json
import os
import platform
import site
import sys
from importlib import metadata


def _prefix():
    """The environment's prefix: its virtualenv when the interpreter is one (``site`` would say so; -S skips it)."""
    here = os.path.dirname(os.path.abspath(sys.executable))
    for candidate in (here, os.path.dirname(here)):
        if os.path.isfile(os.path.join(candidate, "pyvenv.cfg")):
            return candidate
    return sys.prefix


def facts():
    prefix = _prefix()
    # The folders site would add (Debian's site says dist-packages, its virtualenvs use site-packages);
    # site.getsitepackages only computes them, it reads no .pth file.
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [os.path.join(prefix, "lib", version, "site-packages"), *site.getsitepackages([prefix])]
    folders = list(dict.fromkeys(os.path.realpath(f) for f in candidates if os.path.isdir(f)))
    distributions = {}
    for dist in metadata.distributions(path=folders):
        name = dist.metadata["Name"]
        if name:
            distributions.setdefault(name, dist.version)  # the first on the path is the one imported
    return {"python_version": platform.python_version(), "distributions": distributions}


if __name__ == "__main__":
    print(json.dumps(facts()))
