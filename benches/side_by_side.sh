#!/usr/bin/env bash
# Compare two flowdeck builds side by side: both run `bench hit` at the same time, each on a
# fresh bench store, on the same cores, so that a shared host's slow and fast minutes hit both
# alike. Prints each pair (the order swapped every other pair) and the mean ratio B / A.
#
#   benches/side_by_side.sh OLD_BINARY NEW_BINARY [PAIRS] [EVENTS]
#
# A build against itself gives 0.93–1.02 on the 2-core machine of the README.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OLD_BINARY NEW_BINARY [PAIRS (4)] [EVENTS (30000)]" >&2
    exit 2
fi
a=$(realpath "$1")
b=$(realpath "$2")
pairs=${3:-4}
events=${4:-30000}
for bin in "$a" "$b"; do
    [[ -x $bin ]] || { echo "$bin: not an executable" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# a fresh bench store for $1 in $2
store() {
    (cd "$2" && "$1" init bp --example bench >/dev/null && "$1" import bp >/dev/null &&
        "$1" deploy --all >/dev/null)
}

ratios=()
for ((i = 0; i < pairs * 2; i++)); do
    first=$a second=$b
    if ((i % 2 == 1)); then first=$b second=$a; fi
    d1=$(mktemp -d -p "$work") d2=$(mktemp -d -p "$work")
    store "$first" "$d1"
    store "$second" "$d2"
    (cd "$d1" && "$first" bench hit --events "$events" --params '{"n": 1}' --json >out.json) &
    (cd "$d2" && "$second" bench hit --events "$events" --params '{"n": 1}' --json >out.json) &
    wait
    r=$(python3 - "$d1/out.json" "$d2/out.json" "$first" "$b" <<'EOF'
import json, sys
first = json.load(open(sys.argv[1]))["events_per_s"]
second = json.load(open(sys.argv[2]))["events_per_s"]
new, old = (first, second) if sys.argv[3] == sys.argv[4] else (second, first)
print(f"{new / old:.3f} {old:.0f} {new:.0f}")
EOF
)
    rm -rf "$d1" "$d2"
    read -r ratio old new <<<"$r"
    echo "pair $((i + 1)): old $old events/s, new $new events/s, new/old $ratio"
    ratios+=("$ratio")
done
python3 -c "import sys; r=[float(x) for x in sys.argv[1:]]; print(f'mean new/old {sum(r)/len(r):.3f} over {len(r)} pairs ({min(r):.3f}–{max(r):.3f})')" "${ratios[@]}"
