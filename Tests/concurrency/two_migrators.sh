#!/usr/bin/env bash
# Two scripts/migrate.sh at once against an empty scratch database: both succeed,
# every file is applied exactly once, and a third run finds everything unchanged.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$LLM_ROOT"

SCRATCH=llm_sessions_migrate_test
TIME_LIMIT=120   # seconds, per migrate run
work=$(mktemp -d)
passed=0
failed=0

# The conninfo of the scratch database on the same server.
case "$LLM_CONNINFO" in
  postgres://*|postgresql://*)
    query=""; [[ "$LLM_CONNINFO" == *\?* ]] && query="?${LLM_CONNINFO#*\?}"
    rest=${LLM_CONNINFO%%\?*}; scheme=${rest%%://*}; rest=${rest#*://}
    scratch_url="$scheme://${rest%%/*}/$SCRATCH$query" ;;
  "") scratch_url="dbname=$SCRATCH" ;;                 # the PG* variables say the rest
  *) scratch_url="$LLM_CONNINFO dbname=$SCRATCH" ;;    # the last dbname= wins
esac

drop_scratch() { llm_psql -q -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" 2>/dev/null; }
cleanup() { drop_scratch || true; rm -rf "$work"; }
trap cleanup EXIT

source "$LLM_ROOT/Tests/support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED
sq() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$scratch_url" -c "$1"; }
migrate() { DATABASE_URL="$scratch_url" timeout "$TIME_LIMIT" scripts/migrate.sh; }

drop_scratch
llm_psql -q -c "CREATE DATABASE $SCRATCH"
check "the scratch database is a different database" "$(sq 'SELECT current_database()')" "$SCRATCH"

migration_files=$(ls Migrations/[0-9]*.sql | wc -l)
api_files=$(ls sql/api/[0-9]*.sql | wc -l)

# Two at once.
rc1=0; rc2=0
migrate >"$work/one.out" 2>&1 & p1=$!
migrate >"$work/two.out" 2>&1 & p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
check "the first migrator exits 0" "$rc1" 0
check "the second migrator exits 0" "$rc2" 0
[ "$rc1$rc2" = 00 ] || sed 's/^/#   /' "$work/one.out" "$work/two.out" | tail -20

check "schema_migrations has one row per migration file" "$(sq 'SELECT count(*) FROM llm.schema_migrations')" "$migration_files"
check "no migration is recorded twice" "$(sq 'SELECT count(DISTINCT name) FROM llm.schema_migrations')" "$migration_files"
check "schema_api has one row per API file" "$(sq 'SELECT count(*) FROM llm.schema_api')" "$api_files"
check "each migration was applied by exactly one of the two" \
  "$(cat "$work/one.out" "$work/two.out" | grep -c '^ *applied: Migrations/' || true)" "$migration_files"
check "the other found it already applied" \
  "$(cat "$work/one.out" "$work/two.out" | grep -c '^ *unchanged: Migrations/' || true)" "$migration_files"
check "all nine API functions exist" \
  "$(sq "SELECT count(*) FROM pg_proc WHERE pronamespace = 'llm'::regnamespace AND proname IN ('create_session', 'append_turn', 'get_session', 'end_session', 'list_sessions', 'cleanup_stale', 'schedule_cleanup', 'unschedule_cleanup', 'stats')")" 9
check "no function of schema llm is granted to PUBLIC" \
  "$(sq "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))")" 0
check "the API works in the new database" \
  "$(sq "SELECT llm.append_turn((llm.create_session('tap migrate'))->>'session_id', 'q', 'r', 3)->>'turn_count'")" 1
# pg_cron lives only in the database named by cron.database_name, so here it is missing for real.
check "without pg_cron schedule_cleanup raises 0A000" \
  "$(psql -X -qAt -d "$scratch_url" -c "DO \$\$ BEGIN PERFORM llm.schedule_cleanup(); EXCEPTION WHEN feature_not_supported THEN RAISE NOTICE 'sqlstate 0A000'; END \$\$" 2>&1 | grep -c 'sqlstate 0A000' || true)" 1

# A third run: everything unchanged.
rc3=0
migrate >"$work/three.out" 2>&1 || rc3=$?
check "a third migrator exits 0" "$rc3" 0
check "and reports every file unchanged" \
  "$(grep -c '^ *unchanged: ' "$work/three.out" || true)" "$((migration_files + api_files))"
check "and nothing applied or updated" "$(grep -c -E '^ *(applied|updated): ' "$work/three.out" || true)" 0
check "schema_migrations still has one row per file" "$(sq 'SELECT count(*) FROM llm.schema_migrations')" "$migration_files"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
