#!/usr/bin/env bash
# CALL llm.run_cleanup, the cleanup that commits after every batch (a pgTAP test runs in one
# transaction, in which a procedure cannot COMMIT: hence a shell test):
#   1. refusals change nothing: inside BEGIN it fails with 2D000 (invalid transaction
#      termination) at its first COMMIT, and the batch rolls back with the transaction; a
#      busy_share of 0, 0.005, -1, 1.5, NaN or NULL, a max_idle of 0, an unknown policy and
#      a batch_size of 0 fail with 22023, inside BEGIN too;
#   2. policy 'archive': 237 stale sessions in batches of at most 20 are all archived with
#      their turns, byte for byte, one event per batch; the batches are sized by time: the
#      first takes one session, none grows more than twofold; removed = 237; a pinned
#      stale session and fresh ones are left alone;
#   3. policy 'delete' deletes, with the turns, and archives nothing;
#   3b. a cleanup batch waits for an open index_turns transaction instead of interleaving
#      its row locks with it (the two pg_cron jobs deadlocked when they did), and goes
#      through once it commits;
#   4. beside live traffic: while it runs with a small busy_share, pgbench appends to live
#      sessions from other connections; every append succeeds and is stored, appends
#      complete while the cleanup runs, and another connection sees its batches committed
#      one by one;
#   5. the pg_cron job that llm.schedule_cleanup writes runs for real and archives (one wait
#      for the next minute, at most about 70 s; skipped where pg_cron is not installed).
# Isolation on a shared database: every session id starts with this run's prefix; the stale
# ones are idle for 33 years and the cleanups take only what is idle for over 32, an age no
# other suite uses (the pgTAP files reserve ten years, the benchmark stays under nine, the
# Swift archive helpers go beyond 52, the fuzz and reliability tests beyond 150). A check
# first makes sure that no other session is that idle. The sessions (live and archived) are
# removed at the end, and pg_cron's jobs of llm-sessions put back as they were.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

AGE='33 years'        # how long the stale sessions are idle
MAX_IDLE='32 years'   # what the cleanups here take
STALE=237             # archived in batches of at most BATCH
BATCH=20
DELETED=45
LOAD_STALE=300        # archived beside the appends, in batches of at most LOAD_BATCH
LOAD_BATCH=5
LOAD_BUSY_SHARE=0.1
LOAD_CLIENTS=4
LOAD_SECONDS=12       # pgbench runs this long; the cleanup starts a second in
CRON_STALE=120        # the pg_cron job's batches: sized by time, from one session up
CRON_WAIT=75          # seconds, at most, for pg_cron to run the job
TIME_LIMIT=120        # seconds, per psql or pgbench run

run_id="$$_$(date +%s)"
p="tap_rc_${run_id}_"
work=$(mktemp -d)
passed=0
failed=0
bench_pid=""
cron_saved=""

# q [-v NAME=VALUE...] [-c SQL]: psql with :p, :max_idle and :age set, stopping at the first
# error. SQL given with -c goes through stdin, where psql substitutes variables (not in -c).
q() {
  local args=() sql="" from_stdin=1
  while [ $# -gt 0 ]; do
    if [ "$1" = -c ]; then sql=$2; from_stdin=0; shift 2; else args+=("$1"); shift; fi
  done
  if [ "$from_stdin" = 0 ]; then
    printf '%s\n' "$sql" | q "${args[@]}"
  else
    timeout "$TIME_LIMIT" psql -X -qAt -v ON_ERROR_STOP=1 -d "$LLM_CONNINFO" -v p="$p" -v max_idle="$MAX_IDLE" -v age="$AGE" "${args[@]}"
  fi
}

cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
  # Each statement on its own (no ON_ERROR_STOP): one failing must not keep the others from running.
  psql -X -qAt -v ON_ERROR_STOP=0 -d "$LLM_CONNINFO" -v p="$p" >/dev/null 2>&1 <<'SQL' || true
DELETE FROM llm.sessions WHERE starts_with(session_id, :'p');
DELETE FROM llm.archived_sessions WHERE starts_with(session_id, :'p');
SQL
  if [ -n "$cron_saved" ]; then restore_cron || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$LLM_ROOT/Tests/support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED

# sqlstate SQL: runs SQL in one psql that stops at the first error; prints that error's
# SQLSTATE, or 00000 when everything ran.
sqlstate() {
  local err rc=0
  err=$(printf '\\set VERBOSITY sqlstate\n%s\n' "$1" | q 2>&1 >/dev/null) || rc=$?
  if [ "$rc" = 0 ]; then echo 00000; else sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\)$/\1/p' <<<"$err" | head -1; fi
}

# make KIND COUNT: COUNT sessions <prefix>KIND_<n>, with 1 to 3 turns each, idle for AGE; the
# last_query_at repeat every 7 sessions, so that ties fall across batch boundaries.
make_stale() {
  q -v kind="$1" -v n="$2" >/dev/null <<'SQL'
SELECT count(llm.create_session('tap run_cleanup', 'ctx ' || g, :'p' || :'kind' || '_' || g, jsonb_build_object('g', g)))
FROM generate_series(1, :n) g;
SELECT count(llm.append_turn(:'p' || :'kind' || '_' || g, 'question ' || g || '.' || j, 'response ' || j, j, jsonb_build_object('j', j), NULL, 'rq' || j))
FROM generate_series(1, :n) g, generate_series(1, 3) j WHERE j <= 1 + g % 3;
UPDATE llm.sessions SET last_query_at = now() - :'age'::interval - make_interval(mins => (substring(session_id FROM '[0-9]+$')::int % 7))
WHERE starts_with(session_id, :'p' || :'kind' || '_');
SQL
}

# What must survive every cleanup here: the pinned stale session and the fresh ones, with their
# turns (not their search_vector, which pg_cron's indexer job may fill in meanwhile).
survivors() {
  q <<'SQL'
SELECT md5(COALESCE((SELECT string_agg(s::text, ',' ORDER BY session_id) FROM llm.sessions s
                     WHERE starts_with(session_id, :'p' || 'keep_')), '')
           || COALESCE((SELECT string_agg(row(t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at)::text,
                                          ',' ORDER BY session_id, seq) FROM llm.turns t
                        WHERE starts_with(session_id, :'p' || 'keep_')), ''))
SQL
}
# live KIND / archived KIND: how many of those sessions are live / in the archive.
live() { q -v kind="$1" -c "SELECT count(*) FROM llm.sessions WHERE starts_with(session_id, :'p' || :'kind' || '_')"; }
archived() { q -v kind="$1" -c "SELECT count(*) FROM llm.archived_sessions WHERE starts_with(session_id, :'p' || :'kind' || '_')"; }
# turns_md5 TABLE KIND: the turns of those sessions in llm.turns or llm.archived_turns, every column the archive keeps.
turns_md5() {
  q -v kind="$2" -c "SELECT count(*) || ' ' || COALESCE(md5(string_agg(row(t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at)::text, E'\n' ORDER BY t.session_id, t.seq)), '')
                     FROM llm.$1 t WHERE starts_with(t.session_id, :'p' || :'kind' || '_')"
}
sessions_md5() {   # sessions_md5 TABLE KIND: the sessions, every column the archive keeps
  q -v kind="$2" -c "SELECT count(*) || ' ' || COALESCE(md5(string_agg(row(s.session_id, s.agent_role, s.startup_context, s.metadata, s.turn_count, s.total_tokens, s.created_at, s.last_query_at, s.pinned, s.parent_session_id, s.parent_seq)::text, E'\n' ORDER BY s.session_id)), '')
                     FROM llm.$1 s WHERE starts_with(s.session_id, :'p' || :'kind' || '_')"
}

# --- The sessions ----------------------------------------------------------------------
check "no session but this test's is idle for $MAX_IDLE (else the counts below would include it)" \
  "$(q -c "SELECT count(*) FROM llm.sessions WHERE last_query_at < now() - :'max_idle'::interval AND NOT starts_with(session_id, :'p')")" 0
make_stale stale "$STALE"
q >/dev/null <<'SQL'
SELECT count(llm.create_session('tap run_cleanup', NULL, :'p' || 'keep_' || s)) FROM unnest(ARRAY['pinned', 'fresh_1', 'fresh_2', 'almost']) s;
SELECT count(llm.append_turn(:'p' || 'keep_' || s, 'q', 'r', 1)) FROM unnest(ARRAY['pinned', 'fresh_1', 'fresh_2', 'almost']) s;
SELECT llm.pin_session(:'p' || 'keep_pinned') IS NOT NULL;
UPDATE llm.sessions SET last_query_at = now() - :'age'::interval - interval '1 day' WHERE session_id = :'p' || 'keep_pinned';
UPDATE llm.sessions SET last_query_at = now() - :'max_idle'::interval + interval '1 day' WHERE session_id = :'p' || 'keep_almost';
SQL
check "$STALE stale sessions made" "$(live stale)" "$STALE"
kept=$(survivors)
stale_sessions=$(sessions_md5 sessions stale)
stale_turns=$(turns_md5 turns stale)
check "with their turns" "$(cut -d' ' -f1 <<<"$stale_turns" | awk '{print ($1 > '"$STALE"')}')" 1

# --- 1. Refusals change nothing ----------------------------------------------------------
state_before="$(live stale) $(archived stale) $kept"
check "inside BEGIN, CALL run_cleanup fails with 2D000 (invalid transaction termination)" \
  "$(sqlstate "BEGIN;
CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'archive', 1);")" 2D000
check "and nothing changed" "$(live stale) $(archived stale) $(survivors)" "$state_before"
check "after a statement in the same transaction block too" \
  "$(sqlstate "BEGIN;
SELECT 1;
CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'archive', 1);")" 2D000
check "and nothing changed" "$(live stale) $(archived stale) $(survivors)" "$state_before"
for share in 0 0.005 -1 1.5 "'NaN'" NULL; do
  check "busy_share $share: 22023" "$(sqlstate "CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'archive', $share);")" 22023
  check "busy_share $share: nothing changed" "$(live stale) $(archived stale) $(survivors)" "$state_before"
done
check "max_idle 0: 22023 (from the first batch)" "$(sqlstate "CALL llm.run_cleanup('0', $BATCH, 'archive', 1);")" 22023
check "policy 'keep': 22023" "$(sqlstate "CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'keep', 1);")" 22023
check "batch_size 0: 22023" "$(sqlstate "CALL llm.run_cleanup(:'max_idle'::interval, 0, 'archive', 1);")" 22023
check "and nothing changed" "$(live stale) $(archived stale) $(survivors)" "$state_before"
# Inside BEGIN the arguments are checked before the first COMMIT: the error says what is wrong.
check "inside BEGIN, max_idle 0: 22023, not 2D000" "$(sqlstate "BEGIN;
CALL llm.run_cleanup('0', $BATCH, 'archive', 1);")" 22023
check "inside BEGIN, policy 'keep': 22023" "$(sqlstate "BEGIN;
CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'keep', 1);")" 22023
check "inside BEGIN, busy_share 0: 22023" "$(sqlstate "BEGIN;
CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'archive', 0);")" 22023
check "and nothing changed" "$(live stale) $(archived stale) $(survivors)" "$state_before"

# --- 2. Archive -------------------------------------------------------------------------
# One connection listens and calls: psql prints the events it received after the CALL.
q -v batch="$BATCH" >"$work/archive.out" 2>&1 <<'SQL' || true
SELECT 'listening ' || (llm.listen_events() IS NOT NULL);
CALL llm.run_cleanup(:'max_idle'::interval, :batch, 'archive');
SELECT llm.unlisten_events();
SQL
check "CALL run_cleanup (archive, batches of $BATCH) returns removed = $STALE" "$(sed -n 2p "$work/archive.out")" "$STALE"
check "no live session of the $STALE is left" "$(live stale)" 0
check "all $STALE are in the archive" "$(archived stale)" "$STALE"
check "each archived session is the live one, column for column" "$(sessions_md5 archived_sessions stale)" "$stale_sessions"
check "their turns moved with them, column for column" "$(turns_md5 archived_turns stale)" "$stale_turns"
check "no turn of theirs is left live" "$(turns_md5 turns stale)" "0 "
check "the archived counters equal the archived turns" \
  "$(q -c "SELECT count(*) FROM llm.archived_sessions a,
             LATERAL (SELECT count(*) AS n, COALESCE(sum(t.tokens), 0) AS tokens FROM llm.archived_turns t WHERE t.session_id = a.session_id) c
           WHERE starts_with(a.session_id, :'p') AND (a.turn_count <> c.n OR a.total_tokens <> c.tokens)")" 0
check "the pinned stale session, the fresh ones and the one a day short of max_idle are untouched" "$(survivors)" "$kept"
# The events' counts are the batches' sizes: sized by time, so not known in advance, but
# bounded: the first takes one session, each at most twice the one before and at most BATCH.
batches=$(sed -n 's/^Asynchronous notification "llm_sessions" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$work/archive.out" |
  python3 -c 'import json,sys; print(" ".join(str(e["count"]) for e in map(json.loads, sys.stdin) if e["event"] == "archive" and e["session_id"] is None))')
echo "# batch sizes: $batches"
check "one archive event per batch, whose counts add up to $STALE" "$(awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' <<<"$batches")" "$STALE"
check "the first batch takes one session" "$(awk '{ print $1 }' <<<"$batches")" 1
check "no batch exceeds $BATCH, none grows more than twofold" \
  "$(awk -v max="$BATCH" '{ ok = 1; for (i = 1; i <= NF; i++) { if ($i > max || $i < 1 || (i > 1 && $i > 2 * $(i - 1))) ok = 0 } print ok }' <<<"$batches")" 1
check "more than one batch of the $STALE ($BATCH at most each)" "$(awk -v n="$STALE" -v max="$BATCH" '{ print (NF >= n / max) }' <<<"$batches")" 1
check "a second run finds nothing" "$(q -c "CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'archive', 1)")" 0

# --- 3. Delete --------------------------------------------------------------------------
make_stale gone "$DELETED"
check "$DELETED more stale sessions" "$(live gone)" "$DELETED"
check "CALL run_cleanup (delete) returns removed = $DELETED" "$(q -c "CALL llm.run_cleanup(:'max_idle'::interval, $BATCH, 'delete', 1)")" "$DELETED"
check "they are gone" "$(live gone)" 0
check "with their turns" "$(turns_md5 turns gone)" "0 "
check "and nothing of them was archived" "$(archived gone)" 0
check "the pinned, fresh and almost stale sessions are still untouched" "$(survivors)" "$kept"

# --- 3b. Cleanup and the search indexer take turns -------------------------------------------
make_stale wait 5
q >/dev/null 2>&1 <<'SQL' &
BEGIN;
SELECT llm.index_turns(1);
SELECT pg_sleep(3);
COMMIT;
SQL
indexer_pid=$!
sleep 1
check "while an index_turns transaction is open, a cleanup batch waits for it (lock_timeout 300 ms: 55P03)" \
  "$(sqlstate "SET lock_timeout = '300ms';
SELECT llm.cleanup_stale(:'max_idle'::interval, 10, 'archive');")" 55P03
check "and nothing was archived meanwhile" "$(archived wait) $(live wait)" "0 5"
wait "$indexer_pid" || true
check "once the indexer committed, the cleanup goes through" "$(q -c "CALL llm.run_cleanup(:'max_idle'::interval, 10, 'archive', 1)")" 5
check "all 5 archived" "$(archived wait) $(live wait)" "5 0"

# --- 4. Beside live traffic -----------------------------------------------------------------
make_stale load "$LOAD_STALE"
q -v n="$LOAD_CLIENTS" >/dev/null -c "SELECT count(llm.create_session('tap run_cleanup', NULL, :'p' || 'live_' || c)) FROM generate_series(0, :n - 1) c"
cat >"$work/append.sql" <<'SQL'
SELECT llm.append_turn(:prefix || 'live_' || :client_id, 'question', 'response', 1);
SQL
timeout "$TIME_LIMIT" pgbench -n -M prepared -c "$LOAD_CLIENTS" -j 2 -T "$LOAD_SECONDS" -l --log-prefix="$work/txlog" \
  -D prefix="$p" -f "$work/append.sql" "$LLM_CONNINFO" >"$work/pgbench.out" 2>"$work/pgbench.err" &
bench_pid=$!
sleep 1
cleanup_start=$(date +%s.%N)
q -c "CALL llm.run_cleanup(:'max_idle'::interval, $LOAD_BATCH, 'archive', $LOAD_BUSY_SHARE)" >"$work/load_cleanup.out" 2>&1 &
cleanup_pid=$!
# Meanwhile another connection watches the archive fill: the batches commit one by one.
: >"$work/progress"
while kill -0 "$cleanup_pid" 2>/dev/null; do
  archived load >>"$work/progress" || true
  sleep 0.05
done
cleanup_rc=0; wait "$cleanup_pid" || cleanup_rc=$?
cleanup_end=$(date +%s.%N)
bench_rc=0; wait "$bench_pid" || bench_rc=$?; bench_pid=""
check "under load: CALL run_cleanup (busy_share $LOAD_BUSY_SHARE, batches of at most $LOAD_BATCH) succeeds" "$cleanup_rc" 0
check "and returns removed = $LOAD_STALE" "$(cat "$work/load_cleanup.out")" "$LOAD_STALE"
check "all $LOAD_STALE are archived" "$(archived load) $(live load)" "$LOAD_STALE 0"
check "another connection saw the archive part-filled while it ran: committed batch by batch" \
  "$(awk -v n="$LOAD_STALE" '$1 > 0 && $1 < n { seen = 1 } END { print seen + 0 }' "$work/progress")" 1
echo "# the cleanup took $(awk -v a="$cleanup_start" -v b="$cleanup_end" 'BEGIN { printf "%.2f", b - a }') s; archive counts seen meanwhile: $(sort -nu "$work/progress" | wc -l) distinct"
check "pgbench finished without aborted clients (exit $bench_rc)" "$bench_rc" 0
[ "$bench_rc" = 0 ] || sed 's/^/#   /' "$work/pgbench.err" | tail -5
check "the cleanup ended before the appends did (it ran beside them throughout)" \
  "$(cat "$work"/txlog* 2>/dev/null | awk -v e="$cleanup_end" 'NF >= 6 { t = $5 + $6 / 1e6; if (t > last) last = t } END { print (last > e) }')" 1
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
check "no append failed" "$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")" 0
# pgbench's log: one line per transaction, "client_id transaction_no time script_no epoch_s epoch_us".
during=$(cat "$work"/txlog* 2>/dev/null | awk -v a="$cleanup_start" -v b="$cleanup_end" 'NF >= 6 { t = $5 + $6 / 1e6; if (t >= a && t <= b) n++ } END { print n + 0 }')
echo "# $processed appends acknowledged, $during of them while the cleanup ran"
check "appends were acknowledged while the cleanup ran" "$(awk -v n="$during" 'BEGIN { print (n > 0) }')" 1
check "every acknowledged append is stored" \
  "$(q -c "SELECT COALESCE(sum(turn_count), 0) || ' ' || (SELECT count(*) FROM llm.turns WHERE starts_with(session_id, :'p' || 'live_'))
           FROM llm.sessions WHERE starts_with(session_id, :'p' || 'live_')")" "$processed $processed"
check "the live sessions stayed live" "$(live live)" "$LOAD_CLIENTS"
check "the pinned, fresh and almost stale sessions are still untouched" "$(survivors)" "$kept"

# --- 5. The pg_cron job ---------------------------------------------------------------------
restore_cron() {
  # Our job goes; the llm-sessions jobs that were there before come back as they were.
  q -v saved="$cron_saved" >/dev/null <<'SQL'
SELECT llm.unschedule_cleanup();
SELECT count(cron.schedule(j->>'jobname', j->>'schedule', j->>'command')) FROM jsonb_array_elements(:'saved'::jsonb) j;
SQL
  q -v saved="$cron_saved" >/dev/null <<'SQL'
SELECT cron.alter_job(c.jobid, database => j->>'database', username => j->>'username', active => (j->>'active')::boolean)
FROM jsonb_array_elements(:'saved'::jsonb) j JOIN cron.job c ON c.jobname = j->>'jobname';
SQL
  cron_saved=""
}
cron_jobs() {   # the llm-sessions jobs of pg_cron, as JSON
  q -c "SELECT COALESCE(jsonb_agg(jsonb_build_object('jobname', jobname, 'schedule', schedule, 'command', command,
          'database', database, 'username', username, 'active', active) ORDER BY jobname), '[]')
        FROM cron.job WHERE jobname IN ('llm-sessions-cleanup', 'llm-sessions-index')"
}
if [ "$(q -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 1 ]; then
  make_stale cron "$CRON_STALE"
  cron_turns=$(turns_md5 turns cron)
  cron_saved=$(cron_jobs)
  saved=$cron_saved
  # pg_cron runs a '* * * * *' job at the next minute: not too close to it, or it is the one after.
  second=$(date +%S); second=${second#0}
  if [ "$second" -ge 50 ]; then sleep $((61 - second)); fi
  scheduled=$(q -c "SELECT llm.schedule_cleanup('* * * * *', :'max_idle'::interval, 'archive')")
  job_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["job_id"])' "$scheduled")
  command=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["command"])' "$scheduled")
  check "schedule_cleanup schedules a CALL of run_cleanup" "$command" "CALL llm.run_cleanup('32 years'::interval, policy => 'archive')"
  run=""
  for _ in $(seq "$CRON_WAIT"); do
    run=$(q -v job="$job_id" -c "SELECT status || '|' || return_message FROM cron.job_run_details
                                 WHERE jobid = :job AND status NOT IN ('starting', 'running') ORDER BY runid LIMIT 1")
    [ -n "$run" ] && break
    sleep 1
  done
  check "pg_cron ran the job within $CRON_WAIT s, and it succeeded" "$run" "succeeded|CALL"
  check "it archived the $CRON_STALE stale sessions (in batches sized by time)" "$(archived cron) $(live cron)" "$CRON_STALE 0"
  check "with their turns" "$(turns_md5 archived_turns cron)" "$cron_turns"
  check "and left the pinned, fresh and almost stale sessions alone" "$(survivors)" "$kept"
  restore_cron
  check "our job is unscheduled" "$(q -c "SELECT count(*) FROM cron.job WHERE jobid = $job_id")" 0
  check "and the llm-sessions jobs that were there before are back as they were" "$(cron_jobs)" "$saved"
else
  echo "# skipped the pg_cron job: pg_cron is not installed in this database"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
