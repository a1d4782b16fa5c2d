#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for SECONDS each (default 600), one after the other:
#
#   scripts/fuzz.sh [SECONDS]
#
# Needs the nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). Each target starts from its corpus in fuzz/corpus/TARGET,
# seeded here from the example project (assets/example) and a few hand-written inputs; the
# corpora grow as the fuzzers find new paths and are not committed. A crash leaves its
# input in fuzz/artifacts/TARGET/ (replay it with `cargo +nightly fuzz run TARGET FILE`),
# and the full output of each run is in fuzz/logs/TARGET.log.
#
# Prints, per target, how long it ran and how many inputs it executed; exits 1 when any
# target crashed (or failed to build), 0 otherwise. FUZZ_TARGETS="dap ingest" runs only
# those.
set -uo pipefail

seconds=${1:-600}
case $seconds in
'' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS]" >&2
    exit 2
    ;;
esac
targets=${FUZZ_TARGETS:-definition template ingest dap}
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz=$root/fuzz
example=$root/assets/example

# put a seed in a target's corpus: seed TARGET NAME (the input on stdin)
seed() {
    mkdir -p "$fuzz/corpus/$1"
    cat >"$fuzz/corpus/$1/seed-$2"
}

# a DAP message framed with its Content-Length, the body on stdin
frame() {
    local body
    body=$(cat)
    printf 'Content-Length: %d\r\n\r\n%s' "$(printf '%s' "$body" | wc -c)" "$body"
}

seed_corpora() {
    local f name on
    # definition: a byte for the folder's kind (0 none, 1 workflows, 2 endpoints), then the file
    for f in "$example"/workflows/*.json; do
        name=$(basename "$f" .json)
        { printf '\001'; cat "$f"; } | seed definition "workflow-$name"
        { printf '\000'; cat "$f"; } | seed definition "any-$name"
    done
    for f in "$example"/endpoints/*.json; do
        { printf '\002'; cat "$f"; } | seed definition "endpoint-$(basename "$f" .json)"
    done
    printf '\001{"name": "w", "on": "e", "steps": [{"id": "a", "action": "lgo"}]}' | seed definition bad-action
    printf '\001{"name": "w", "on": "e", "on": "f", "steps": []}' | seed definition duplicate-key

    # template: a byte for the scope (bits 0-1) and for JSON mode (bit 2), then the text
    local i=0
    grep -oh '"[^"]*{{[^"]*}}[^"]*"' "$example"/workflows/*.json | sort -u | while IFS= read -r t; do
        i=$((i + 1))
        { printf '\000'; printf '%s' "${t:1:${#t}-2}"; } | seed template "workflow-$i"
    done
    grep -oh '"[^"]*{{[^"]*}}[^"]*"' "$example"/endpoints/*.json | sort -u | while IFS= read -r t; do
        i=$((i + 1))
        { printf '\001'; printf '%s' "${t:1:${#t}-2}"; } | seed template "endpoint-$i"
    done
    printf '\004{"sku": "{{$param.sku}}", "qty": 100, "tags": ["a", "{{ $var.rows | length }}"]}' | seed template json
    printf '\002{{ $error.message + "!" }}: {{ "}}" }}' | seed template catch
    printf '\003{{ [.[]?, $env, $event] | tojson | @base64 | length }}' | seed template all
    printf '\000{{ def f: 1 + f; f }}' | seed template deep
    printf '\000{{ reduce range(0; 1e9) as $i (0; . + $i) }}' | seed template long

    # ingest: the path, header lines, an empty line, the body
    for f in "$example"/workflows/*.json; do
        on=$(grep -o '"on": *"[^"]*"' "$f" | head -1 | sed 's/.*: *"\(.*\)"/\1/')
        [ -n "$on" ] || continue
        printf '/events/%s\n\n{"sku": 1, "qty": 60}' "$on" | seed ingest "plain-$on"
        printf '/events\ncontent-type: application/cloudevents+json\n\n{"specversion": "1.0", "id": "1", "source": "/shop", "type": "%s", "data": {"sku": 1}}' "$on" |
            seed ingest "structured-$on"
        printf '/events\nce-specversion: 1.0\nce-id: 2\nce-source: /shop\nce-type: %s\ncontent-type: application/json\n\n{"sku": 2}' "$on" |
            seed ingest "binary-$on"
    done
    printf '/events\ncontent-type: application/cloudevents-batch+json\n\n[]' | seed ingest batch

    # dap: framed messages, one after the other
    {
        printf '%s' '{"seq": 1, "type": "request", "command": "initialize", "arguments": {"adapterID": "flowdeck"}}' | frame
        printf '%s' '{"seq": 2, "type": "request", "command": "launch", "arguments": {"program": "workflows/reorder_supply.json"}}' | frame
    } | seed dap session
    for f in "$example"/workflows/*.json; do
        frame <"$f" | seed dap "body-$(basename "$f" .json)"
    done
    printf 'Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}' | seed dap headers
}

cd "$fuzz" || exit 1
mkdir -p logs
seed_corpora
echo "building the fuzz targets (cargo +nightly fuzz build)"
if ! cargo +nightly fuzz build >logs/build.log 2>&1; then
    tail -n 40 logs/build.log
    echo "the fuzz targets did not build (fuzz/logs/build.log)" >&2
    exit 1
fi

status=0
summary=()
for target in $targets; do
    log=logs/$target.log
    echo "fuzzing $target for ${seconds}s (log: fuzz/$log)"
    started=$(date +%s)
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - started))
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs="?"
    if [ "$rc" -eq 0 ]; then
        verdict="ok"
    else
        verdict="CRASH (exit $rc)"
        status=1
        echo "---- $target crashed; the end of fuzz/$log:"
        tail -n 40 "$log"
        ls -1 "artifacts/$target" 2>/dev/null | sed "s|^|  artifact: fuzz/artifacts/$target/|"
    fi
    line=$(printf '%-12s ran %5ss  %12s executions  %s' "$target" "$took" "$execs" "$verdict")
    echo "$line"
    summary+=("$line")
done

echo
echo "summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
exit $status
