#!/usr/bin/env bash
# The main job end to end on the bundled example: export it, check it, show it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
mkdir -p build
.venv/bin/repropack export examples/claims-analysis -o build/claims-analysis.crate.zip --force
.venv/bin/repropack check build/claims-analysis.crate.zip
.venv/bin/repropack inspect build/claims-analysis.crate.zip
