-- Who may do what: nothing for PUBLIC, the session API for llm_app, maintenance and reading for llm_admin.
BEGIN;
\ir support/helpers.psql
SELECT plan(105);

-- The API as the contract lists it (looked up by name: schema.sql checks the signatures).
CREATE TEMP TABLE api AS
SELECT p.oid::regprocedure AS fn, r.role
FROM (VALUES ('create_session', 'llm_app'), ('append_turn', 'llm_app'), ('get_session', 'llm_app'),
             ('end_session', 'llm_app'), ('list_sessions', 'llm_app'), ('cleanup_stale', 'llm_admin'),
             ('schedule_cleanup', 'llm_admin'), ('unschedule_cleanup', 'llm_admin'), ('stats', 'llm_admin')) r(name, role)
LEFT JOIN pg_proc p ON p.proname = r.name AND p.pronamespace = 'llm'::regnamespace;
GRANT SELECT ON api TO PUBLIC;
SELECT is((SELECT count(DISTINCT fn) FROM api), 9::bigint, 'the nine API functions exist, one of each name');

-- The roles.
SELECT ok(NOT rolcanlogin, rolname || ' cannot log in') FROM pg_roles WHERE rolname IN ('llm_app', 'llm_admin') ORDER BY rolname;
SELECT ok(pg_has_role('llm_admin', 'llm_app', 'MEMBER'), 'llm_admin is a member of llm_app');
SELECT ok(NOT pg_has_role('llm_app', 'llm_admin', 'MEMBER'), 'llm_app is not a member of llm_admin');
SELECT ok(NOT rolsuper AND NOT rolbypassrls AND NOT rolcreaterole AND NOT rolcreatedb, rolname || ' has no special attribute')
FROM pg_roles WHERE rolname IN ('llm_app', 'llm_admin') ORDER BY rolname;

-- Nothing is granted to PUBLIC (grantee 0 in an ACL); no ACL is NULL, the default that grants PUBLIC.
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'llm'::regnamespace AND proacl IS NULL), 0::bigint,
  'every function of schema llm has an explicit ACL');
SELECT is((SELECT array_agg(p.oid::regprocedure::text) FROM pg_proc p, aclexplode(p.proacl) a
           WHERE p.pronamespace = 'llm'::regnamespace AND a.grantee = 0), NULL,
  'no function of schema llm is granted to PUBLIC');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'llm'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND relacl IS NULL),
  0::bigint, 'every table of schema llm has an explicit ACL');
SELECT is((SELECT array_agg(c.relname::text) FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.relnamespace = 'llm'::regnamespace AND a.grantee = 0), NULL,
  'no table of schema llm is granted to PUBLIC');
SELECT is((SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'llm' AND a.grantee = 0), 0::bigint,
  'schema llm is not granted to PUBLIC');
SELECT isnt((SELECT nspacl FROM pg_namespace WHERE nspname = 'llm'), NULL, 'schema llm has an explicit ACL');
SELECT ok(has_schema_privilege(r, 'llm', 'USAGE') AND NOT has_schema_privilege(r, 'llm', 'CREATE'),
  r || ' may use schema llm but not create in it') FROM unnest(ARRAY['llm_app', 'llm_admin']) r;

-- EXECUTE, as the catalog says it.
SELECT is((SELECT array_agg(fn::text ORDER BY fn::text) FROM api WHERE has_function_privilege('llm_app', fn, 'EXECUTE')),
  (SELECT array_agg(fn::text ORDER BY fn::text) FROM api WHERE role = 'llm_app'),
  'of the API, llm_app may execute exactly the five session functions');
SELECT is((SELECT array_agg(fn::text ORDER BY fn::text) FROM api WHERE has_function_privilege('llm_admin', fn, 'EXECUTE')),
  (SELECT array_agg(fn::text ORDER BY fn::text) FROM api),
  'llm_admin may execute all nine');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND p.proname LIKE '\_%'
             AND has_function_privilege('llm_app', p.oid, 'EXECUTE')),
  NULL, 'no internal function (name starting with _) is executable by llm_app');
-- run_cleanup is a procedure that commits, so it runs with its caller's rights: its
-- caller needs EXECUTE on the SECURITY DEFINER batch it repeats, and on nothing else internal.
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND p.proname LIKE '\_%'
             AND has_function_privilege('llm_admin', p.oid, 'EXECUTE')),
  ARRAY['llm._cleanup_batch(interval,integer,text,timestamp with time zone,timestamp with time zone,text)',
        'llm._cleanup_pace(double precision,integer,integer,timestamp with time zone)'],
  'of the internal functions, llm_admin may execute only _cleanup_batch and _cleanup_pace, the batch and the pacing of run_cleanup');
SELECT is((SELECT array_agg(p.oid::regprocedure::text || ':' || has_function_privilege('llm_app', p.oid, 'EXECUTE')
                            || ':' || has_function_privilege('llm_admin', p.oid, 'EXECUTE') ORDER BY p.oid::regprocedure::text)
           FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace AND p.prokind = 'p'),
  ARRAY['llm.run_cleanup(interval,integer,text,double precision,integer):false:true'],
  'the one procedure, run_cleanup, is executable by llm_admin and not by llm_app');

-- Every API function runs as its owner with a pinned search_path; nothing else is SECURITY DEFINER.
SELECT ok(p.prosecdef, fn::text || ' is SECURITY DEFINER') FROM api JOIN pg_proc p ON p.oid = api.fn ORDER BY fn::text;
SELECT is(p.proconfig, ARRAY['search_path=pg_catalog, pg_temp'], fn::text || ' pins search_path to pg_catalog, pg_temp')
FROM api JOIN pg_proc p ON p.oid = api.fn ORDER BY fn::text;
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND p.prosecdef
             AND NOT (p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
                      AND p.proconfig <@ ARRAY['search_path=pg_catalog, pg_temp', 'enable_seqscan=off', 'plan_cache_mode=force_generic_plan'])),
  NULL, 'every SECURITY DEFINER function of schema llm pins search_path to pg_catalog, pg_temp (and sets at most enable_seqscan and plan_cache_mode besides)');
SELECT is((SELECT array_agg(p.oid::regprocedure::text || ' ' || array_to_string(p.proconfig, '; ') ORDER BY p.oid::regprocedure::text)
           FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace AND p.proconfig && ARRAY['enable_seqscan=off', 'plan_cache_mode=force_generic_plan']),
  ARRAY['llm._cleanup_batch(interval,integer,text,timestamp with time zone,timestamp with time zone,text) search_path=pg_catalog, pg_temp; enable_seqscan=off; plan_cache_mode=force_generic_plan'],
  'only _cleanup_batch turns sequential scans off and keeps generic plans, with its search_path pinned too');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND p.proname LIKE '\_%' AND p.prosecdef),
  ARRAY['llm._cleanup_batch(interval,integer,text,timestamp with time zone,timestamp with time zone,text)',
        'llm._cleanup_pace(double precision,integer,integer,timestamp with time zone)'],
  'the only internal SECURITY DEFINER functions are _cleanup_batch and _cleanup_pace (run_cleanup cannot be one, so its parts are)');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND NOT COALESCE('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
             AND (p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'sql') OR p.proname NOT LIKE '\_%')),
  ARRAY['llm.run_cleanup(interval,integer,text,double precision,integer)'],
  'only internal LANGUAGE sql helpers (inlinable, every name qualified) and the procedure run_cleanup run without a pinned search_path');
-- PostgreSQL refuses COMMIT in a SECURITY DEFINER procedure or one with a SET clause: run_cleanup has neither.
SELECT is((SELECT jsonb_build_object('prokind', p.prokind, 'prosecdef', p.prosecdef, 'proconfig', p.proconfig) FROM pg_proc p
           WHERE p.oid = 'llm.run_cleanup(interval, integer, text, float8, integer)'::regprocedure),
  '{"prokind": "p", "prosecdef": false, "proconfig": null}'::jsonb,
  'run_cleanup is a procedure, SECURITY INVOKER, without a SET clause (it commits)');
SELECT ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace
           AND p.proname IN ('_turn_json', '_summary_json', '_session_json')
           AND NOT COALESCE('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)) = 3,
  'such as the three JSON helpers');
SELECT is((SELECT array_agg(DISTINCT r.rolsuper) FROM api JOIN pg_proc p ON p.oid = api.fn JOIN pg_roles r ON r.oid = p.proowner),
  ARRAY[true], 'the API functions are owned by a superuser, so their definer rights reach the tables');

-- Table privileges, as the catalog says them.
SELECT is((SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
           WHERE has_table_privilege('llm_app', t, p)), NULL, 'llm_app has no privilege on ' || t)
FROM unnest(ARRAY['llm.sessions', 'llm.turns', 'llm.schema_migrations', 'llm.schema_api']) t;
SELECT is((SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
           WHERE has_table_privilege('llm_admin', t, p)), ARRAY['SELECT'], 'llm_admin may only SELECT ' || t)
FROM unnest(ARRAY['llm.sessions', 'llm.turns', 'llm.schema_migrations', 'llm.schema_api']) t;

-- A session to work on, made by the superuser.
SELECT lives_ok($$SELECT llm.create_session('tap priv', NULL, 'tap_pv'), llm.append_turn('tap_pv', 'q', 'r', 1)$$, 'a session');

-- As llm_app: the session API works.
SET LOCAL ROLE llm_app;
SELECT is(current_user::text, 'llm_app', 'now acting as llm_app');
SELECT lives_ok($$SELECT llm.create_session('tap priv', 'ctx', 'tap_pv_app')$$, 'llm_app creates a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_pv_app', 'q', 'r', 3, '{}', 0, 'rq')$$, 'llm_app appends a turn');
SELECT is(llm.get_session('tap_pv_app')->'turn_count', '1'::jsonb, 'llm_app reads it back');
SELECT is(llm.list_sessions('tap priv')->'sessions'->0->>'session_id', 'tap_pv_app', 'llm_app lists sessions');
SELECT is(llm.end_session('tap_pv'), true, 'llm_app ends a session');
SELECT throws_ok($$SELECT llm.append_turn('tap_pv_app', 'q', 'r', 3, '{}', 0)$$, '40001', NULL,
  'llm_app gets the API''s own errors, not permission errors');

-- ... and nothing else.
SELECT throws_ok($$SELECT llm.cleanup_stale()$$, '42501', 'permission denied for function cleanup_stale', 'llm_app cannot run cleanup_stale');
SELECT throws_ok($$SELECT llm.schedule_cleanup()$$, '42501', 'permission denied for function schedule_cleanup', 'llm_app cannot run schedule_cleanup');
SELECT throws_ok($$SELECT llm.unschedule_cleanup()$$, '42501', 'permission denied for function unschedule_cleanup', 'llm_app cannot run unschedule_cleanup');
SELECT throws_ok($$SELECT llm.stats()$$, '42501', 'permission denied for function stats', 'llm_app cannot run stats');
SELECT throws_ok($$CALL llm.run_cleanup()$$, '42501', 'permission denied for procedure run_cleanup', 'llm_app cannot call run_cleanup');
SELECT throws_ok($$SELECT * FROM llm._cleanup_batch('1 hour', 10, 'delete', now(), NULL, NULL)$$, '42501',
  'permission denied for function _cleanup_batch', 'llm_app cannot run a cleanup batch');
SELECT throws_ok($$SELECT llm._apply_migration('9999_tap', 'SELECT 1')$$, '42501', 'permission denied for function _apply_migration',
  'llm_app cannot apply a migration');
SELECT throws_ok($$SELECT llm._apply_api('99_tap', 'SELECT 1')$$, '42501', 'permission denied for function _apply_api',
  'llm_app cannot apply an API file');
SELECT throws_ok($$SELECT llm._require_id('x', 'y')$$, '42501', 'permission denied for function _require_id', 'llm_app cannot call _require_id');
SELECT throws_ok($$SELECT llm._require_text('x', 'y')$$, '42501', 'permission denied for function _require_text', 'llm_app cannot call _require_text');
SELECT throws_ok($$SELECT llm._require_metadata('{}')$$, '42501', 'permission denied for function _require_metadata', 'llm_app cannot call _require_metadata');
SELECT throws_ok($$SELECT llm._require_range('x', 1, 0, 2)$$, '42501', 'permission denied for function _require_range', 'llm_app cannot call _require_range');
SELECT throws_ok($$SELECT llm._require_pg_cron()$$, '42501', 'permission denied for function _require_pg_cron', 'llm_app cannot call _require_pg_cron');
SELECT throws_ok($$SELECT llm._checksum('x')$$, '42501', 'permission denied for function _checksum', 'llm_app cannot call _checksum');
SELECT throws_ok($$SELECT llm._lock_migrations()$$, '42501', 'permission denied for function _lock_migrations', 'llm_app cannot take the migration lock');
SELECT throws_ok($$SELECT * FROM llm.sessions$$, '42501', 'permission denied for table sessions', 'llm_app cannot SELECT sessions');
SELECT throws_ok($$SELECT * FROM llm.turns$$, '42501', 'permission denied for table turns', 'llm_app cannot SELECT turns');
SELECT throws_ok($$INSERT INTO llm.sessions (session_id, agent_role) VALUES ('tap_pv_direct', 'x')$$, '42501',
  'permission denied for table sessions', 'llm_app cannot INSERT sessions');
SELECT throws_ok($$INSERT INTO llm.turns (session_id, seq, question, response) VALUES ('tap_pv_app', 2, 'q', 'r')$$, '42501',
  'permission denied for table turns', 'llm_app cannot INSERT turns');
SELECT throws_ok($$UPDATE llm.sessions SET turn_count = 0$$, '42501', 'permission denied for table sessions', 'llm_app cannot UPDATE sessions');
SELECT throws_ok($$UPDATE llm.turns SET tokens = 0$$, '42501', 'permission denied for table turns', 'llm_app cannot UPDATE turns');
SELECT throws_ok($$DELETE FROM llm.sessions$$, '42501', 'permission denied for table sessions', 'llm_app cannot DELETE sessions');
SELECT throws_ok($$DELETE FROM llm.turns$$, '42501', 'permission denied for table turns', 'llm_app cannot DELETE turns');
SELECT throws_ok($$TRUNCATE llm.turns$$, '42501', 'permission denied for table turns', 'llm_app cannot TRUNCATE turns');
SELECT throws_ok($$SELECT * FROM llm.schema_migrations$$, '42501', 'permission denied for table schema_migrations',
  'llm_app cannot read the migration bookkeeping');
SELECT throws_ok($$CREATE TABLE llm.tap_intruder (x int)$$, '42501', 'permission denied for schema llm', 'llm_app cannot create a table in llm');
SELECT throws_ok($$CREATE FUNCTION llm.append_turn_fast() RETURNS int LANGUAGE sql AS 'SELECT 1'$$, '42501',
  'permission denied for schema llm', 'llm_app cannot create a function in llm');
RESET ROLE;

SELECT results_eq($$SELECT turn_count, total_tokens FROM llm.sessions WHERE session_id = 'tap_pv_app'$$, $$VALUES (1, 3::bigint)$$,
  'what llm_app did through the API is stored, nothing more');
SELECT is(to_regclass('llm.tap_intruder'), NULL, 'and it created nothing');

-- As llm_admin: maintenance and reading, but still no writing.
SET LOCAL ROLE llm_admin;
SELECT is(current_user::text, 'llm_admin', 'now acting as llm_admin');
SELECT lives_ok($$SELECT llm.cleanup_stale(interval '100 years')$$, 'llm_admin runs cleanup_stale');
SELECT lives_ok($$SELECT llm.stats()$$, 'llm_admin runs stats');
SELECT lives_ok($$SELECT * FROM llm._cleanup_batch(interval '100 years', 10, 'archive', now(), NULL, NULL)$$,
  'llm_admin runs a cleanup batch (what run_cleanup does with its rights)');
-- run_cleanup commits, which this test's transaction cannot: reaching its COMMIT is as far as it gets here.
SELECT throws_ok($$CALL llm.run_cleanup(busy_share => 0)$$, '22023', 'busy_share must be between 0.01 and 1, not 0',
  'llm_admin calls run_cleanup (which checks its busy_share through _cleanup_pace)');
SELECT throws_ok($$CALL llm.run_cleanup(interval '100 years')$$, '2D000', 'invalid transaction termination',
  'and runs its first batch as far as the COMMIT after it, which a transaction block refuses');
SELECT lives_ok($$SELECT llm.get_session('tap_pv_app'), llm.append_turn('tap_pv_app', 'q', 'r')$$, 'llm_admin may use the session API too');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_pv_app'), 2::bigint, 'llm_admin reads llm.turns');
SELECT is((SELECT turn_count FROM llm.sessions WHERE session_id = 'tap_pv_app'), 2, 'llm_admin reads llm.sessions');
SELECT ok((SELECT count(*) FROM llm.schema_migrations) >= 1, 'llm_admin reads the migration bookkeeping');
SELECT throws_ok($$INSERT INTO llm.sessions (session_id, agent_role) VALUES ('tap_pv_direct', 'x')$$, '42501',
  'permission denied for table sessions', 'llm_admin cannot INSERT sessions');
SELECT throws_ok($$UPDATE llm.sessions SET turn_count = 0 WHERE session_id = 'tap_pv_app'$$, '42501',
  'permission denied for table sessions', 'llm_admin cannot UPDATE sessions');
SELECT throws_ok($$DELETE FROM llm.turns WHERE session_id = 'tap_pv_app'$$, '42501', 'permission denied for table turns',
  'llm_admin cannot DELETE turns');
SELECT throws_ok($$SELECT llm._apply_migration('9999_tap', 'SELECT 1')$$, '42501', 'permission denied for function _apply_migration',
  'llm_admin cannot apply a migration');
SELECT throws_ok($$CREATE TABLE llm.tap_intruder (x int)$$, '42501', 'permission denied for schema llm', 'llm_admin cannot create in llm');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
