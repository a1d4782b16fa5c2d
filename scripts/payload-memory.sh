#!/usr/bin/env bash
# Peak memory of `flowdeck emit` with large params: a 1 MB string and 1 MB of small objects
# (the default limit), a 50 MB string and 17 MB of small objects, each recorded with --queue
# (stored only) and run by a listener (a jq expression over $param, a plain lookup, a
# db.exec). Prints max RSS per case (GNU time), in KB.
#
#   scripts/payload-memory.sh [FLOWDECK_BINARY]
#
# Needs python3 (to write the payloads) and /usr/bin/time.
set -euo pipefail
bin=${1:-target/release/flowdeck}
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/p/workflows"
cat >"$work/p/flowdeck.toml" <<'TOML'
name = "payloads"
[engine]
max_params_bytes = 200000000
TOML
echo "CREATE TABLE seen (id TEXT, size INTEGER);" >"$work/p/schema.sql"
cat >"$work/p/workflows/big.json" <<'JSON'
{"name": "big", "on": "big", "steps": [
  {"id": "size", "action": "set", "var": "size", "value": "{{ $param | tostring | length }}"},
  {"id": "id", "action": "set", "var": "id", "value": "{{$param.id}}"},
  {"id": "note", "action": "db.exec", "sql": "INSERT INTO seen VALUES (?, ?)", "args": ["{{$var.id}}", "{{$var.size}}"]}
]}
JSON
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
json.dump({"id": "string", "pad": "x" * 50_000_000}, open(f"{w}/string.json", "w"))
items = [{"sku": i, "qty": i % 7, "name": f"item {i}"} for i in range(350_000)]
json.dump({"id": "objects", "items": items}, open(f"{w}/objects.json", "w"))
json.dump({"id": "small", "n": 1}, open(f"{w}/small.json", "w"))
# at the default limit (1 MiB)
json.dump({"id": "string1m", "pad": "x" * 1_000_000}, open(f"{w}/string1m.json", "w"))
items = [{"sku": i, "qty": i % 7, "name": f"item {i}"} for i in range(20_000)]
json.dump({"id": "objects1m", "items": items}, open(f"{w}/objects1m.json", "w"))
PY
cd "$work"
"$bin" --db s.db import p >/dev/null
"$bin" --db s.db deploy --all >/dev/null
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
printf '%-10s %10s %12s %14s\n' payload bytes "queue (KB)" "with run (KB)"
for p in small string1m objects1m string objects; do
    size=$(stat -c %s "$p.json")
    q=$(rss "$bin" --db s.db emit big --queue --params "@$p.json")
    r=$(rss "$bin" --db s.db emit big --params "@$p.json")
    printf '%-10s %10s %12s %14s\n' "$p" "$size" "$q" "$r"
done
