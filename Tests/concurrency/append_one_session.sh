#!/usr/bin/env bash
# Many real connections appending to ONE session at once (pgbench):
#   1. 16 clients x 200 plain appends: every append is stored, seq is 1..N without gaps.
#   2. 8 clients appending with expected_turn_count read just before: conflicts (40001)
#      are expected; every append that succeeded is stored, and only those.
#   3. 16 clients x 200 appends whose request_id is one of 100, so that retries collide
#      across connections: exactly one turn per distinct request_id.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

CLIENTS=16
PER_CLIENT=200
OCC_CLIENTS=8
OCC_PER_CLIENT=100
TIME_LIMIT=300   # seconds, per pgbench run

run_id="$$_$(date +%s)"
plain="tap_conc_plain_$run_id"
occ="tap_conc_occ_$run_id"
rid="tap_conc_rid_$run_id"
work=$(mktemp -d)
passed=0
failed=0

cleanup() {
  echo "SELECT llm.end_session(s) FROM unnest(ARRAY[:'plain', :'occ', :'rid']) s" |
    llm_psql -qAt -v plain="$plain" -v occ="$occ" -v rid="$rid" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$LLM_ROOT/Tests/support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED

# qs SESSION SQL: runs SQL (read from stdin, so that psql substitutes :'sid') with sid set.
qs() { printf '%s\n' "$2" | llm_psql -qAt -v sid="$1"; }

# "number of transactions actually processed: 3200/3200" -> 3200
processed() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1"; }
failures() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1"; }
serialization_failures() { sed -n 's/^number of serialization failures: \([0-9]*\).*/\1/p' "$1"; }

bench() {   # bench NAME SCRIPT SESSION CLIENTS TRANSACTIONS
  local rc=0
  timeout "$TIME_LIMIT" pgbench -n -M extended --failures-detailed -c "$4" -j 2 -t "$5" -D sid="$3" -f "$2" "$LLM_CONNINFO" \
    >"$work/$1.out" 2>"$work/$1.err" || rc=$?
  check "$1: pgbench finished in time without aborted clients (exit $rc)" "$rc" 0
  [ "$rc" = 0 ] || sed 's/^/#   /' "$work/$1.err" | tail -5
}

# The invariant of a session, in one line: turn_count, count(turns), total_tokens = sum(tokens),
# seq exactly 1..N, history length.
invariant() {
  llm_psql -qAt -v sid="$1" <<'SQL'
SELECT s.turn_count = t.n AND s.total_tokens = t.tokens AND t.gapless AND
       jsonb_array_length(llm.get_session(:'sid')->'conversation_history') = t.n
FROM llm.sessions s,
     LATERAL (SELECT count(*) AS n, COALESCE(sum(tokens), 0) AS tokens,
                     COALESCE(bool_and(seq = rn), true) AND COALESCE(max(seq), 0) = count(*) AS gapless
              FROM (SELECT seq, tokens, row_number() OVER (ORDER BY seq) AS rn FROM llm.turns WHERE session_id = :'sid') x) t
WHERE s.session_id = :'sid'
SQL
}

for s in "$plain" "$occ" "$rid"; do
  qs "$s" "SELECT llm.create_session('tap concurrency', NULL, :'sid')" >/dev/null
done

# 1. Plain appends, each client's turns marked with its client_id.
cat >"$work/plain.sql" <<'SQL'
\set tok random(0, 1000)
SELECT llm.append_turn(:sid, 'question from client ' || :client_id, 'response', :tok);
SQL
bench plain "$work/plain.sql" "$plain" "$CLIENTS" "$PER_CLIENT"
total=$((CLIENTS * PER_CLIENT))
check "plain: pgbench processed all $total appends" "$(processed "$work/plain.out")" "$total"
check "plain: no append failed" "$(failures "$work/plain.out")" 0
check "plain: turn_count = $total" "$(qs "$plain" "SELECT turn_count FROM llm.sessions WHERE session_id = :'sid'")" "$total"
check "plain: $total turns stored, none lost" "$(qs "$plain" "SELECT count(*) FROM llm.turns WHERE session_id = :'sid'")" "$total"
check "plain: every client has its $PER_CLIENT turns" \
  "$(qs "$plain" "SELECT count(*) || ' clients, ' || min(n) || '..' || max(n) FROM (SELECT count(*) AS n FROM llm.turns WHERE session_id = :'sid' GROUP BY question) c")" \
  "$CLIENTS clients, $PER_CLIENT..$PER_CLIENT"
check "plain: seq is exactly 1..$total" \
  "$(qs "$plain" "SELECT min(seq) || '..' || max(seq) || ' distinct ' || count(DISTINCT seq) FROM llm.turns WHERE session_id = :'sid'")" \
  "1..$total distinct $total"
check "plain: turn_count = count(turns), total_tokens = sum(tokens), seq gapless, full history" "$(invariant "$plain")" t

# 2. Optimistic appends: read the count, append expecting it; 40001 when another client came first.
cat >"$work/occ.sql" <<'SQL'
\set tok random(0, 1000)
SELECT llm.append_turn(:sid, 'q', 'r', :tok, '{}', (llm.get_session(:sid, 0)->>'turn_count')::integer);
SQL
bench occ "$work/occ.sql" "$occ" "$OCC_CLIENTS" "$OCC_PER_CLIENT"
occ_total=$((OCC_CLIENTS * OCC_PER_CLIENT))
occ_ok=$(processed "$work/occ.out"); occ_ok=${occ_ok:-0}; occ_failed=$(failures "$work/occ.out")
check "occ: every attempt either appended or failed" "$((occ_ok + ${occ_failed:-0}))" "$occ_total"
check "occ: every failure is a turn-count conflict (40001, a serialization failure)" "$(serialization_failures "$work/occ.out")" "${occ_failed:-0}"
echo "# occ: $occ_ok appended, ${occ_failed:-0} conflicts"
check "occ: turn_count = the number of successful appends" "$(qs "$occ" "SELECT turn_count FROM llm.sessions WHERE session_id = :'sid'")" "$occ_ok"
check "occ: turn_count = count(turns), total_tokens = sum(tokens), seq gapless, full history" "$(invariant "$occ")" t

# 3. Colliding request ids: 100 distinct ids over 3200 appends from 16 connections.
cat >"$work/rid.sql" <<'SQL'
\set r random(1, 100)
SELECT llm.append_turn(:sid, 'q', 'r', 10, '{}', NULL, 'r' || :r);
SQL
bench rid "$work/rid.sql" "$rid" "$CLIENTS" "$PER_CLIENT"
check "rid: every call succeeded (stored or replayed)" "$(processed "$work/rid.out")" "$total"
check "rid: no call failed" "$(failures "$work/rid.out")" 0
# 3200 draws from 100 ids miss one with probability below 1e-11.
check "rid: exactly one turn per distinct request_id, all 100 of them" \
  "$(qs "$rid" "SELECT count(*) || ' turns, ' || count(DISTINCT request_id) || ' ids' FROM llm.turns WHERE session_id = :'sid'")" \
  "100 turns, 100 ids"
check "rid: no request_id is stored twice" \
  "$(qs "$rid" "SELECT count(*) FROM (SELECT request_id FROM llm.turns WHERE session_id = :'sid' GROUP BY request_id HAVING count(*) > 1) d")" 0
check "rid: total_tokens counts each stored turn once" "$(qs "$rid" "SELECT total_tokens FROM llm.sessions WHERE session_id = :'sid'")" 1000
check "rid: turn_count = count(turns), total_tokens = sum(tokens), seq gapless, full history" "$(invariant "$rid")" t

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
