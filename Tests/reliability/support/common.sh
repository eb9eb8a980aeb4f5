# Shared by Tests/reliability/*.sh (sourced, not executed; it lives in support/ so that
# scripts/test-reliability.sh, which runs Tests/reliability/*.sh, does not run it).
#   check DESCRIPTION ACTUAL EXPECTED   one "ok N - ..." or "not ok N - ..." line
#   finish                              the line "N passed, M failed"; returns non-zero on a failure
#   scratch ...                         runs a command against this script's own scratch cluster
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib.sh"

passed=0
failed=0

# Interrupted (Ctrl-C, a CI timeout): exit, so that the script's EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

source "$(dirname "${BASH_SOURCE[0]}")/../../support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}

# "number of transactions actually processed: 8000/8000" -> 8000
pgbench_processed() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1"; }
pgbench_failed() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1"; }

# One line per session whose counters disagree with its stored turns (turn_count vs
# count(turns), total_tokens vs sum(tokens), seq not exactly 1..N), among the sessions
# whose id starts with the psql variable :'prefix'. Empty when every session is consistent.
# Usage: echo "$INCONSISTENT_SESSIONS_SQL" | psql ... -v prefix=...
INCONSISTENT_SESSIONS_SQL="
SELECT s.session_id || ': turn_count ' || s.turn_count || ' turns ' || t.n
       || ' total_tokens ' || s.total_tokens || ' sum ' || t.tokens || ' seq ' || t.lo || '..' || t.hi
FROM llm.sessions s
CROSS JOIN LATERAL (
  SELECT count(*) AS n, COALESCE(sum(x.tokens), 0) AS tokens,
         COALESCE(min(x.seq), 0) AS lo, COALESCE(max(x.seq), 0) AS hi, count(DISTINCT x.seq) AS distinct_seq
  FROM llm.turns x WHERE x.session_id = s.session_id) t
WHERE starts_with(s.session_id, :'prefix')
  AND NOT (s.turn_count = t.n AND s.total_tokens = t.tokens AND t.distinct_seq = t.n
           AND (t.n = 0 OR (t.lo = 1 AND t.hi = t.n)))
ORDER BY 1"

# --- A scratch cluster of this script's own (crash and restart tests) ---------------
# Its own state folder and port, never the main cluster: the server is killed and
# restarted here. The PG* variables that lib.sh exported for the main cluster (and any
# DATABASE_URL) are removed so that scripts/db.sh manages the scratch one, in local mode.
SCRATCH_STATE=${SCRATCH_STATE:-/tmp/llm-rel-$(basename "$0" .sh)-$$}
SCRATCH_PORT=${SCRATCH_PORT:-54391}
SCRATCH_CONNINFO="host=$SCRATCH_STATE/socket port=$SCRATCH_PORT user=postgres dbname=$LLM_DBNAME"

scratch() {
  env -u DATABASE_URL -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGSERVICE \
    LLM_STATE_DIR="$SCRATCH_STATE" LLM_PGPORT="$SCRATCH_PORT" "$@"
}
scratch_psql() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$SCRATCH_CONNINFO" "$@"; }
scratch_start() { scratch timeout 120 "$LLM_ROOT/scripts/db.sh" start; }
scratch_postmaster_pid() { head -1 "$SCRATCH_STATE/data/postmaster.pid" 2>/dev/null; }

# Stops and deletes the scratch cluster, killing whatever a killed postmaster left behind.
scratch_remove() {
  [ -d "$SCRATCH_STATE" ] || return 0
  scratch timeout 60 "$LLM_ROOT/scripts/db.sh" reset >/dev/null 2>&1 || true
  if [ -d "$SCRATCH_STATE" ]; then   # reset failed (a server that would not stop): force it
    local pid; pid=$(scratch_postmaster_pid)
    # Only a postmaster of this very data folder (a pid can be reused).
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SCRATCH_STATE/data"; then
      kill -9 "$pid" 2>/dev/null
    fi
    rm -rf "$SCRATCH_STATE"
  fi
}
