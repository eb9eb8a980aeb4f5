#!/usr/bin/env bash
# Appends under load while sessions are ended and cleaned up around them (the main server):
#   - hot:   16 pgbench clients x 500 appends on ONE session (-M prepared, bind variables);
#   - warm:  4 pgbench clients x 500 appends, each on a session of its own, at the same time;
#   - churn: two loops that create sessions, append to them, end some (llm.end_session)
#            and backdate the others, then run llm.cleanup_stale on them, one loop with
#            policy 'delete' and one with 'archive' (two cleanups at once, as when a
#            pg_cron run and a manual run overlap);
#   - racer: a loop appending to the sessions the churn is ending or cleaning up, so that
#            appends race end_session and cleanup_stale on the same rows.
# Then: seq is exactly 1..8000 on the hot session, every surviving session's counters equal
# its turns, no turn lost or failed on the hot and warm sessions, no deadlock anywhere
# (client outputs, server log), no turn without its session, nothing left of the ended
# and cleaned sessions but the archive, which matches what it archived.
# The hot sessions stay fresh; the churn backdates its own sessions by 300 years and cleans
# up only what is idle for over 250, so it cannot take anyone else's.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/support/common.sh"

HOT_CLIENTS=16
HOT_PER_CLIENT=500
WARM_CLIENTS=4
WARM_PER_CLIENT=500
CHURN_MIN_ROUNDS=10     # per churn loop, even when the appends are done sooner
CHURN_MAX_ROUNDS=400    # per churn loop
RACER_MAX_ROUNDS=2000
TIME_LIMIT=240          # seconds, for each pgbench and for the loops

run="rel_conc_$$_$(date +%s)_"   # every session of this run starts with it
hot="${run}hot"
work=$(mktemp -d)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  llm_psql -qAt -v prefix="$run" >/dev/null 2>&1 <<'SQL' || true
SELECT count(llm.end_session(session_id)) FROM llm.sessions WHERE starts_with(session_id, :'prefix');
DELETE FROM llm.archived_sessions WHERE starts_with(session_id, :'prefix');
SQL
  rm -rf "$work"
}
trap cleanup EXIT

q() { llm_psql -qAt -v prefix="$run" -v hot="$hot"; }   # SQL on stdin

# The server log of the local cluster, read from here on. scripts/test-reliability.sh hands
# the local cluster on through the PG* variables (so lib.sh says "external" here): its log is
# then beside its socket folder, as scripts/db.sh lays it out, and names that socket.
server_log=""
if [ "$LLM_DB_MODE" = local ]; then
  candidate=$LLM_STATE/server.log
else
  candidate="$(dirname "${PGHOST:-/nonexistent}")/server.log"
fi
if [ -r "$candidate" ] && grep -qF "${PGHOST:-${LLM_SOCKET:-}}/.s.PGSQL.${PGPORT:-$LLM_PGPORT}" "$candidate"; then
  server_log=$candidate
  log_offset=$(stat -c %s "$server_log")
fi

q <<'SQL' >/dev/null
SELECT llm.create_session('rel hot', NULL, :'hot');
SELECT llm.create_session('rel warm', NULL, :'prefix' || 'warm_' || i) FROM generate_series(0, 3) i;
SQL

# --- the load ----------------------------------------------------------------------
cat >"$work/hot.sql" <<'SQL'
\set tok random(0, 1000)
SELECT llm.append_turn(:sid, 'question from client ' || :client_id, 'response', :tok);
SQL
cat >"$work/warm.sql" <<'SQL'
\set tok random(0, 1000)
SELECT llm.append_turn(:prefix || 'warm_' || :client_id, 'question', 'response', :tok);
SQL

# churn LOOP POLICY: one psql per round; every statement its own transaction, errors reported, not fatal.
churn() {
  local loop=$1 policy=$2 r=0
  while [ "$r" -lt "$CHURN_MAX_ROUNDS" ]; do
    [ -e "$work/stop" ] && [ "$r" -ge "$CHURN_MIN_ROUNDS" ] && break
    r=$((r + 1))
    local doom="${run}doom_${loop}_$r" stale="${run}stale_${loop}_$r"
    echo "$doom $stale" >"$work/churn_$loop.current"
    psql -X -qAt -d "$LLM_CONNINFO" -v doom="$doom" -v stale="$stale" -v policy="$policy" <<'SQL'
SELECT 'created ' || (llm.create_session('rel churn', NULL, :'doom') IS NOT NULL);
SELECT 'created ' || (llm.create_session('rel churn', NULL, :'stale') IS NOT NULL);
SELECT count(llm.append_turn(:'doom', 'q', 'r', 1)) FROM generate_series(1, 3);
SELECT count(llm.append_turn(:'stale', 'q', 'r', 1)) FROM generate_series(1, 3);
UPDATE llm.sessions SET created_at = now() - interval '300 years', last_query_at = now() - interval '300 years'
WHERE session_id = :'stale';
SELECT 'ended ' || llm.end_session(:'doom');
SELECT 'cleaned ' || llm.cleanup_stale(interval '250 years', 2, :'policy');
SQL
  done
  echo "rounds $r"
}

# racer: appends to whatever the churn loops are working on; "does not exist" is expected.
racer() {
  local r=0 targets
  while [ "$r" -lt "$RACER_MAX_ROUNDS" ] && [ ! -e "$work/stop" ]; do
    r=$((r + 1))
    targets=$(cat "$work"/churn_*.current 2>/dev/null || true)
    [ -n "$targets" ] || { sleep 0.05; continue; }
    for t in $targets $targets; do
      printf "SELECT 'appended ' || (llm.append_turn('%s', 'racer', 'r', 2) ->> 'seq');\n" "$t"
    done | psql -X -qAt -d "$LLM_CONNINFO"
  done
  echo "rounds $r"
}

churn 1 delete >"$work/churn_1.out" 2>"$work/churn_1.err" & pids+=($!); churn1=$!
churn 2 archive >"$work/churn_2.out" 2>"$work/churn_2.err" & pids+=($!); churn2=$!
racer >"$work/racer.out" 2>"$work/racer.err" & pids+=($!); racer_pid=$!

hot_rc=0; warm_rc=0
timeout "$TIME_LIMIT" pgbench -n -M prepared -c "$HOT_CLIENTS" -j 2 -t "$HOT_PER_CLIENT" -D sid="$hot" \
  -f "$work/hot.sql" "$LLM_CONNINFO" >"$work/hot.out" 2>"$work/hot.err" & hot_pid=$!
timeout "$TIME_LIMIT" pgbench -n -M prepared -c "$WARM_CLIENTS" -j 1 -t "$WARM_PER_CLIENT" -D prefix="$run" \
  -f "$work/warm.sql" "$LLM_CONNINFO" >"$work/warm.out" 2>"$work/warm.err" & warm_pid=$!
wait "$hot_pid" || hot_rc=$?
wait "$warm_pid" || warm_rc=$?
touch "$work/stop"
loops_rc=0
for p in "$churn1" "$churn2" "$racer_pid"; do
  # The loops are bounded by their round counts; this bounds them in time too.
  for _ in $(seq 1 "$TIME_LIMIT"); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
  kill -0 "$p" 2>/dev/null && { kill "$p"; loops_rc=1; }
  wait "$p" || loops_rc=1
done
pids=()

total=$((HOT_CLIENTS * HOT_PER_CLIENT))
warm_total=$((WARM_CLIENTS * WARM_PER_CLIENT))
check "hot: pgbench finished in time without aborted clients (exit $hot_rc)" "$hot_rc" 0
[ "$hot_rc" = 0 ] || sed 's/^/#   /' "$work/hot.err" | tail -5
check "hot: pgbench processed all $total appends" "$(pgbench_processed "$work/hot.out")" "$total"
check "hot: no append failed" "$(pgbench_failed "$work/hot.out")" 0
check "warm: pgbench finished in time without aborted clients (exit $warm_rc)" "$warm_rc" 0
[ "$warm_rc" = 0 ] || sed 's/^/#   /' "$work/warm.err" | tail -5
check "warm: pgbench processed all $warm_total appends" "$(pgbench_processed "$work/warm.out")" "$warm_total"
check "churn and racer loops ended within their bounds" "$loops_rc" 0
echo "# churn 1 (delete): $(tail -1 "$work/churn_1.out"), churn 2 (archive): $(tail -1 "$work/churn_2.out"), racer: $(tail -1 "$work/racer.out")"
echo "# hot: $(grep -h '^tps' "$work/hot.out" | head -1)"

# --- the hot session ---------------------------------------------------------------
check "hot: seq is exactly 1..$total, gapless" \
  "$(echo "SELECT min(seq) || '..' || max(seq) || ' distinct ' || count(DISTINCT seq) || ' rows ' || count(*) FROM llm.turns WHERE session_id = :'hot'" | q)" \
  "1..$total distinct $total rows $total"
check "hot: turn_count = $total" "$(echo "SELECT turn_count FROM llm.sessions WHERE session_id = :'hot'" | q)" "$total"
check "hot: every client has its $HOT_PER_CLIENT turns" \
  "$(echo "SELECT count(*) || ' clients, ' || min(n) || '..' || max(n) FROM (SELECT count(*) AS n FROM llm.turns WHERE session_id = :'hot' GROUP BY question) c" | q)" \
  "$HOT_CLIENTS clients, $HOT_PER_CLIENT..$HOT_PER_CLIENT"
check "warm: each of the $WARM_CLIENTS sessions has its $WARM_PER_CLIENT turns" \
  "$(echo "SELECT string_agg(turn_count::text, ' ' ORDER BY session_id) FROM llm.sessions WHERE starts_with(session_id, :'prefix' || 'warm_')" | q)" \
  "$(printf "$WARM_PER_CLIENT %.0s" $(seq 1 "$WARM_CLIENTS") | sed 's/ $//')"

# --- every session of the run --------------------------------------------------------
check "every surviving session: turn_count = count(turns), total_tokens = sum(tokens), seq 1..N" \
  "$(echo "$INCONSISTENT_SESSIONS_SQL" | q)" ""
check "no turn without its session, in the whole database" \
  "$(echo "SELECT count(*) FROM llm.turns t WHERE NOT EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = t.session_id)" | q)" 0
check "the ended sessions are gone, with every turn" \
  "$(echo "SELECT (SELECT count(*) FROM llm.sessions WHERE starts_with(session_id, :'prefix' || 'doom_')) || ' sessions, '
              || (SELECT count(*) FROM llm.turns WHERE starts_with(session_id, :'prefix' || 'doom_')) || ' turns'" | q)" \
  "0 sessions, 0 turns"
sum_lines() { cat "$@" | awk '{ s += $NF } END { print s + 0 }'; }
check "end_session found its session every time" \
  "$(grep -h -c '^ended ' "$work/churn_1.out" "$work/churn_2.out" | sum_lines)" \
  "$(grep -h -c '^ended true$' "$work/churn_1.out" "$work/churn_2.out" | sum_lines)"
rounds1=$(sed -n 's/^rounds //p' "$work/churn_1.out"); rounds2=$(sed -n 's/^rounds //p' "$work/churn_2.out")
echo "# churn: $((${rounds1:-0} + ${rounds2:-0})) sessions ended, $((${rounds1:-0} + ${rounds2:-0})) backdated;" \
  "cleanup_stale removed $(grep -h '^cleaned ' "$work/churn_1.out" "$work/churn_2.out" | sum_lines) sessions"
check "cleanup_stale removed stale sessions of both loops while the load ran" \
  "$(echo "SELECT count(DISTINCT l) FROM (VALUES (1, ${rounds1:-0}), (2, ${rounds2:-0})) v(l, rounds), generate_series(1, rounds) r
           WHERE NOT EXISTS (SELECT FROM llm.sessions WHERE session_id = :'prefix' || 'stale_' || l || '_' || r)" | q)" 2
check "the cleaned sessions have no turns left (outside the archive)" \
  "$(echo "SELECT count(*) FROM llm.turns t WHERE starts_with(t.session_id, :'prefix' || 'stale_')
           AND NOT EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = t.session_id)" | q)" 0
check "every archived session holds exactly its turn_count turns, seq 1..N" \
  "$(echo "SELECT count(*) FROM llm.archived_sessions a
           CROSS JOIN LATERAL (SELECT count(*) AS n, COALESCE(max(seq), 0) AS hi FROM llm.archived_turns t WHERE t.session_id = a.session_id) t
           WHERE starts_with(a.session_id, :'prefix') AND NOT (a.turn_count = t.n AND t.hi = t.n)" | q)" 0
check "no session is both live and archived" \
  "$(echo "SELECT count(*) FROM llm.archived_sessions a JOIN llm.sessions s USING (session_id) WHERE starts_with(a.session_id, :'prefix')" | q)" 0
check "the hot and warm sessions were not cleaned up" \
  "$(echo "SELECT count(*) FROM llm.sessions WHERE session_id = :'hot' OR starts_with(session_id, :'prefix' || 'warm_')" | q)" 5

# --- errors -------------------------------------------------------------------------
check "the churn loops reported no error" "$(cat "$work/churn_1.err" "$work/churn_2.err")" ""
check "the racer's only errors are appends to sessions already gone (P0002)" \
  "$(grep '^psql:.*ERROR' "$work/racer.err" | grep -v -c 'ERROR:  session .* does not exist' || true)" 0
echo "# racer: $(grep -c '^appended ' "$work/racer.out" || true) appends stored, $(grep -c 'does not exist' "$work/racer.err" || true) refused"
check "no deadlock reported to any client" \
  "$(cat "$work"/*.out "$work"/*.err | grep -c -i 'deadlock detected' || true)" 0
if [ -n "$server_log" ]; then
  check "no deadlock in the server log" \
    "$(tail -c +"$((log_offset + 1))" "$server_log" | grep -c -i 'deadlock detected' || true)" 0
else
  echo "# the server's log is not readable here (an external server): the deadlock check covers the clients only"
fi

finish
