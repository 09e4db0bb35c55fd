#!/usr/bin/env bash
# Installs what repropack needs on a Debian machine, idempotently: system
# packages (only when missing), a virtualenv in .venv, and repropack itself with
# its test extras. Re-running it when everything is there takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  need_apt+=(python3-venv python3-pip)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  python3 -m venv .venv
fi

# Reinstall only when the declared dependencies changed since the last install.
stamp=.venv/.repropack-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing repropack and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

# repropack is installed editable, so nothing compiled its own modules, and where PYTHONDONTWRITEBYTECODE is
# set nothing will: every command, Dask worker and test subprocess would compile them from source again
# (0.1-0.2 s each). Python still reads up-to-date .pyc files under that setting; stale ones it ignores.
.venv/bin/python -m compileall -q -j 0 src
