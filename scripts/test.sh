#!/usr/bin/env bash
# The whole test suite. Extra arguments go to pytest, e.g. `-m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/engine.sh
bash scripts/browser.sh
REPROPACK_TEST_POSTGRES="$(bash scripts/postgres.sh)"  # the catalog tests' server (tests/repository/conftest.py)
export REPROPACK_TEST_POSTGRES
REPROPACK_TEST_SLURM_CONF="$(bash scripts/slurm.sh)"  # a single-node Slurm for dask-jobqueue (tests/govern/test_slurm.py)
export REPROPACK_TEST_SLURM_CONF
exec .venv/bin/python -m pytest -n 2 "$@"
