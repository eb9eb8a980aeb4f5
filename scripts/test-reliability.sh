#!/usr/bin/env bash
# make test-reliability: runs every Tests/reliability/*.sh in order. Each script is
# bounded in time and requests, talks only to servers on this machine (unix
# sockets), ends with a line "N passed, M failed", and exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LLM_ROOT"
status=0
for t in Tests/reliability/*.sh; do
  [ -e "$t" ] || continue
  echo "==> $t" >&2
  bash "$t" || status=1
done
exit $status
