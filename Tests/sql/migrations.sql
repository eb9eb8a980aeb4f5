-- llm._apply_migration: applies each file of Migrations/ once, records its checksum,
-- refuses edited history and out-of-order files, and applies all of a file or nothing.
BEGIN;
\ir support/helpers.psql
SELECT plan(39);

-- The files of this checkout (psql runs from the repository root), name and text.
\set migration_files `cd Migrations && for f in [0-9]*.sql; do printf '%s\t%s\n' "${f%.sql}" "$(base64 -w0 "$f")"; done`
CREATE TEMP TABLE migration_files AS
SELECT split_part(l, E'\t', 1) AS name, convert_from(decode(split_part(l, E'\t', 2), 'base64'), 'UTF8') AS body
FROM regexp_split_to_table(:'migration_files', E'\n') l WHERE l <> '';
\set m0001 `cat Migrations/0001_create_schema.sql`

CREATE FUNCTION pg_temp.bookkeeping() RETURNS text LANGUAGE sql AS $$
  SELECT md5(COALESCE(string_agg(m::text, E'\n' ORDER BY version), '')) FROM llm.schema_migrations m $$;

-- What is recorded.
SELECT ok((SELECT count(*) FROM migration_files) >= 1, 'the checkout has migration files');
SELECT is((SELECT array_agg(name ORDER BY name) FROM llm.schema_migrations), (SELECT array_agg(name ORDER BY name) FROM migration_files),
  'schema_migrations has one row per file of Migrations/');
SELECT is((SELECT count(*) FROM llm.schema_migrations m JOIN migration_files f USING (name) WHERE m.checksum = llm._checksum(f.body)),
  (SELECT count(*) FROM migration_files), 'each row has the checksum of the file''s text');
SELECT is((SELECT count(*) FROM llm.schema_migrations WHERE version <> split_part(name, '_', 1)::integer), 0::bigint,
  'each version is the number its name starts with');
SELECT is(llm._checksum(:'m0001'), encode(sha256(convert_to(:'m0001', 'UTF8')), 'hex'), 'the checksum is the sha256 of the text, in hex');

-- Trailing white space does not count (psql drops a file's final newline, other clients do not); anything else does.
SELECT is(llm._checksum(:'m0001' || E'\n'), llm._checksum(:'m0001'), 'a trailing newline does not change the checksum');
SELECT is(llm._checksum(:'m0001' || E'\r\n\n \t\n'), llm._checksum(:'m0001'), 'nor trailing blank lines, spaces, tabs and CRs');
SELECT isnt(llm._checksum(E'\n' || :'m0001'), llm._checksum(:'m0001'), 'a leading newline does');
SELECT isnt(llm._checksum(:'m0001' || ' -- x'), llm._checksum(:'m0001'), 'and so does any other change');

-- An applied file again: unchanged, and not executed again (0001 would fail: its tables exist).
SELECT is(llm._apply_migration('0001_create_schema', :'m0001'),
  jsonb_build_object('version', 1, 'name', '0001_create_schema', 'status', 'unchanged', 'checksum', llm._checksum(:'m0001')),
  'an applied migration is reported unchanged');
SELECT is(llm._apply_migration('0001_create_schema', :'m0001' || E'\n\n')->>'status', 'unchanged',
  'with trailing newlines added it is still unchanged');

-- Edited history is refused.
SELECT pg_temp.bookkeeping() AS before \gset
SELECT throws_ok(format('SELECT llm._apply_migration(%L, %L)', '0001_create_schema', :'m0001' || E'\n-- edited'), '55000',
  'migration 0001_create_schema was changed after it was applied', 'an edited applied migration raises 55000 naming the file');
CREATE TEMP TABLE edited AS SELECT pg_temp.error_of(format('SELECT llm._apply_migration(%L, %L)', '0001_create_schema', :'m0001' || E'\n-- edited')) AS e;
SELECT is(e->>'detail', format('applied as 0001_create_schema with checksum %s; the file now has checksum %s',
    llm._checksum(:'m0001'), llm._checksum(:'m0001' || E'\n-- edited')),
  'the detail gives both checksums') FROM edited;
SELECT matches(e->>'hint', 'add a new migration', 'the hint says to add a new migration instead') FROM edited;
SELECT throws_ok(format('SELECT llm._apply_migration(%L, %L)', '0001_renamed', :'m0001'), '55000',
  'migration 0001_renamed was changed after it was applied', 'the same version under another name is refused too');
SELECT is(pg_temp.bookkeeping(), :'before', 'the refusals changed no bookkeeping');

-- Names.
SELECT throws_ok($$SELECT llm._apply_migration('1_short', 'SELECT 1')$$, '22023',
  'migration file name ''1_short'' must look like 0001_what_changes.sql', 'fewer than four digits');
SELECT throws_ok($$SELECT llm._apply_migration('0002-dash', 'SELECT 1')$$, '22023',
  'migration file name ''0002-dash'' must look like 0001_what_changes.sql', 'no underscore after the number');
SELECT throws_ok($$SELECT llm._apply_migration('0002_Capital', 'SELECT 1')$$, '22023',
  'migration file name ''0002_Capital'' must look like 0001_what_changes.sql', 'capitals');
SELECT throws_ok($$SELECT llm._apply_migration('0002_probe.sql', 'SELECT 1')$$, '22023',
  'migration file name ''0002_probe.sql'' must look like 0001_what_changes.sql', 'the .sql suffix');
SELECT throws_ok($$SELECT llm._apply_migration(NULL, 'SELECT 1')$$, '22023',
  'migration file name <NULL> must look like 0001_what_changes.sql', 'a NULL name');
SELECT is(pg_temp.bookkeeping(), :'before', 'bad names changed no bookkeeping');

-- Forward only.
SELECT throws_ok($$SELECT llm._apply_migration('0000_before_everything', 'CREATE TABLE llm.tap_too_old (x int)')$$, '55000',
  format('migration 0000_before_everything is older than the latest applied migration (%s)', (SELECT max(version) FROM llm.schema_migrations)),
  'a number below the latest applied is refused');
SELECT is(to_regclass('llm.tap_too_old'), NULL, 'and its body did not run');

-- A new migration.
SELECT is(llm._apply_migration('9999_test_probe', 'CREATE TABLE llm.probe(x int)'),
  jsonb_build_object('version', 9999, 'name', '9999_test_probe', 'status', 'applied',
                     'checksum', encode(sha256('CREATE TABLE llm.probe(x int)'), 'hex')),
  'a new migration is applied and reported with its checksum');
SELECT isnt(to_regclass('llm.probe'), NULL, 'its body ran');
SELECT results_eq($$SELECT version, name, checksum, applied_at = now() FROM llm.schema_migrations WHERE version = 9999$$,
  $$VALUES (9999, '9999_test_probe', encode(sha256('CREATE TABLE llm.probe(x int)'), 'hex'), true)$$,
  'it is recorded in schema_migrations');
SELECT ok(EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted),
  'it took the migrators'' advisory lock, held until the transaction ends');
SELECT is(llm._apply_migration('9999_test_probe', 'CREATE TABLE llm.probe(x int)' || E'\n')->>'status', 'unchanged',
  'the second time it is unchanged (and not run again: CREATE TABLE would fail)');
SELECT throws_ok($$SELECT llm._apply_migration('5000_older', 'CREATE TABLE llm.tap_older (x int)')$$, '55000',
  'migration 5000_older is older than the latest applied migration (9999)', 'now 5000 is older than the latest');
SELECT is(to_regclass('llm.tap_older'), NULL, 'and was not run');

-- All or nothing.
SELECT pg_temp.bookkeeping() AS before \gset
SELECT throws_ok($$SELECT llm._apply_migration('10000_broken', 'CREATE TABLE llm.partial (x int); INSERT INTO llm.partial VALUES (1); SELECT 1/0;')$$,
  '22012', 'division by zero', 'a migration whose body fails raises the body''s error');
SELECT is(to_regclass('llm.partial'), NULL, 'it leaves no partial objects');
SELECT ok(NOT EXISTS (SELECT FROM llm.schema_migrations WHERE version = 10000), 'and no row');
SELECT is(pg_temp.bookkeeping(), :'before', 'the bookkeeping is as it was');
SELECT throws_ok($$SELECT llm._apply_migration('10000_unparsable', 'CREATE TABLE llm.partial (x int); CREAT TABLE oops')$$,
  '42601', NULL, 'a body with a syntax error raises 42601');
SELECT is(to_regclass('llm.partial'), NULL, 'and runs none of its statements');
SELECT is(llm._apply_migration('10000_fixed', 'CREATE TABLE llm.partial (x int)')->>'status', 'applied',
  'the number of a failed migration is still free');
SELECT is((SELECT array_agg(version ORDER BY version) FILTER (WHERE version >= 9999) FROM llm.schema_migrations), ARRAY[9999, 10000],
  'schema_migrations holds only the migrations that were applied');

SELECT * FROM finish();
ROLLBACK;
