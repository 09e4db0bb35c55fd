#!/usr/bin/env bash
# Makes a PostgreSQL server available for the catalog's tests and benchmarks, idempotently, and prints
# the URL to reach it on stdout (messages go to stderr):
#
#     postgresql+psycopg://postgres@127.0.0.1:55432/postgres
#
# Installs Debian's postgresql when its binaries are missing, creates a private throwaway cluster with
# initdb and starts it with pg_ctl (there is no systemd here). The cluster lives in
# $REPROPACK_POSTGRES_HOME, by default /var/tmp/repropack-postgres-PORT: outside the checkout, because
# the `postgres` user that runs it must reach its folder, and a clone under /root is closed to it; one
# machine's clones share it. It listens on 127.0.0.1 and on a unix socket in that folder only, on a fixed port ($REPROPACK_POSTGRES_PORT,
# default 55432), with trust authentication for the `postgres` superuser: it is for tests on this
# machine, never for data anyone keeps. fsync is off for the same reason (tests create and drop many
# databases). When the server is already answering on our socket it does nothing: a few milliseconds.
# Run as root, the cluster belongs to the `postgres` user (initdb refuses root); otherwise to the caller.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${REPROPACK_POSTGRES_PORT:-55432}"
home="${REPROPACK_POSTGRES_HOME:-/var/tmp/repropack-postgres-${port}}"
data="$home/data"
url="postgresql+psycopg://postgres@127.0.0.1:${port}/postgres"

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bin="$(bin_dir)"
if [ -n "$bin" ] && "$bin/pg_isready" -q -h "$home" -p "$port" 2>/dev/null; then
  echo "$url"
  exit 0
fi

if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres: installing postgresql" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin="$(bin_dir)"
  [ -n "$bin" ] || { echo "postgres: no /usr/lib/postgresql/*/bin after installing postgresql" >&2; exit 3; }
fi

# The server runs as `postgres` when we are root; `as_owner` runs a command as whoever owns the cluster.
if [ "$(id -u)" = 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

if [ ! -f "$data/PG_VERSION" ]; then
  echo "postgres: creating a private cluster in $data" >&2
  rm -rf "$data"
  mkdir -p "$home"
  [ "$(id -u)" = 0 ] && chown postgres: "$home"
  as_owner test -w "$home" || { echo "postgres: the cluster's owner cannot write $home" >&2; exit 3; }
  as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
    || { echo "postgres: initdb failed; see $home/initdb.log" >&2; exit 3; }
  as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/postgres.sh: a private test server, reachable from this machine only
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${home}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi

echo "postgres: starting the server on 127.0.0.1:${port}" >&2
if ! as_owner "$bin/pg_ctl" -D "$data" -l "$home/server.log" -o "-p $port" -w -t 60 start >/dev/null; then
  echo "postgres: the server did not start; see $home/server.log" >&2
  exit 3
fi
"$bin/pg_isready" -q -h "$home" -p "$port" || { echo "postgres: not answering on port $port" >&2; exit 3; }
echo "$url"
