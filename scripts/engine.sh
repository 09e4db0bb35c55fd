#!/usr/bin/env bash
# Makes the real Docker engine and repropack's base image available, idempotently:
# installs docker.io and debootstrap when missing, starts dockerd when it is not
# answering (no systemd here), and builds the base image from a Debian mirror
# when the engine does not have it (no registry is reachable). Fast when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "engine: installing ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "engine: starting dockerd" >&2
  nohup dockerd >/var/log/repropack-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "engine: dockerd did not start; see /var/log/repropack-dockerd.log" >&2; exit 3; }
fi

.venv/bin/repropack base build --if-missing >&2
