-- llm.role_usage and llm.daily_usage: usage per role and per day, for llm_admin only.
BEGIN;
\ir support/helpers.psql
SELECT plan(13);

SELECT lives_ok($$SELECT llm.create_session('tapusage', NULL, 'tap_use_' || i) FROM generate_series(1, 4) i$$, 'four sessions of role tapusage');
SELECT lives_ok($$SELECT llm.append_turn('tap_use_' || i, 'q', 'r', 10) FROM generate_series(1, 4) i, generate_series(1, i)$$, '1+2+3+4 turns of 10 tokens');
UPDATE llm.sessions SET last_query_at = now() - interval '2 hours' WHERE session_id = 'tap_use_1';
UPDATE llm.sessions SET last_query_at = now() - interval '20 years', created_at = '2001-02-03 12:00+00' WHERE session_id = 'tap_use_4';
SELECT lives_ok($$SELECT llm.pin_session('tap_use_2')$$, 'one pinned');
SELECT is(llm.cleanup_stale(interval '10 years', 1000, 'archive'), 1, 'one archived');

SELECT is((SELECT to_jsonb(u) FROM llm.role_usage u WHERE agent_role = 'tapusage'),
  jsonb_build_object('agent_role', 'tapusage', 'sessions', 3, 'turns', 6, 'tokens', 60, 'avg_turns_per_session', 2.00,
                     'idle_sessions', 1, 'active_sessions', 2, 'pinned_sessions', 1, 'archived_sessions', 1),
  'role_usage: live sessions, turns, tokens, average, idle and active, pinned, archived');
SELECT lives_ok($$SELECT llm.end_session('tap_use_' || i) FROM generate_series(1, 3) i$$, 'the live ones ended');
SELECT is((SELECT to_jsonb(u) FROM llm.role_usage u WHERE agent_role = 'tapusage'),
  jsonb_build_object('agent_role', 'tapusage', 'sessions', 0, 'turns', 0, 'tokens', 0, 'avg_turns_per_session', 0,
                     'idle_sessions', 0, 'active_sessions', 0, 'pinned_sessions', 0, 'archived_sessions', 1),
  'a role with only archived sessions still shows');
SELECT is((SELECT to_jsonb(d) FROM llm.daily_usage d WHERE agent_role = 'tapusage'),
  jsonb_build_object('day', '2001-02-03', 'agent_role', 'tapusage', 'sessions', 1, 'turns', 4, 'tokens', 40),
  'daily_usage counts the archived session on its UTC day of creation');
SELECT isnt(llm.stats(), NULL, 'stats() still works');

-- Operators only.
SELECT ok(NOT has_table_privilege('llm_app', 'llm.role_usage', 'SELECT') AND NOT has_table_privilege('llm_app', 'llm.daily_usage', 'SELECT'),
  'llm_app cannot read the views');
SELECT ok(NOT has_table_privilege('public', 'llm.role_usage', 'SELECT') AND NOT has_table_privilege('public', 'llm.daily_usage', 'SELECT'),
  'nor can PUBLIC');
SET LOCAL ROLE llm_app;
SELECT throws_ok($$SELECT * FROM llm.role_usage$$, '42501', 'permission denied for view role_usage', 'reading as llm_app is refused');
RESET ROLE;
SET LOCAL ROLE llm_admin;
SELECT lives_ok($$SELECT * FROM llm.role_usage, llm.daily_usage$$, 'llm_admin reads them');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
