-- llm._apply_api: runs a file of sql/api/ every time and records whether it changed.
BEGIN;
\ir support/helpers.psql
SELECT plan(25);

\set api_files `cd sql/api && for f in [0-9]*.sql; do printf '%s\t%s\n' "${f%.sql}" "$(base64 -w0 "$f")"; done`
CREATE TEMP TABLE api_files AS
SELECT split_part(l, E'\t', 1) AS name, convert_from(decode(split_part(l, E'\t', 2), 'base64'), 'UTF8') AS body
FROM regexp_split_to_table(:'api_files', E'\n') l WHERE l <> '';
\set privileges `cat sql/api/90_privileges.sql`

CREATE FUNCTION pg_temp.bookkeeping() RETURNS text LANGUAGE sql AS $$
  SELECT md5(COALESCE(string_agg(a::text, E'\n' ORDER BY name), '')) FROM llm.schema_api a $$;

SELECT ok((SELECT count(*) FROM api_files) >= 1, 'the checkout has API files');
SELECT is((SELECT array_agg(name ORDER BY name) FROM llm.schema_api), (SELECT array_agg(name ORDER BY name) FROM api_files),
  'schema_api has one row per file of sql/api/');
SELECT is((SELECT array_agg(f.name ORDER BY f.name) FROM api_files f JOIN llm.schema_api a USING (name) WHERE a.checksum <> llm._checksum(f.body)),
  NULL, 'the database runs the API files of this checkout (run scripts/migrate.sh if not)');

-- Re-applying every file as migrate does, in one transaction: all unchanged, and they are idempotent.
CREATE FUNCTION pg_temp.reapply_all() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE f record; v_statuses text[] := '{}';
BEGIN
  FOR f IN SELECT * FROM api_files ORDER BY name LOOP
    v_statuses := v_statuses || (llm._apply_api(f.name, f.body)->>'status');
  END LOOP;
  RETURN ARRAY(SELECT DISTINCT unnest(v_statuses));
EXCEPTION WHEN OTHERS THEN
  RETURN ARRAY['error: ' || SQLERRM];
END $$;
SELECT is(pg_temp.reapply_all(), ARRAY['unchanged'], 're-applying every API file, in order, reports each unchanged');
SELECT is(pg_temp.reapply_all(), ARRAY['unchanged'], 'and they can run again: API files are idempotent');
SELECT lives_ok($$SELECT llm.create_session('tap api', NULL, 'tap_api'), llm.append_turn('tap_api', 'q', 'r')$$,
  'the API still works after being re-applied');
SELECT ok(NOT has_function_privilege('public', 'llm.append_turn(text, text, text, integer, jsonb, integer, text)', 'EXECUTE')
          AND has_function_privilege('llm_app', 'llm.append_turn(text, text, text, integer, jsonb, integer, text)', 'EXECUTE'),
  'and its privileges are as they were');

-- A new file, then the same again, then an edited one.
SELECT is(llm._apply_api('95_tap_probe', 'CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$'),
  jsonb_build_object('name', '95_tap_probe', 'status', 'applied',
    'checksum', llm._checksum('CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$')),
  'a new API file is applied and reported with its checksum');
SELECT is(llm.tap_probe(), 1, 'its body ran');
SELECT is((SELECT checksum FROM llm.schema_api WHERE name = '95_tap_probe'),
  llm._checksum('CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$'), 'it is recorded in schema_api');
SELECT is(llm._apply_api('95_tap_probe', 'CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$' || E'\n')->>'status',
  'unchanged', 'the same text again (with a trailing newline) is unchanged');
SELECT is(llm._apply_api('95_tap_probe', 'CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 2 $$')->>'status',
  'updated', 'an edited API file is updated: API files are not history');
SELECT is(llm.tap_probe(), 2, 'and its new body ran');
SELECT is((SELECT checksum FROM llm.schema_api WHERE name = '95_tap_probe'),
  llm._checksum('CREATE OR REPLACE FUNCTION llm.tap_probe() RETURNS integer LANGUAGE sql AS $$ SELECT 2 $$'), 'with its new checksum recorded');

-- A new function is executable by PUBLIC until 90_privileges runs again.
SELECT ok(has_function_privilege('public', 'llm.tap_probe()', 'EXECUTE'), 'PostgreSQL grants a new function to PUBLIC');
SELECT is(pg_temp.error_of(format('SELECT llm._apply_api(%L, %L)', '90_privileges', :'privileges')), NULL, 're-applying 90_privileges');
SELECT ok(NOT has_function_privilege('public', 'llm.tap_probe()', 'EXECUTE'), 'revokes it from PUBLIC');

-- Names, and all or nothing.
SELECT pg_temp.bookkeeping() AS before \gset
SELECT throws_ok($$SELECT llm._apply_api('1_x', 'SELECT 1')$$, '22023', 'API file name ''1_x'' must look like 10_what_it_defines.sql',
  'one digit is refused');
SELECT throws_ok($$SELECT llm._apply_api('internal', 'SELECT 1')$$, '22023', 'API file name ''internal'' must look like 10_what_it_defines.sql',
  'no number is refused');
SELECT throws_ok($$SELECT llm._apply_api('10_Internal', 'SELECT 1')$$, '22023', 'API file name ''10_Internal'' must look like 10_what_it_defines.sql',
  'capitals are refused');
SELECT throws_ok($$SELECT llm._apply_api(NULL, 'SELECT 1')$$, '22023', 'API file name <NULL> must look like 10_what_it_defines.sql',
  'a NULL name is refused');
SELECT throws_ok($$SELECT llm._apply_api('96_tap_broken', 'CREATE FUNCTION llm.tap_half() RETURNS int LANGUAGE sql AS $b$ SELECT 1 $b$; SELECT 1/0')$$,
  '22012', 'division by zero', 'a failing API file raises its error');
SELECT is(to_regprocedure('llm.tap_half()'), NULL, 'and leaves none of its objects');
SELECT is(pg_temp.bookkeeping(), :'before', 'nor any bookkeeping');
SELECT ok(EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted),
  'applying API files holds the migrators'' advisory lock until the transaction ends');

SELECT * FROM finish();
ROLLBACK;
