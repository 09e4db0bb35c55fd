#!/usr/bin/env bash
# The main job end to end on the bundled example: export it, check it, show it,
# replay it in a sandboxed container and verify the signed record.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/engine.sh
mkdir -p build
.venv/bin/repropack export examples/claims-analysis -o build/claims-analysis.crate.zip --force
.venv/bin/repropack check build/claims-analysis.crate.zip
.venv/bin/repropack inspect build/claims-analysis.crate.zip
# The patient register is restricted: the package holds only its hash, so the
# replay is given the file the way an enclave would give it.
rm -rf build/claims-analysis.replay
.venv/bin/repropack replay build/claims-analysis.crate.zip --inputs examples/claims-analysis \
    --record build/claims-analysis.replay --report build/claims-analysis.report.html
# The example declares disclosure control: its chart needs a person's review, recorded as a signed sign-off.
.venv/bin/repropack sign-off build/claims-analysis.replay --by "Demo Reviewer" --role "output checker" \
    --note "chart shows the published, suppressed counts only"
.venv/bin/repropack verify-record build/claims-analysis.replay
