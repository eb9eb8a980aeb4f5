#!/usr/bin/env bash
# Privileges with REAL login roles, not SET ROLE: a role that logs in with its password
# (scram-sha-256 on the local cluster) and holds only llm_app, and one that holds nothing
# (what PUBLIC may do). The llm_app login uses the session API and nothing else: it cannot
# read, change or delete any table of schema llm, call the operator or internal functions,
# create objects in llm, become llm_admin or a superuser, nor change what the SECURITY
# DEFINER functions do with look-alike functions and operators in a schema of its own put
# first in its search_path, or with temporary tables. The roles, their schema and their
# sessions are removed at the end, also when a check fails or the script is interrupted.
# Prints one ok/not ok line per check and "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

run_id="$$_$(date +%s)"
app="tap_login_app_$run_id"
nobody="tap_login_none_$run_id"
evil="tap_evil_$run_id"
sid="tap_login_$run_id"
fork="tap_login_fork_$run_id"
app_password="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
nobody_password="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
work=$(mktemp -d)
passed=0
failed=0

su() { llm_psql -qAt "$@"; }

cleanup() {
  # Each statement on its own (no ON_ERROR_STOP): one failing must not keep the roles.
  su -v ON_ERROR_STOP=0 -v app="$app" -v nobody="$nobody" -v evil="$evil" -v sid="$sid" -v fork="$fork" >/dev/null 2>&1 <<'SQL' || true
SELECT llm.end_session(s) FROM unnest(ARRAY[:'sid', :'fork']) s;
DELETE FROM llm.sessions WHERE agent_role = :'app';
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (:'app', :'nobody');
DROP SCHEMA IF EXISTS :"evil" CASCADE;
DROP OWNED BY :"app", :"nobody";
DROP ROLE IF EXISTS :"app";
DROP ROLE IF EXISTS :"nobody";
SQL
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$LLM_ROOT/Tests/support/check.sh"   # check DESCRIPTION ACTUAL EXPECTED

# The connection string of the same server for another user: the last user= wins.
conninfo_for() {
  case "$LLM_CONNINFO" in
    postgres://*|postgresql://*)
      if [[ "$LLM_CONNINFO" == *\?* ]]; then echo "$LLM_CONNINFO&user=$1"; else echo "$LLM_CONNINFO?user=$1"; fi ;;
    *) echo "$LLM_CONNINFO user=$1" ;;
  esac
}
app_conninfo=$(conninfo_for "$app")
nobody_conninfo=$(conninfo_for "$nobody")

# as ROLE PASSWORD: psql as that login, reading SQL from stdin, not stopping at errors.
# After each statement that fails it prints "ERROR <sqlstate> <message>".
as() {
  local conninfo password=$2
  [ "$1" = app ] && conninfo=$app_conninfo || conninfo=$nobody_conninfo
  { cat; } | sed 's/;$/;\n\\if :ERROR\n\\echo ERROR :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE\n\\endif/' |
    PGPASSWORD=$password PGAPPNAME=llm-sessions-login-test psql -X -qAt -v ON_ERROR_STOP=0 -d "$conninfo" 2>/dev/null
}
app_sql() { printf '%s\n' "$1" | as app "$app_password"; }
nobody_sql() { printf '%s\n' "$1" | as nobody "$nobody_password"; }

su -v app="$app" -v nobody="$nobody" -v evil="$evil" -v pw="$app_password" -v pw2="$nobody_password" >/dev/null <<'SQL'
CREATE ROLE :"app" LOGIN PASSWORD :'pw' IN ROLE llm_app;
CREATE ROLE :"nobody" LOGIN PASSWORD :'pw2';
-- A schema the attacker owns, as it might own any schema it can create in.
CREATE SCHEMA :"evil" AUTHORIZATION :"app";
SQL

# --- Logging in -------------------------------------------------------------------
check "$app logs in with its password and is itself, not a superuser, member of llm_app only" \
  "$(app_sql "SELECT current_user = '$app', r.rolsuper, (SELECT string_agg(b.rolname, ',' ORDER BY b.rolname) FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid) FROM pg_roles r WHERE r.rolname = current_user;")" \
  "t|f|llm_app"
if [ "$LLM_DB_MODE" = local ]; then
  # The local cluster's pg_hba.conf: scram-sha-256 for every role but postgres.
  wrong=$(printf 'SELECT 1;\n' | PGPASSWORD=not-the-password psql -X -qAt -d "$app_conninfo" 2>&1 || true)
  check "the local cluster refuses a wrong password (scram-sha-256)" \
    "$(grep -c "password authentication failed for user \"$app\"" <<<"$wrong")" 1
  check "the error does not echo the password tried" "$(grep -c 'not-the-password' <<<"$wrong" || true)" 0
fi

# --- The session API works ----------------------------------------------------------
check "$app uses the session API: create, append twice, read back" \
  "$(app_sql "SELECT llm.create_session('$app', 'ctx', '$sid') IS NOT NULL;
SELECT llm.append_turn('$sid', 'first question', 'first answer', 3) IS NOT NULL;
SELECT llm.append_turn('$sid', 'second question', 'second answer', 4, '{}', NULL, 'rq') IS NOT NULL;
SELECT llm.get_session('$sid')->>'turn_count';" | tr '\n' ' ')" "t t t 2 "

# --- Tables: no read, no write, no delete ------------------------------------------
su -c "SELECT c.relname || ' ' || CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END
       FROM pg_class c WHERE c.relnamespace = 'llm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1" > "$work/tables"
# Every table and view of the schema is tried below, including ones added after this was written.
check "schema llm has at least its four tables, the migration bookkeeping and the usage views to test" \
  "$(awk '{print $1}' "$work/tables" | grep -cxE 'archived_sessions|archived_turns|daily_usage|role_usage|schema_api|schema_migrations|sessions|turns')" 8
while read -r t kind; do
  check "$app cannot SELECT llm.$t" "$(app_sql "SELECT count(*) FROM llm.$t;")" "ERROR 42501 permission denied for $kind $t"
  [ "$kind" = table ] || continue
  check "$app cannot UPDATE llm.$t" "$(app_sql "UPDATE llm.$t SET $(su -c "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = 'llm.$t'::regclass AND attnum = 1") = NULL;")" \
    "ERROR 42501 permission denied for table $t"
  check "$app cannot DELETE FROM llm.$t" "$(app_sql "DELETE FROM llm.$t;")" "ERROR 42501 permission denied for table $t"
  check "$app cannot TRUNCATE llm.$t" "$(app_sql "TRUNCATE llm.$t;")" "ERROR 42501 permission denied for table $t"
  check "$app cannot INSERT INTO llm.$t" "$(app_sql "INSERT INTO llm.$t DEFAULT VALUES;")" "ERROR 42501 permission denied for table $t"
done < "$work/tables"
check "$app cannot COPY a table out" "$(app_sql "COPY llm.turns TO STDOUT;")" "ERROR 42501 permission denied for table turns"

# --- Functions: only the session API --------------------------------------------------
# Every function and procedure of llm that llm_app is not granted, called (CALLed) with
# NULLs of its argument types: EXECUTE is checked before anything runs. Each NULL is a
# scalar subquery: the planner folds a STRICT function of a NULL constant to NULL without
# calling it, and then without checking EXECUTE either. (CALL takes no subquery, and has
# nothing to fold: a procedure gets plain NULLs.)
su -c "SELECT p.proname || '|' || CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END || '|'
              || format('%s %s(%s);', CASE p.prokind WHEN 'p' THEN 'CALL' ELSE 'SELECT' END, p.oid::regproc,
                COALESCE((SELECT string_agg(CASE p.prokind WHEN 'p' THEN 'NULL::' || format_type(t, NULL)
                                                 ELSE '(SELECT NULL::' || format_type(t, NULL) || ')' END, ', ' ORDER BY i)
                          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)), ''))
       FROM pg_proc p
       WHERE p.pronamespace = 'llm'::regnamespace AND p.prokind IN ('f', 'p')
         AND NOT has_function_privilege('llm_app', p.oid, 'EXECUTE')
       ORDER BY 1" > "$work/denied"
check "there are operator and internal functions to test" "$(grep -c . "$work/denied" | awk '{print ($1 >= 20)}')" 1
for f in cleanup_stale schedule_cleanup unschedule_cleanup stats restore_session purge_archive import_session index_turns _cleanup_batch; do
  check "the operator function $f is among them" "$(grep -c "^$f|function|" "$work/denied")" 1
done
check "the operator procedure run_cleanup is among them" "$(grep -c "^run_cleanup|procedure|CALL " "$work/denied")" 1
while IFS='|' read -r name kind call; do
  check "$app cannot call llm.$name" "$(app_sql "$call")" "ERROR 42501 permission denied for $kind $name"
done < "$work/denied"

# --- No objects in llm, no other identity -------------------------------------------
check "$app cannot create a table in llm" "$(app_sql "CREATE TABLE llm.intruder (x int);")" "ERROR 42501 permission denied for schema llm"
check "$app cannot create a function in llm" \
  "$(app_sql "CREATE FUNCTION llm.append_turn(text) RETURNS int LANGUAGE sql AS 'SELECT 1';")" "ERROR 42501 permission denied for schema llm"
check "$app cannot create a view in llm" "$(app_sql "CREATE VIEW llm.v AS SELECT 1;")" "ERROR 42501 permission denied for schema llm"
check "$app cannot become llm_admin" "$(app_sql "SET ROLE llm_admin;")" 'ERROR 42501 permission denied to set role "llm_admin"'
check "$app cannot become postgres" "$(app_sql "SET SESSION AUTHORIZATION postgres;")" 'ERROR 42501 permission denied to set session authorization "postgres"'
check "$app cannot grant itself llm_admin" "$(app_sql "GRANT llm_admin TO CURRENT_USER;")" 'ERROR 42501 must have admin option on role "llm_admin"'
check "$app cannot take over the functions" "$(app_sql "ALTER FUNCTION llm.create_session(text, text, text, jsonb) OWNER TO CURRENT_USER;")" \
  "ERROR 42501 must be owner of function create_session"
check "nothing was created in llm" "$(su -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'llm'::regnamespace AND relname IN ('intruder', 'v')")" 0

# --- search_path: look-alikes in a schema of the caller's, and temporary tables --------
# Each look-alike logs who ran it and tries to make the caller a superuser: harmless when
# the caller runs it, an escalation if a SECURITY DEFINER function (running as its
# superuser owner) ever resolved it.
app_sql "$(cat <<SQL
CREATE TABLE $evil.log (fn text, run_as text);
GRANT INSERT ON $evil.log TO PUBLIC;
CREATE FUNCTION $evil.escalate(fn text) RETURNS void LANGUAGE plpgsql AS \$f\$ BEGIN INSERT INTO $evil.log VALUES (fn, current_user); BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); EXCEPTION WHEN OTHERS THEN NULL; END; END \$f\$;
CREATE FUNCTION $evil.now() RETURNS timestamptz LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('now'); RETURN '2001-01-01'; END \$f\$;
CREATE FUNCTION $evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('clock_timestamp'); RETURN '2001-01-01'; END \$f\$;
CREATE FUNCTION $evil.random() RETURNS float8 LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('random'); RETURN 0.5; END \$f\$;
CREATE FUNCTION $evil.btrim(text) RETURNS text LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('btrim'); RETURN 'x'; END \$f\$;
CREATE FUNCTION $evil.length(text) RETURNS int LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('length'); RETURN 1; END \$f\$;
CREATE FUNCTION $evil.octet_length(text) RETURNS int LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('octet_length'); RETURN 1; END \$f\$;
CREATE FUNCTION $evil.lower(text) RETURNS text LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('lower'); RETURN \$1; END \$f\$;
CREATE FUNCTION $evil.quote_ident(text) RETURNS text LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('quote_ident'); RETURN 'HIJACKED'; END \$f\$;
CREATE FUNCTION $evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('jsonb_typeof'); RETURN 'object'; END \$f\$;
CREATE FUNCTION $evil.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('jsonb_build_object'); RETURN '{}'; END \$f\$;
CREATE FUNCTION $evil.jsonb_build_object(text, integer) RETURNS jsonb LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('jsonb_build_object'); RETURN '{}'; END \$f\$;
CREATE FUNCTION $evil.pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('pg_notify'); END \$f\$;
CREATE FUNCTION $evil.websearch_to_tsquery(regconfig, text) RETURNS tsquery LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('websearch_to_tsquery'); RETURN 'x'; END \$f\$;
CREATE FUNCTION $evil.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('='); RETURN true; END \$f\$;
CREATE OPERATOR $evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = $evil.eq);
CREATE FUNCTION $evil.cat(jsonb, jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('||'); RETURN '{}'; END \$f\$;
CREATE OPERATOR $evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = $evil.cat);
CREATE FUNCTION $evil.gt(integer, integer) RETURNS boolean LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM $evil.escalate('>'); RETURN false; END \$f\$;
CREATE OPERATOR $evil.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = $evil.gt);
CREATE TABLE $evil.sessions (LIKE pg_catalog.pg_class);
SQL
)" > "$work/evil_setup"
check "$app made its look-alikes without error" "$(grep -c ERROR "$work/evil_setup" || true)" 0
check "a look-alike works when the caller itself resolves it (the trap is armed)" \
  "$(app_sql "SET search_path = $evil, pg_catalog; SELECT quote_ident('x'); SELECT count(*) FROM $evil.log WHERE fn = 'quote_ident' AND run_as = '$app';
DELETE FROM $evil.log;" | tr '\n' ' ')" "HIJACKED 1 "

# Every client function, under the hostile path, with temporary tables named like ours.
app_sql "$(cat <<SQL
SET search_path = $evil, pg_temp, pg_catalog;
CREATE TEMP TABLE sessions (session_id text, turn_count int);
CREATE TEMP TABLE turns (session_id text, seq int);
CREATE TEMP TABLE archived_sessions (session_id text);
SELECT (llm.create_session('$app', 'hostile ctx') ->> 'session_id') ~ '^tap_login_app_[0-9_]+_[0-9]+_[0-9]{6}\$';
SELECT llm.append_turn('$sid', 'third question', 'third answer', 5)::text;
SELECT llm.append_turn('$sid', 'second question', 'retried', 4, '{}', NULL, 'rq') ->> 'replayed';
SELECT llm.get_session('$sid') ->> 'turn_count';
SELECT jsonb_array_length(llm.list_sessions('$app') -> 'sessions');
SELECT llm.get_session('tap_login_none_such') IS NULL;
SELECT llm.pin_session('$sid') ->> 'pinned';
SELECT llm.get_context('$sid', 100) ->> 'turns_included';
SELECT llm.pop_turn('$sid') ->> 'seq';
SELECT llm.fork_session('$sid', 1, '$fork') ->> 'turn_count';
SELECT llm.export_session('$sid') -> 'session' ->> 'turn_count';
SELECT jsonb_array_length(llm.search_turns('first', '$app') -> 'hits');  -- the session and its fork
SELECT llm.end_session('$fork');
SELECT llm.create_session('$app', NULL, ' ');
SELECT llm.get_session(repeat('x', 201));
SELECT llm.append_turn('tap_login_none_such', 'q', 'r');
SELECT count(*) FROM pg_temp.sessions;
SELECT count(*) FROM pg_temp.turns;
SQL
)" > "$work/hostile_calls"
append_line=$(sed -n 2p "$work/hostile_calls")
check "under the hostile path: a generated id is made with the real lower/regexp/random (no error)" "$(sed -n 1p "$work/hostile_calls")" t
check "append_turn appends seq 3 with the real = and || (the JSON is not swallowed)" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["seq"], d["turn_count"], d["total_tokens"], d["replayed"], d["session_id"])' "$append_line")" \
  "3 3 12 False $sid"
check "and with the real clock, not the look-alike's 2001" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["timestamp"][:4] != "2001")' "$append_line")" True
check "the rest of the API answers as it should" "$(sed -n '3,13p' "$work/hostile_calls" | tr '\n' ' ')" \
  "true 3 2 t true 3 3 1 2 2 t "
check "its checks use the real btrim, length and quote_ident" "$(sed -n '14,16p' "$work/hostile_calls" | tr '\n' '|')" \
  "ERROR 22023 session_id must not be blank|ERROR 22023 session_id is 201 characters long; the limit is 200|ERROR P0002 session tap_login_none_such does not exist|"
check "nothing went to the temporary look-alike tables" "$(sed -n '17,18p' "$work/hostile_calls" | tr '\n' ' ')" "0 0 "
check "no look-alike ran, as anyone" "$(su -c "SELECT count(*) FROM $evil.log")" 0
check "$app is still not a superuser" "$(su -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$app'")" f
check "the real tables hold what the API did: 2 turns, 7 tokens, pinned" \
  "$(su -c "SELECT turn_count || ' ' || total_tokens || ' ' || pinned FROM llm.sessions WHERE session_id = '$sid'")" "2 7 true"
check "the fork was made and ended in llm.sessions" "$(su -c "SELECT count(*) FROM llm.sessions WHERE session_id = '$fork'")" 0

# --- PUBLIC: a login role with no grants --------------------------------------------
check "$nobody logs in" "$(nobody_sql "SELECT current_user = '$nobody';")" t
check "$nobody cannot call the session API" "$(nobody_sql "SELECT llm.create_session('x');")" "ERROR 42501 permission denied for schema llm"
check "$nobody cannot read a table" "$(nobody_sql "SELECT count(*) FROM llm.sessions;")" "ERROR 42501 permission denied for schema llm"
check "$nobody cannot read a usage view" "$(nobody_sql "SELECT count(*) FROM llm.role_usage;")" "ERROR 42501 permission denied for schema llm"
check "$nobody has no privilege on any table, view or function of llm, nor the schema (catalog)" \
  "$(su -c "SELECT count(*) FROM (
      SELECT 1 FROM pg_class c WHERE c.relnamespace = 'llm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        AND (has_table_privilege('$nobody', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER'))
      UNION ALL
      SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace AND has_function_privilege('$nobody', p.oid, 'EXECUTE')
      UNION ALL
      SELECT 1 WHERE has_schema_privilege('$nobody', 'llm', 'USAGE') OR has_schema_privilege('$nobody', 'llm', 'CREATE')) x")" 0
check "no ACL of llm, its tables or its functions names PUBLIC" \
  "$(su -c "SELECT count(*) FROM (
      SELECT n.nspacl AS acl FROM pg_namespace n WHERE n.nspname = 'llm'
      UNION ALL SELECT c.relacl FROM pg_class c WHERE c.relnamespace = 'llm'::regnamespace
      UNION ALL SELECT p.proacl FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace) x, aclexplode(x.acl) a WHERE a.grantee = 0")" 0

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
