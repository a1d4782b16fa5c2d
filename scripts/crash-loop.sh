#!/usr/bin/env bash
# The crash loop, long: `flowdeck serve` and `flowdeck emit --queue` killed with SIGKILL at
# random moments under load, restarted, and the record checked (tests/crash_loop.rs).
#   scripts/crash-loop.sh [KILLS=200] [SEED=7]
set -euo pipefail
cd "$(dirname "$0")/.."
export FLOWDECK_CRASH_KILLS="${1:-200}"
export FLOWDECK_CRASH_SEED="${2:-7}"
exec cargo test --release --test crash_loop -- --nocapture
