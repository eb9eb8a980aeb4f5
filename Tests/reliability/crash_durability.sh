#!/usr/bin/env bash
# A server crash under load loses no acknowledged append and duplicates none on retry.
# On a scratch cluster of its own (never the main one), with fsync and synchronous_commit on:
#   1. 8 clients append with request_ids ('c3-17': client 3, its 17th append), one psql
#      per append, two clients per session; a request_id goes into the client's ack log
#      only after psql exited 0, i.e. after the server confirmed the commit.
#   2. After a second or two the server is killed with SIGKILL (the postmaster and every
#      process it started, at once: in-flight transactions die mid-way); the clients see
#      their calls fail; the server is restarted and recovers from its WAL.
#   3. Every acknowledged request_id is stored exactly once; nothing is stored that was
#      not sent; every session's counters equal its turns, seq gapless.
#   4. The clients retry every request they sent, acknowledged or not, with the same
#      request_id: nothing is duplicated, the acknowledged ones (and the unacknowledged
#      ones that had committed) answer "replayed": true with their original seq, the
#      others are stored now.
# The scratch cluster is removed at the end, also on failure.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
export LC_ALL=C   # sort and comm agree on one order
SCRATCH_PORT=${SCRATCH_PORT:-54391}
source "$(dirname "$0")/support/common.sh"

CLIENTS=8
SESSIONS=4
MAX_PER_CLIENT=2000      # appends per client, bound only: the kill comes long before
MIN_ACKS=40              # appends acknowledged before the kill, at least
LOAD_SECONDS=2           # of load before the kill, at least
DOWN_SECONDS=2           # the clients keep trying while the server is down
TIME_LIMIT=60            # seconds, for each wait below

work=$(mktemp -d)
pids=()
prefix="crash_"

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scratch_remove
  [ -n "${KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds; fails after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.1; done
}
wait_pids() {   # wait_pids SECONDS PID...: waits for every pid within SECONDS in all
  local limit=$1 p rc=0; shift
  for p in "$@"; do
    wait_for "$limit" bash -c "! kill -0 $p 2>/dev/null" || { kill "$p" 2>/dev/null; rc=1; }
    wait "$p" 2>/dev/null || true
  done
  return $rc
}

scratch_start
scratch "$LLM_ROOT/scripts/migrate.sh" -q
check "the scratch cluster is not the main one" "$(scratch_psql -c 'SHOW data_directory')" "$SCRATCH_STATE/data"
check "fsync, synchronous_commit and full_page_writes are on" \
  "$(scratch_psql -c "SELECT current_setting('fsync') || current_setting('synchronous_commit') || current_setting('full_page_writes')")" \
  "ononon"
scratch_psql -v prefix="$prefix" -c "SELECT count(llm.create_session('crash test', NULL, '$prefix' || i)) FROM generate_series(0, $((SESSIONS - 1))) i" >/dev/null

# append C I: one psql, one append; prints "replayed seq".
append() {
  scratch_psql -c "SELECT (r->>'replayed') || ' ' || (r->>'seq') FROM llm.append_turn('$prefix$(($1 % SESSIONS))',
    'question $1-$2', 'response $1-$2', $2, '{}', NULL, 'c$1-$2') r"
}

# client C: appends until told to stop; logs each request_id before sending it (sent)
# and, only once psql exited 0, with the server's answer (ack).
client() {
  local c=$1 i=0 out
  while [ "$i" -lt "$MAX_PER_CLIENT" ] && [ ! -e "$work/stop" ]; do
    i=$((i + 1))
    echo "c$c-$i" >>"$work/sent.$c"
    if out=$(append "$c" "$i" 2>>"$work/err.$c"); then
      echo "c$c-$i $out" >>"$work/ack.$c"
    else
      echo "c$c-$i" >>"$work/failed.$c"
      sleep 0.1
    fi
  done
}

acks() { cat "$work"/ack.* 2>/dev/null | wc -l; }
enough_load() { [ "$(acks)" -ge "$MIN_ACKS" ]; }

for c in $(seq 1 "$CLIENTS"); do client "$c" & pids+=($!); done
sleep "$LOAD_SECONDS"
wait_for "$TIME_LIMIT" enough_load || true

# A victim (client 0): its append to session 0 is done but not committed when the server
# dies, and the clients of session 0 queue behind its row lock, so the kill certainly
# cuts statements mid-way. It never commits: its request_id must not survive.
echo "c0-1" >"$work/sent.0"
printf "BEGIN;\nSELECT llm.append_turn('%s0', 'question 0-1', 'response 0-1', 1, '{}', NULL, 'c0-1') IS NOT NULL;\nSELECT pg_sleep(%s);\nCOMMIT;\n" \
  "$prefix" "$TIME_LIMIT" | PGAPPNAME=crash_victim scratch_psql >"$work/victim.out" 2>"$work/victim.err" & victim=$!
pids+=("$victim")
victim_waits() {
  [ "$(scratch_psql -c "SELECT count(*) FILTER (WHERE application_name = 'crash_victim' AND state = 'active' AND query LIKE '%pg_sleep%')
                                || ' ' || count(*) FILTER (WHERE wait_event_type = 'Lock' AND query LIKE '%append_turn%')
                         FROM pg_stat_activity")" = "1 2" ]
}
victim_rc=0
wait_for "$TIME_LIMIT" victim_waits || victim_rc=1
check "the victim holds its uncommitted append and both clients of its session wait for it" "$victim_rc" 0

# --- the crash ----------------------------------------------------------------------
postmaster=$(scratch_postmaster_pid)
children=$(pgrep -P "$postmaster" | tr '\n' ' ')
kill -9 "$postmaster" $children 2>/dev/null || true   # a child may have just exited
acks_at_kill=$(acks)
sleep "$DOWN_SECONDS"
touch "$work/stop"
clients_rc=0
wait_pids "$TIME_LIMIT" "${pids[@]}" || clients_rc=1
pids=()
check "the clients stopped within their bounds" "$clients_rc" 0
check "the victim's psql saw its append's result, then failed" \
  "$(cat "$work/victim.out") $(grep -c 'server closed the connection unexpectedly' "$work/victim.err" || true)" "t 1"
check "the postmaster and its processes are gone" \
  "$(for p in $postmaster $children; do kill -0 "$p" 2>/dev/null && echo "$p"; done)" ""
check "at least $MIN_ACKS appends were acknowledged before the kill" "$([ "$acks_at_kill" -ge "$MIN_ACKS" ] && echo yes)" yes
check "every client saw its calls fail while the server was down" \
  "$(for c in $(seq 1 "$CLIENTS"); do [ -s "$work/failed.$c" ] && echo "$c"; done | wc -l)" "$CLIENTS"
cut -d' ' -f1 "$work"/ack.* | sort >"$work/acked"
cat "$work"/sent.* | sort >"$work/sent"
echo "# $(wc -l <"$work/sent") appends sent, $(wc -l <"$work/acked") acknowledged"
check "the kill cut calls mid-way (at least the two waiting for the victim's lock)" \
  "$([ "$(cat "$work"/err.* | grep -c 'server closed the connection unexpectedly' || true)" -ge 2 ] && echo yes)" yes
check "the first answers never say replayed (each request was sent once)" \
  "$(cut -d' ' -f2 "$work"/ack.* | sort -u | tr '\n' ' ')" "false "

log_before=$(stat -c %s "$SCRATCH_STATE/server.log")
scratch_start
check "the restarted server recovered from a crash, not a clean shutdown" \
  "$(tail -c +"$((log_before + 1))" "$SCRATCH_STATE/server.log" | grep -c "not properly shut down" || true)" 1

# The request_ids stored per the server, one per line, "rid seq".
stored() { scratch_psql -v prefix="$prefix" <<'SQL' | sort
SELECT request_id || ' ' || seq FROM llm.turns WHERE starts_with(session_id, :'prefix')
SQL
}
stored >"$work/stored_after_crash"
cut -d' ' -f1 "$work/stored_after_crash" >"$work/stored_ids"
check "every acknowledged request_id is stored" "$(comm -23 "$work/acked" "$work/stored_ids" | head -5 | tr '\n' ' ')" ""
check "no request_id is stored twice" "$(uniq -d "$work/stored_ids" | head -5 | tr '\n' ' ')" ""
check "the victim's uncommitted append is not stored" "$(grep -c '^c0-1$' "$work/stored_ids" || true)" 0
check "nothing is stored that was not sent" "$(comm -13 "$work/sent" "$work/stored_ids" | head -5 | tr '\n' ' ')" ""
check "an acknowledged turn kept the seq it was acknowledged with" \
  "$(cat "$work"/ack.* | awk '{print $1, $3}' | sort | comm -23 - "$work/stored_after_crash" | head -5 | tr '\n' ' ')" ""
check "every session: turn_count = count(turns), total_tokens = sum(tokens), seq 1..N" \
  "$(echo "$INCONSISTENT_SESSIONS_SQL" | scratch_psql -v prefix="$prefix")" ""
in_doubt=$(comm -23 "$work/sent" "$work/acked" | comm -12 - "$work/stored_ids" | wc -l)
echo "# $in_doubt unacknowledged appends had committed before the kill (their answer was lost)"

# --- every request retried, with the same request_id ---------------------------------
retry() {   # retry C: the client's requests again, in order; prints "rid replayed seq"
  local c=$1 rid out
  while read -r rid; do
    if out=$(append "$c" "${rid#*-}" 2>>"$work/retry_err.$c"); then echo "$rid $out"; else echo "$rid failed"; fi
  done <"$work/sent.$c"
}
for c in $(seq 0 "$CLIENTS"); do retry "$c" >"$work/retry.$c" & pids+=($!); done
retry_rc=0
wait_pids "$TIME_LIMIT" "${pids[@]}" || retry_rc=1
pids=()
cat "$work"/retry.* | sort >"$work/retried"
check "the retries finished within their bound" "$retry_rc" 0
check "every retry succeeded" "$(grep -c ' failed$' "$work/retried" || true)" 0
check "every request was retried" "$(wc -l <"$work/retried")" "$(wc -l <"$work/sent")"
stored >"$work/stored_after_retry"
cut -d' ' -f1 "$work/stored_after_retry" >"$work/stored_ids_after_retry"
check "after the retries every request_id sent is stored exactly once" \
  "$(diff "$work/sent" "$work/stored_ids_after_retry" >/dev/null && echo same)" same
check "the retry of an acknowledged append says replayed, with its original seq" \
  "$(cat "$work"/ack.* | awk '{print $1, "true", $3}' | sort | comm -23 - "$work/retried" | head -5 | tr '\n' ' ')" ""
check "a retry says replayed exactly when the first attempt had committed" \
  "$(awk '{print $1, ($2 == "true")}' "$work/retried" | sort)" \
  "$(while read -r rid; do echo "$rid $(grep -qxF "$rid" "$work/stored_ids" && echo 1 || echo 0)"; done <"$work/sent" | sort)"
check "a replay answers with the seq stored" \
  "$(awk '$2 == "true" {print $1, $3}' "$work/retried" | comm -23 - "$work/stored_after_retry" | head -5 | tr '\n' ' ')" ""
check "every session: turn_count = count(turns), total_tokens = sum(tokens), seq 1..N" \
  "$(echo "$INCONSISTENT_SESSIONS_SQL" | scratch_psql -v prefix="$prefix")" ""
check "the sessions hold one turn per request sent" \
  "$(scratch_psql -v prefix="$prefix" -c "SELECT sum(turn_count) FROM llm.sessions WHERE starts_with(session_id, '$prefix')")" \
  "$(wc -l <"$work/sent")"

finish
