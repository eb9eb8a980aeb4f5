-- llm.create_session: the session it returns, generated ids, and every argument it refuses.
BEGIN;
\ir support/helpers.psql
SELECT plan(73);

-- An explicit id: the whole session JSON.
CREATE TEMP TABLE made AS
SELECT llm.create_session('tap planner', 'You plan.', 'tap_cs_explicit', '{"team": "core", "n": 1}') AS j;

SELECT ok(j ?& ARRAY['agent_role', 'conversation_history', 'created_at', 'last_query_at', 'metadata',
                     'session_id', 'startup_context', 'total_tokens', 'turn_count'],
  'the session JSON has every key of the contract') FROM made;
SELECT is(j->>'session_id', 'tap_cs_explicit', 'an explicit session_id is kept') FROM made;
SELECT is(j->>'agent_role', 'tap planner', 'agent_role is returned as given') FROM made;
SELECT is(j->>'startup_context', 'You plan.', 'startup_context is returned') FROM made;
SELECT is(j->'metadata', '{"team": "core", "n": 1}'::jsonb, 'metadata is returned') FROM made;
SELECT is(j->'conversation_history', '[]'::jsonb, 'a new session has an empty history') FROM made;
SELECT is(j->'turn_count', '0'::jsonb, 'a new session has turn_count 0') FROM made;
SELECT is(j->'total_tokens', '0'::jsonb, 'a new session has total_tokens 0') FROM made;
SELECT is(j->>'created_at', j->>'last_query_at', 'a new session was last queried when it was created') FROM made;
SELECT ok((j->>'created_at')::timestamptz = now(), 'created_at is the transaction time') FROM made;
SELECT matches(j->>'created_at', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$',
  'timestamps are ISO 8601 with an offset') FROM made;

SELECT results_eq(
  $$SELECT session_id, agent_role, startup_context, metadata, turn_count, total_tokens
    FROM llm.sessions WHERE session_id = 'tap_cs_explicit'$$,
  $$VALUES ('tap_cs_explicit', 'tap planner', 'You plan.', '{"n": 1, "team": "core"}'::jsonb, 0, 0::bigint)$$,
  'the row stored is the session returned');
SELECT is(llm.get_session('tap_cs_explicit'), (SELECT j FROM made), 'get_session returns the same JSON');

-- Defaults: no startup context, empty metadata.
CREATE TEMP TABLE minimal AS SELECT llm.create_session('tap minimal', session_id => 'tap_cs_minimal') AS j;
SELECT is(llm.get_session('tap_cs_minimal'), (SELECT j FROM minimal), 'defaults: the session is stored as returned');
SELECT ok(llm.get_session('tap_cs_minimal')->'startup_context' = 'null'::jsonb,
  'without startup_context it is JSON null');
SELECT is(llm.get_session('tap_cs_minimal')->'metadata', '{}'::jsonb, 'metadata defaults to {}');
SELECT is(llm.create_session('tap empty ctx', '', 'tap_cs_empty_ctx')->>'startup_context', '',
  'an empty startup_context is kept as an empty string, not NULL');

-- Generated ids: <role slug>_<unix seconds>_<6 digits>.
SELECT matches(llm.create_session('tap_gen')->>'session_id', '^[a-z0-9_]+_[0-9]{10}_[0-9]{6}$',
  'a generated id looks like role_1762844141_407770');
SELECT matches(llm.create_session('tap_gen')->>'session_id', '^tap_gen_[0-9]{10}_[0-9]{6}$',
  'a generated id starts with the role');
SELECT matches(llm.create_session('tap Chief Exec!! (EMEA)')->>'session_id', '^tap_chief_exec_emea_[0-9]{10}_[0-9]{6}$',
  'the role is slugged: lower case, runs of other characters become one underscore, none at the ends');
SELECT matches(llm.create_session('tap Développeur')->>'session_id', '^tap_d_veloppeur_[0-9]{10}_[0-9]{6}$',
  'non-ASCII letters are slugged too');
SELECT matches(llm.create_session('  ¡¿!?  ')->>'session_id', '^session_[0-9]{10}_[0-9]{6}$',
  'a role with nothing to slug gives ids starting with "session"');
SELECT matches(llm.create_session('tap' || repeat('a', 97))->>'session_id', '^tap' || repeat('a', 37) || '_[0-9]{10}_[0-9]{6}$',
  'the slug is cut to 40 characters (a 100-character role)');
SELECT matches(llm.create_session('tap' || repeat('a', 36) || ' bcd')->>'session_id', '^tap' || repeat('a', 36) || '_[0-9]{10}_[0-9]{6}$',
  'a cut that ends on an underscore drops it: no double underscore in the id');
SELECT is((SELECT agent_role FROM llm.sessions WHERE session_id LIKE 'tap_chief_exec_emea_%'), 'tap Chief Exec!! (EMEA)',
  'the role itself is stored unslugged');
SELECT ok(abs(split_part(llm.create_session('tap_gen')->>'session_id', '_', 3)::bigint
              - extract(epoch FROM clock_timestamp())) < 60,
  'the seconds in a generated id are the current unix time');
SELECT is((SELECT count(DISTINCT llm.create_session('tap_burst')->>'session_id') FROM generate_series(1, 50)), 50::bigint,
  '50 ids generated for one role within a second are all different');
SELECT is((SELECT count(*) FROM llm.sessions WHERE agent_role = 'tap_burst'), 50::bigint,
  'and all 50 sessions exist');

-- Refused arguments: 22023, and nothing is written.
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session(NULL)$$, '22023', 'agent_role must not be NULL', 'NULL agent_role');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('', NULL, 'tap_cs_x')$$, '22023', 'agent_role must not be blank', 'empty agent_role');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('    ', NULL, 'tap_cs_x')$$, '22023', 'agent_role must not be blank',
  'agent_role of spaces');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session(repeat('r', 101), NULL, 'tap_cs_x')$$, '22023',
  'agent_role is 101 characters long; the limit is 100', 'a 101-character agent_role');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, '')$$, '22023', 'session_id must not be blank', 'empty session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, '   ')$$, '22023', 'session_id must not be blank', 'blank session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, E'\t\n ')$$, '22023', 'session_id must not be blank',
  'a session_id of tabs and newlines is blank too');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session(E'\t', NULL, 'tap_cs_x')$$, '22023', 'agent_role must not be blank',
  'an agent_role of a tab is blank');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap' || repeat('i', 198))$$, '22023',
  'session_id is 201 characters long; the limit is 200', 'a 201-character session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', repeat('x', 16777217), 'tap_cs_x')$$, '22023',
  'startup_context is 16777217 bytes; the limit is 16 MiB (16777216 bytes)', 'a startup_context over 16 MiB');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', '[1, 2]')$$, '22023',
  'metadata must be a JSON object, not array', 'metadata that is an array');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', '"text"')$$, '22023',
  'metadata must be a JSON object, not string', 'metadata that is a string');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', 'null')$$, '22023',
  'metadata must be a JSON object, not null', 'metadata that is JSON null');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', NULL)$$, '22023',
  'metadata must be a JSON object, not NULL', 'metadata that is SQL NULL');
SELECT is(pg_temp.error_of($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', NULL)$$)->>'hint',
  'Pass ''{}'' for no metadata.', 'the metadata error hints at {}');
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', jsonb_build_object('k', repeat('m', 1048576 - 8)))$$,
  '22023', 'metadata is 1048577 bytes; the limit is 1 MiB', 'metadata one byte over 1 MiB');
-- A large but compressible value read from a table may reach the check still
-- compressed (3 MB of one letter is 34 kB) when the calling plan is generic: it is measured whole.
CREATE TEMP TABLE compressible AS SELECT jsonb_build_object('k', repeat('m', 3000000)) AS meta;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap', NULL, 'tap_cs_x', meta) FROM compressible$$, '22023',
  'metadata is 3000009 bytes; the limit is 1 MiB', 'compressible metadata of 3 MB read from a table, generic plan');
RESET plan_cache_mode;
SELECT ok(NOT EXISTS (SELECT FROM llm.sessions WHERE session_id = 'tap_cs_x'), 'no refused session was created');

-- A duplicate id: 23505 naming the session and the constraint; the original is untouched.
SELECT pg_temp.throws_cleanly($$SELECT llm.create_session('tap other', 'other', 'tap_cs_explicit')$$, '23505',
  'session tap_cs_explicit already exists', 'a duplicate session_id');
SELECT is(pg_temp.error_of($$SELECT llm.create_session('tap other', 'other', 'tap_cs_explicit')$$)->>'constraint',
  'sessions_pkey', 'the duplicate error names the constraint sessions_pkey');
SELECT matches(pg_temp.error_of($$SELECT llm.create_session('tap other', 'other', 'tap_cs_explicit')$$)->>'hint',
  'append_turn', 'the duplicate error hints at continuing with append_turn');
SELECT is(pg_temp.error_of($$SELECT llm.create_session('tap', NULL, 'Tap Mixed Case')$$), NULL,
  'a session id with capitals and spaces is accepted');
SELECT is(pg_temp.error_of($$SELECT llm.create_session('tap', NULL, 'Tap Mixed Case')$$)->>'message',
  'session "Tap Mixed Case" already exists', 'an id that needs quoting is quoted in the message');
SELECT is(llm.get_session('tap_cs_explicit'), (SELECT j FROM made), 'the existing session is unchanged after the duplicate');

-- Limits that are accepted.
SELECT lives_ok($$SELECT llm.create_session(repeat('r', 100), NULL, 'tap_cs_role100')$$, 'a 100-character role is accepted');
SELECT lives_ok($$SELECT llm.create_session('tap', NULL, 'tap' || repeat('i', 197))$$, 'a 200-character session_id is accepted');
SELECT lives_ok($$SELECT llm.create_session('tap', repeat('c', 16777216), 'tap_cs_ctx16')$$,
  'a startup_context of exactly 16 MiB is accepted');
SELECT lives_ok($$SELECT llm.create_session('tap', NULL, 'tap_cs_meta_1mib', jsonb_build_object('k', repeat('m', 1048576 - 9)))$$,
  'metadata of exactly 1 MiB of JSON text ({"k": "mm…"}) is accepted');

SELECT * FROM finish();
ROLLBACK;
