#!/usr/bin/env bash
# Migrations that race, fail or were tampered with leave the schema consistent. On a scratch
# database of the main server (dropped at the end), migrated from the repository, holding data:
#   1. An upgrade: two scripts/migrate.sh at once, with a new migration pending; both
#      succeed, exactly one applies it. (Two migrators on an EMPTY database are
#      Tests/concurrency/two_migrators.sh, part of `make test`; not repeated here.)
#   2. A migration that fails half-way (it creates a table, adds a column, changes rows,
#      then divides by zero): migrate.sh fails, and the schema, the bookkeeping and the data
#      are exactly as before (pg_dump --schema-only compared); the fixed file then applies.
#   3. An applied migration edited afterwards: refused with SQLSTATE 55000 and its message,
#      and nothing else applied (neither the new migration after it nor the API).
#   4. A new migration numbered below the latest applied: refused (55000), nothing applied.
# Each case runs the real scripts/migrate.sh from a copy of the repository's scripts/, sql/
# and Migrations/ with the extra files added (migrate.sh reads the files next to its own folder).
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/support/common.sh"
cd "$LLM_ROOT"

SCRATCH_DB="llm_rel_migrate_$$"
TIME_LIMIT=120   # seconds, per migrate run
work=$(mktemp -d)

# The conninfo of the scratch database on the same server (as two_migrators.sh builds it).
case "$LLM_CONNINFO" in
  postgres://*|postgresql://*)
    query=""; [[ "$LLM_CONNINFO" == *\?* ]] && query="?${LLM_CONNINFO#*\?}"
    rest=${LLM_CONNINFO%%\?*}; scheme=${rest%%://*}; rest=${rest#*://}
    scratch_url="$scheme://${rest%%/*}/$SCRATCH_DB$query" ;;
  "") scratch_url="dbname=$SCRATCH_DB" ;;                 # the PG* variables say the rest
  *) scratch_url="$LLM_CONNINFO dbname=$SCRATCH_DB" ;;    # the last dbname= wins
esac

drop_scratch() { llm_psql -q -c "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" 2>/dev/null; }
cleanup() { drop_scratch || true; rm -rf "$work"; }
trap cleanup EXIT

sq() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$scratch_url" -c "$1"; }

# tree NAME: a copy of the repository's scripts/, sql/ and Migrations/ in $work/NAME.
tree() {
  mkdir -p "$work/$1/scripts"
  cp scripts/lib.sh scripts/migrate.sh "$work/$1/scripts/"
  cp -r sql Migrations "$work/$1/"
}
# migrate TREE [OUT]: runs that copy's migrate.sh on the scratch database; output in $work/OUT.out.
migrate() {
  DATABASE_URL="$scratch_url" timeout "$TIME_LIMIT" "$work/$1/scripts/migrate.sh" >"$work/${2:-$1}.out" 2>&1
}
# Everything a migration could change: the schema, the bookkeeping, the data.
fingerprint() {
  # pg_dump brackets its output with \restrict KEY ... \unrestrict KEY, a new random KEY each time.
  pg_dump --schema-only --schema=llm -d "$scratch_url" | grep -v -e '^--' -e '^\\restrict ' -e '^\\unrestrict '
  sq "SELECT version, name, checksum, applied_at FROM llm.schema_migrations ORDER BY version"
  sq "SELECT name, checksum, applied_at FROM llm.schema_api ORDER BY name"
  sq "SELECT session_id, turn_count, total_tokens, last_query_at FROM llm.sessions ORDER BY session_id"
  sq "SELECT session_id, seq, question, tokens FROM llm.turns ORDER BY session_id, seq"
}
same_as() { diff "$1" <(fingerprint) >"$work/diff" && echo same || { head -20 "$work/diff" | sed 's/^/#   /' >&2; echo differs; }; }

drop_scratch
llm_psql -q -c "CREATE DATABASE $SCRATCH_DB"
check "the scratch database is a different database" "$(sq 'SELECT current_database()')" "$SCRATCH_DB"
rc=0; DATABASE_URL="$scratch_url" timeout "$TIME_LIMIT" scripts/migrate.sh -q || rc=$?
check "the repository's migrations apply to the scratch database" "$rc" 0
sq "SELECT llm.create_session('rel migrate', NULL, 'rel-migrate-' || i) FROM generate_series(1, 3) i" >/dev/null
sq "SELECT llm.append_turn('rel-migrate-' || i, 'q' || n, 'r', n) FROM generate_series(1, 3) i, generate_series(1, 4) n" >/dev/null

# --- 1. two migrators at once, one migration pending -----------------------------------
tree upgrade
cat >"$work/upgrade/Migrations/9990_rel_upgrade.sql" <<'SQL'
CREATE TABLE llm.rel_upgrade (id integer PRIMARY KEY);
ALTER TABLE llm.sessions ADD COLUMN rel_upgrade_note text;
SQL
rc1=0; rc2=0
migrate upgrade one & p1=$!
migrate upgrade two & p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
check "upgrade: both migrators exit 0" "$rc1 $rc2" "0 0"
[ "$rc1$rc2" = 00 ] || sed 's/^/#   /' "$work/one.out" "$work/two.out" | tail -20
check "upgrade: exactly one of them applied the new migration, the other found it applied" \
  "$(cat "$work/one.out" "$work/two.out" | grep -o -E '(applied|unchanged): Migrations/9990_rel_upgrade.sql' | sort | tr '\n' ' ')" \
  "applied: Migrations/9990_rel_upgrade.sql unchanged: Migrations/9990_rel_upgrade.sql "
check "upgrade: it is recorded once, and its table and column exist" \
  "$(sq "SELECT count(*) || ' ' || (to_regclass('llm.rel_upgrade') IS NOT NULL) || ' '
              || EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'llm.sessions'::regclass AND attname = 'rel_upgrade_note')
         FROM llm.schema_migrations WHERE version = 9990")" "1 true true"
check "upgrade: the data is intact" "$(sq "SELECT count(*) || ' ' || sum(turn_count) FROM llm.sessions")" "3 12"
fingerprint >"$work/before_failing"

# --- 2. a migration that fails half-way -------------------------------------------------
tree failing
cp "$work/upgrade/Migrations/9990_rel_upgrade.sql" "$work/failing/Migrations/"
cat >"$work/failing/Migrations/9991_fails_half_way.sql" <<'SQL'
CREATE TABLE llm.rel_half_way (id integer);
INSERT INTO llm.rel_half_way VALUES (1);
ALTER TABLE llm.sessions ADD COLUMN rel_half_way integer NOT NULL DEFAULT 0;
UPDATE llm.sessions SET turn_count = turn_count + 1000;
DELETE FROM llm.turns WHERE seq > 2;
SELECT 1 / 0;
SQL
rc=0; migrate failing || rc=$?
check "failing: migrate.sh exits non-zero" "$([ "$rc" != 0 ] && echo failed)" failed
check "failing: and says why" \
  "$(grep -c -e 'division by zero' -e 'migration failed; nothing after the failing step was applied' "$work/failing.out" || true)" 2
check "failing: its table does not exist" "$(sq "SELECT to_regclass('llm.rel_half_way') IS NULL")" t
check "failing: schema_migrations has no row for it" "$(sq "SELECT count(*) FROM llm.schema_migrations WHERE version = 9991")" 0
check "failing: schema, bookkeeping and data are exactly as before (pg_dump -s, rows)" "$(same_as "$work/before_failing")" same
sed -i '/1 \/ 0/d; /turn_count + 1000/d; /DELETE FROM/d' "$work/failing/Migrations/9991_fails_half_way.sql"
rc=0; migrate failing fixed || rc=$?
check "failing: once fixed, the same file applies" \
  "$rc $(grep -c 'applied: Migrations/9991_fails_half_way.sql' "$work/fixed.out" || true) $(sq "SELECT count(*) FROM llm.schema_migrations WHERE version = 9991")" "0 1 1"
fingerprint >"$work/before_edit"

# --- 3. an applied migration edited ------------------------------------------------------
tree edited
cp "$work/failing/Migrations/"99*.sql "$work/edited/Migrations/"
printf '\n-- edited after it was applied\nCREATE TABLE llm.rel_edited (id integer);\n' >>"$work/edited/Migrations/0001_create_schema.sql"
cat >"$work/edited/Migrations/9992_after_the_edit.sql" <<'SQL'
CREATE TABLE llm.rel_after_edit (id integer);
SQL
rc=0; migrate edited || rc=$?
check "edited: migrate.sh exits non-zero" "$([ "$rc" != 0 ] && echo failed)" failed
check "edited: it names the edited migration" \
  "$(grep -c 'migration 0001_create_schema was changed after it was applied' "$work/edited.out" || true)" 1
sqlstate=$(psql -X -q -d "$scratch_url" 2>&1 <<SQL || true
\\set VERBOSITY verbose
\\set body \`cat $work/edited/Migrations/0001_create_schema.sql\`
SELECT llm._apply_migration('0001_create_schema', :'body');
SQL
)
check "edited: the error is SQLSTATE 55000 (object_not_in_prerequisite_state)" \
  "$(echo "$sqlstate" | grep -c '^ERROR:  55000: migration 0001_create_schema was changed after it was applied' || true)" 1
check "edited: nothing else was applied (no later migration, no API, no change)" "$(same_as "$work/before_edit")" same
check "edited: the later migration's table does not exist" "$(sq "SELECT to_regclass('llm.rel_after_edit') IS NULL AND to_regclass('llm.rel_edited') IS NULL")" t

# --- 4. a migration numbered below the latest applied ------------------------------------
tree late
cp "$work/failing/Migrations/"99*.sql "$work/late/Migrations/"
cat >"$work/late/Migrations/9000_written_late.sql" <<'SQL'
CREATE TABLE llm.rel_written_late (id integer);
SQL
rc=0; migrate late || rc=$?
check "late: migrate.sh refuses a migration older than the latest applied" \
  "$([ "$rc" != 0 ] && echo failed) $(grep -c 'migration 9000_written_late is older than the latest applied migration (9991)' "$work/late.out" || true)" "failed 1"
check "late: nothing was applied" "$(same_as "$work/before_edit")" same

finish
