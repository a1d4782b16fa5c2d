#!/usr/bin/env bash
# Throughput of 1, 2 and 3 `flowdeck serve` processes sharing one PostgreSQL store: each
# round makes a fresh database, imports the bench example, starts N servers, and drives
# them all at once with wrk (POST /events/hit, `{"n": 1}`, CONNS connections per server (8), for
# DURATION); it prints the events acknowledged per second (summed over the servers) and
# the runs finished per second measured in the store.
#
#   scripts/pg-servers-throughput.sh [BIN] [SERVER_URL] [DURATION]
#
# SERVER_URL names a database the user may create databases from (the tests' server by
# default: eval "$(scripts/postgres-for-tests.sh start)").
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'

bin="${1:-target/release/flowdeck}"
server="${2:-${FLOWDECK_TEST_PG:?give a PostgreSQL URL or set FLOWDECK_TEST_PG}}"
duration="${3:-10s}"
conns="${CONNS:-8}"
bin="$(realpath "$bin")"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v psql >/dev/null || export PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
LUA

as_admin() { psql "$server" -qAt -c "$1"; }
base="${server%/*}"

for n in 1 2 3; do
  db="flowdeck_tp_$$_$n"
  as_admin "DROP DATABASE IF EXISTS $db" >/dev/null
  as_admin "CREATE DATABASE $db" >/dev/null
  url="$base/$db"
  (cd "$work" && rm -rf b && "$bin" --db "$url" init b --example bench >/dev/null \
    && "$bin" --db "$url" import b >/dev/null && "$bin" --db "$url" deploy --all >/dev/null)
  pids=()
  for i in $(seq 1 "$n"); do
    (cd "$work" && exec "$bin" --db "$url" serve --bind "127.0.0.1:$((18180 + i))" >/dev/null 2>&1) &
    pids+=($!)
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 100); do
      (echo >/dev/tcp/127.0.0.1/$((18180 + i))) 2>/dev/null && break
      sleep 0.05
    done
  done
  before=$(psql "$url" -qAt -c "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
  start=$(date +%s.%N)
  outs=()
  for i in $(seq 1 "$n"); do
    wrk -t1 -c"$conns" -d"$duration" --latency -s "$work/post.lua" "http://127.0.0.1:$((18180 + i))/events/hit" >"$work/wrk-$i.txt" &
    outs+=($!)
  done
  wait "${outs[@]}"
  end=$(date +%s.%N)
  after=$(psql "$url" -qAt -c "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
  acked=$(cat "$work"/wrk-*.txt | awk '/Requests\/sec/ {s += $2} END {printf "%.0f", s}')
  p99=$(cat "$work"/wrk-*.txt | awk '/ 99%/ {print $2}' | paste -sd' ')
  runs=$(echo "($after - $before) / ($end - $start)" | bc -l)
  printf '%d server(s): %s events/s acknowledged, %.0f runs/s finished, p99 per server: %s\n' \
    "$n" "$acked" "$runs" "$p99"
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -f "$work"/wrk-*.txt
  as_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done
