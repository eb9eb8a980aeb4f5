#!/usr/bin/env bash
# Clients that die or lose their server:
#   a. A psql killed (SIGKILL) in the middle of a transaction that has appended a turn
#      leaves no partial turn, the counters unchanged, and the session unlocked: the next
#      append succeeds within a 2 s lock_timeout. Three moments of death (main server):
#        - idle in the transaction (between two statements): the server sees the socket
#          close at once;
#        - during a long statement (pg_sleep(30)), with client_connection_check_interval
#          set: the server checks the socket while the statement runs, and aborts it;
#        - during a short statement (pg_sleep(3)) without it (PostgreSQL's default, 0): the
#          server notices only when the statement ends, so the row lock outlives the client
#          until then; what the check pins down is that it is released then, with nothing stored.
#   b. A Swift SessionStore whose connections are cut by a server restart reconnects and goes
#      on (a scratch cluster of its own, restarted with scripts/db.sh stop/start): see
#      Tests/LLMSessionsTests/ReliabilityTests.swift, run here with `swift test --filter`.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
SCRATCH_PORT=${SCRATCH_PORT:-54392}
source "$(dirname "$0")/support/common.sh"
cd "$LLM_ROOT"

TIME_LIMIT=60          # seconds, for each wait below
SWIFT_TIME_LIMIT=900   # seconds, for swift test (it may have to build the test target)

run="rel_faults_$$_$(date +%s)_"
work=$(mktemp -d)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "SELECT count(llm.end_session(session_id)) FROM llm.sessions WHERE starts_with(session_id, :'prefix')" |
    llm_psql -qAt -v prefix="$run" >/dev/null 2>&1 || true
  scratch_remove
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {   # wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.1; done
}
q() { llm_psql -qAt "$@"; }   # SQL on stdin or -c

# backend_state APP: "state wait_event has_xid" of the backend whose application_name is APP.
backend_state() {
  q -v app="$1" <<'SQL'
SELECT state || ' ' || COALESCE(wait_event, '-') || ' ' || (backend_xid IS NOT NULL)
FROM pg_stat_activity WHERE application_name = :'app'
SQL
}
backend_is() { [ "$(backend_state "$1")" = "$2" ]; }
backend_gone() { [ -z "$(backend_state "$1")" ]; }
counters() { echo "SELECT turn_count || ' ' || total_tokens FROM llm.sessions WHERE session_id = :'sid'" | q -v sid="$1"; }

# killed_mid_transaction NAME SETUP_SQL STATEMENT_SQL STATE: a psql appends the turn 'killed'
# in a transaction, then runs STATEMENT_SQL (nothing: it waits for its next command); once
# its backend is in STATE ("state wait_event has_xid") the psql is killed with SIGKILL.
killed_mid_transaction() {
  local name=$1 setup=$2 statement=$3 state=$4 sid="${run}$1" app="rel-faults-$1-$$"
  q -v sid="$sid" -c "SELECT llm.create_session('rel faults', NULL, '$sid')" >/dev/null
  q -c "SELECT llm.append_turn('$sid', 'before', 'r', 5)" >/dev/null
  local before; before=$(counters "$sid")
  # The psql reads its commands from a FIFO that this shell keeps open, so after the
  # last one it waits for more, its transaction still open.
  rm -f "$work/fifo"; mkfifo "$work/fifo"
  PGAPPNAME=$app psql -X -qAt -d "$LLM_CONNINFO" <"$work/fifo" >"$work/$name.out" 2>&1 & local victim=$!
  pids+=("$victim")
  exec 3>"$work/fifo"
  printf "%s\nBEGIN;\nSELECT llm.append_turn('%s', 'killed', 'r', 100) IS NOT NULL;\n%s\n" "$setup" "$sid" "$statement" >&3
  local reached=0
  wait_for "$TIME_LIMIT" backend_is "$app" "$state" || reached=1
  check "$name: the transaction has appended and is $state" "$reached" 0
  kill -9 "$victim"; wait "$victim" 2>/dev/null || true
  exec 3>&-
  local t0=$SECONDS gone=0
  wait_for "$TIME_LIMIT" backend_gone "$app" || gone=1
  check "$name: the server ended the dead client's backend" "$gone" 0
  echo "# $name: its backend ended $((SECONDS - t0)) s after the kill"
  check "$name: no partial turn is stored" "$(q -c "SELECT count(*) FROM llm.turns WHERE session_id = '$sid' AND question = 'killed'")" 0
  check "$name: the counters are unchanged" "$(counters "$sid")" "$before"
  check "$name: the session is not left locked: the next append succeeds within a 2 s lock_timeout" \
    "$(q -c "SET lock_timeout = '2s'" -c "SELECT llm.append_turn('$sid', 'after', 'r', 1)->>'seq'" 2>&1)" 2
  check "$name: turn_count = count(turns), total_tokens = sum(tokens), seq 1..N" \
    "$(echo "$INCONSISTENT_SESSIONS_SQL" | q -v prefix="$sid")" ""
}

# --- a. a client killed mid-transaction (main server) ---------------------------------
killed_mid_transaction idle "" "" "idle in transaction ClientRead true"
killed_mid_transaction busy_checked "SET client_connection_check_interval = '200ms';" \
  "SELECT pg_sleep(30);" "active PgSleep true"
# Without client_connection_check_interval: while the statement runs the lock is held.
killed_mid_transaction_default() {
  local sid="${run}busy_default" app="rel-faults-busy_default-$$"
  q -c "SELECT llm.create_session('rel faults', NULL, '$sid')" >/dev/null
  PGAPPNAME=$app psql -X -qAt -d "$LLM_CONNINFO" -c "SET client_connection_check_interval = 0" \
    -c "BEGIN" -c "SELECT llm.append_turn('$sid', 'killed', 'r', 100) IS NOT NULL" -c "SELECT pg_sleep(3)" \
    >"$work/busy_default.out" 2>&1 & local victim=$!
  pids+=("$victim")
  local reached=0
  wait_for "$TIME_LIMIT" backend_is "$app" "active PgSleep true" || reached=1
  check "busy_default: the transaction has appended and is sleeping" "$reached" 0
  kill -9 "$victim"; wait "$victim" 2>/dev/null || true
  check "busy_default: until the statement ends the dead client's row lock blocks appends (55P03)" \
    "$(q -c "SET lock_timeout = '500ms'" -c "SELECT llm.append_turn('$sid', 'blocked', 'r', 1)" 2>&1 | grep -c 'lock timeout' || true)" 1
  local gone=0
  wait_for "$TIME_LIMIT" backend_gone "$app" || gone=1
  check "busy_default: the backend ends when its statement does" "$gone" 0
  check "busy_default: then the lock is free, and nothing was stored" \
    "$(q -c "SET lock_timeout = '2s'" -c "SELECT llm.append_turn('$sid', 'after', 'r', 1)->>'seq'" 2>&1)" 1
}
killed_mid_transaction_default

# --- b. a Swift SessionStore across a server restart (scratch cluster) -----------------
scratch_start
scratch "$LLM_ROOT/scripts/migrate.sh" -q
{
  echo '#!/bin/sh'
  echo 'set -e'
  for step in stop start; do
    printf 'env -u DATABASE_URL -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGSERVICE LLM_STATE_DIR=%q LLM_PGPORT=%q %q %s\n' \
      "$SCRATCH_STATE" "$SCRATCH_PORT" "$LLM_ROOT/scripts/db.sh" "$step"
  done
} >"$work/restart.sh"
chmod +x "$work/restart.sh"
swift_rc=0
# shellcheck disable=SC2086   # SWIFT_BUILD_FLAGS is a list of flags, as in the Makefile
LLM_RELIABILITY_CONNINFO=$SCRATCH_CONNINFO LLM_RELIABILITY_RESTART=$work/restart.sh \
  timeout "$SWIFT_TIME_LIMIT" swift test ${SWIFT_BUILD_FLAGS:-} --filter ReliabilityTests >"$work/swift.out" 2>&1 || swift_rc=$?
check "swift: ReliabilityTests passed (exit $swift_rc)" "$swift_rc" 0
[ "$swift_rc" = 0 ] || grep -E 'recorded an issue|error:|failed' "$work/swift.out" | head -20 | sed 's/^/#   /'
check "swift: the test ran (not skipped) and reported" "$(grep -c '^reliability: ' "$work/swift.out" || true)" 1
grep '^reliability: ' "$work/swift.out" | sed 's/^/# /' || true
check "swift: the scratch server went through a restart" \
  "$(grep -c 'received fast shutdown request' "$SCRATCH_STATE/server.log" || true)" 1

finish
