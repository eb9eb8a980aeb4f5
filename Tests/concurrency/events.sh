#!/usr/bin/env bash
# Live events on channel llm_sessions: a psql that LISTENs receives, after each commit,
# one small JSON payload per create, append, pop, fork, end, import, archive and restore,
# and nothing for a rolled-back change or a replayed append. (A pgTAP test runs in one
# transaction that it rolls back, so it could never see a notification: hence a shell test.)
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

run_id="$$_$(date +%s)"
s="tap_ev_$run_id"
f="tap_ev_fork_$run_id"
work=$(mktemp -d)
passed=0
failed=0

cleanup() {
  echo "SELECT llm.end_session(x) FROM unnest(ARRAY[:'s', :'f']) x" |
    llm_psql -qAt -v s="$s" -v f="$f" >/dev/null 2>&1 || true
  echo "DELETE FROM llm.archived_sessions WHERE session_id IN (:'s', :'f')" |
    llm_psql -qAt -v s="$s" -v f="$f" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$LLM_ROOT/Tests/support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED

# One session both listens and writes: psql prints the notifications it received
# after each command, so what it prints after a COMMIT is what listeners get.
llm_psql -qAt -v s="$s" -v f="$f" > "$work/out" 2>&1 <<'SQL'
SELECT llm.listen_events() IS NOT NULL;
SELECT llm.create_session('tap events', NULL, :'s') IS NOT NULL;
SELECT llm.append_turn(:'s', 'q1', 'r1', 1) IS NOT NULL;
SELECT llm.append_turn(:'s', 'q2', 'r2', 2, '{}', NULL, 'rid') IS NOT NULL;
SELECT llm.append_turn(:'s', 'q2', 'r2', 2, '{}', NULL, 'rid') IS NOT NULL;
SELECT llm.pop_turn(:'s') IS NOT NULL;
BEGIN;
SELECT llm.append_turn(:'s', 'rolled', 'back') IS NOT NULL;
SELECT llm.end_session(:'s');
ROLLBACK;
SELECT llm.fork_session(:'s', 1, :'f') IS NOT NULL;
SELECT llm.export_session(:'f') AS doc \gset
SELECT llm.end_session(:'f');
SELECT llm.import_session(:'doc') IS NOT NULL;
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' WHERE session_id = :'s';
SELECT llm.cleanup_stale(interval '10 years', 1000, 'archive');
SELECT llm.restore_session(:'s') IS NOT NULL;
SELECT llm.get_context(:'s', 100) IS NOT NULL, llm.search_turns('q1') IS NOT NULL, llm.pin_session(:'s') IS NOT NULL;
SELECT llm.end_session(:'s');
SQL

sed -n 's/^Asynchronous notification "llm_sessions" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' \
  "$work/out" > "$work/payloads"

# Other clients of the database may send events meanwhile: keep ours (and the
# cleanup's batch event, which names no session).
grep -F -e "$run_id" -e '"session_id": null' "$work/payloads" > "$work/ours" || true
mv "$work/ours" "$work/payloads"
got=$(python3 - "$work/payloads" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    keys = ",".join(sorted(e))
    print(e["event"], e["session_id"] and e["session_id"].split("_")[1], e["agent_role"], e["seq"], e.get("count"), keys)
PY
)
k="agent_role,event,seq,session_id"
expected="create ev tap events None None $k
append ev tap events 1 None $k
append ev tap events 2 None $k
pop ev tap events 2 None $k
create ev tap events None None $k
fork ev tap events None None $k
end ev tap events None None $k
import ev tap events None None $k
archive None None None 1 agent_role,count,event,seq,session_id
restore ev tap events None None $k
end ev tap events None None $k"
check "the events, in commit order: none for the replay, the rollback, or the reads and pin" "$got" "$expected"
check "every payload is small" "$(awk 'length($0) > 300' "$work/payloads" | wc -l)" "0"
check "the first event names the session" \
  "$(head -1 "$work/payloads" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])')" "$s"
check "the fork and import events name the fork" \
  "$(sed -n '6p;8p' "$work/payloads" | python3 -c 'import json,sys; print(" ".join(json.loads(l)["session_id"] for l in sys.stdin))')" "$f $f"

# Events cost every notifying commit a database-wide lock, so writes notify only
# while a connection is registered through listen_events(). With none registered
# (checked first: another client of the database might be), a plain LISTEN hears nothing.
if [ "$(llm_psql -qAt -c "SELECT llm._prune_event_listeners(); SELECT count(*) FROM llm.event_listeners" | tail -1)" = 0 ]; then
  llm_psql -qAt -v s="${s}_quiet" > "$work/quiet" 2>&1 <<'SQL'
LISTEN llm_sessions;
SELECT llm.create_session('tap events', NULL, :'s') IS NOT NULL;
SELECT llm.append_turn(:'s', 'q1', 'r1', 1) IS NOT NULL;
SELECT llm.end_session(:'s');
SQL
  check "without a registered listener, writes send no event" \
    "$(grep -c 'Asynchronous notification' "$work/quiet" || true)" "0"
else
  echo "# skipped the quiet check: another connection is registered as a listener"
fi
llm_psql -qAt > "$work/unlisten" <<'SQL'
SELECT (llm.listen_events()->>'listeners')::int >= 1;
SELECT count(*) FROM llm.event_listeners WHERE pid = pg_backend_pid();
SELECT llm.unlisten_events();
SELECT count(*) FROM llm.event_listeners WHERE pid = pg_backend_pid();
SELECT llm.unlisten_events();
SQL
check "listen_events registers the connection, unlisten_events removes it (true, then false)" \
  "$(tr '\n' ' ' < "$work/unlisten")" "t 1 t 0 f "

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
