#!/usr/bin/env bash
# Style and structure checks: ruff (lint + format) and the import-linter layer contracts
# declared in pyproject.toml. Fails on the first violation; CI runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/lint-imports
