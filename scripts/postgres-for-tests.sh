#!/usr/bin/env bash
# A PostgreSQL server for the tests: installs Debian's `postgresql` package when it is
# missing, makes a cluster in a scratch folder owned by a non-root user, starts it on
# loopback, and prints the line that gives it to the tests:
#
#   eval "$(scripts/postgres-for-tests.sh start)"    # sets FLOWDECK_TEST_PG
#   cargo test
#   scripts/postgres-for-tests.sh stop
#
# The cluster favours speed over durability (fsync off): it holds nothing but tests' data.
# It listens on loopback and on the addresses of the tests' own network namespaces
# (10.231.0.0/16, made by tests/postgres_hosts.rs): any other address is refused.
set -euo pipefail

dir="${FLOWDECK_PG_DIR:-${TMPDIR:-/tmp}/flowdeck-test-pg}"
port="${FLOWDECK_PG_PORT:-55439}"
user="${FLOWDECK_PG_USER:-flowdeck-pg}"

say() { echo "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

# Run as the cluster's owner: PostgreSQL refuses to run as root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su "$user" -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

start() {
  local bin
  bin=$(bin_dir || true)
  if [ -z "$bin" ]; then
    say "installing PostgreSQL (Debian's postgresql package)…"
    (as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 \
      || { say "cannot install PostgreSQL: its tests will be skipped"; return 0; }
    bin=$(bin_dir || true)
    [ -n "$bin" ] || { say "PostgreSQL installed but initdb not found: its tests will be skipped"; return 0; }
  fi
  if [ "$(id -u)" = 0 ]; then
    id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  else
    user=$(id -un)
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$user" "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U flowdeck -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { say "initdb failed (see $dir/initdb.log): PostgreSQL tests will be skipped"; return 0; }
    echo "host all all 10.231.0.0/16 trust" >>"$dir/data/pg_hba.conf"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=0.0.0.0 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null \
      || { say "PostgreSQL did not start (see $dir/log): its tests will be skipped"; return 0; }
  fi
  echo "export FLOWDECK_TEST_PG=postgres://flowdeck@127.0.0.1:$port/postgres"
}

stop() {
  local bin
  bin=$(bin_dir || true)
  [ -n "$bin" ] || return 0
  if [ "$(id -u)" != 0 ]; then user=$(id -un); fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) say "usage: $0 [start|stop]"; exit 2 ;;
esac
