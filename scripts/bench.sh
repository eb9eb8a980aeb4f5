#!/usr/bin/env bash
# make bench: builds the Swift benchmark client in release mode and runs scripts/bench.py,
# which prints the report and writes it to .bench/report.md (about 5-10 minutes).
# A smoke run (about a minute): scripts/bench.sh --quick, or BENCH_QUICK=1 make bench.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LLM_ROOT"
if grep -q 'llm-sessions-bench' Package.swift; then
  swift build -c release --product llm-sessions-bench >&2
fi
exec python3 scripts/bench.py "$@"
