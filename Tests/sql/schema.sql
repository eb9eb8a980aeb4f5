-- The schema behind the API: the tables' keys keep session_id first (scale-out, see
-- shared/SCALE.md), constraints are named after their invariant, and the API has
-- the signatures, defaults and volatility that the contract documents.
BEGIN;
SELECT plan(33);

SELECT has_schema('llm', 'schema llm exists');
SELECT has_table('llm', 'sessions', 'llm.sessions exists');
SELECT has_table('llm', 'turns', 'llm.turns exists');
SELECT col_is_pk('llm', 'sessions', ARRAY['session_id'], 'sessions are keyed by session_id');
SELECT col_is_pk('llm', 'turns', ARRAY['session_id', 'seq'], 'turns are keyed by (session_id, seq)');
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'llm' AND indexname = 'turns_request_id_is_unique_per_session'),
  'CREATE UNIQUE INDEX turns_request_id_is_unique_per_session ON llm.turns USING btree (session_id, request_id) WHERE (request_id IS NOT NULL)',
  'a request_id is unique within its session (a partial index: turns without one are not in it)');
SELECT fk_ok('llm', 'turns', 'session_id', 'llm', 'sessions', 'session_id', 'turns reference their session');
SELECT is((SELECT confdeltype FROM pg_constraint WHERE conname = 'turns_session_fkey' AND conrelid = 'llm.turns'::regclass), 'c',
  'deleting a session cascades to its turns');
SELECT is((SELECT array_agg(conname::text ORDER BY conname::text) FROM pg_constraint c
           WHERE c.conrelid IN ('llm.sessions'::regclass, 'llm.turns'::regclass) AND c.contype IN ('p', 'u', 'f')
             AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'session_id') = ANY (c.conkey)),
  NULL, 'every primary, unique and foreign key includes session_id');
SELECT is((SELECT count(*) FROM pg_index i WHERE i.indrelid IN ('llm.sessions'::regclass, 'llm.turns'::regclass) AND i.indisunique
             AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = 'session_id') = ANY (i.indkey::int2[])),
  0::bigint, 'every unique index includes session_id');
SELECT is((SELECT array_agg(conname::text ORDER BY conname::text) FROM pg_constraint WHERE conrelid = 'llm.sessions'::regclass AND contype = 'c'
             AND conname NOT LIKE 'parent%' AND conname NOT LIKE 'pinned%' AND conname NOT LIKE 'session_is_not_its_own_parent'),
  ARRAY['agent_role_is_at_most_100_chars', 'agent_role_is_not_blank', 'metadata_is_object', 'session_id_is_at_most_200_chars',
        'session_id_is_not_blank', 'startup_context_is_at_most_16_mib', 'total_tokens_is_not_negative', 'turn_count_is_not_negative'],
  'the checks on sessions are named after their invariant');
SELECT is((SELECT array_agg(conname::text ORDER BY conname::text) FROM pg_constraint WHERE conrelid = 'llm.turns'::regclass AND contype = 'c'
             AND conname IN (SELECT unnest(ARRAY['question_is_at_most_16_mib', 'request_id_is_at_most_200_chars', 'request_id_is_not_blank',
               'response_is_at_most_16_mib', 'seq_is_positive', 'tokens_is_not_negative', 'turn_metadata_is_object']))),
  ARRAY['question_is_at_most_16_mib', 'request_id_is_at_most_200_chars', 'request_id_is_not_blank', 'response_is_at_most_16_mib',
        'seq_is_positive', 'tokens_is_not_negative', 'turn_metadata_is_object'],
  'the checks on turns are named after their invariant');
SELECT col_type_is('llm', 'sessions', 'total_tokens', 'bigint', 'total_tokens is a bigint: the sum of many integer token counts');
SELECT col_type_is('llm', 'sessions', 'last_query_at', 'timestamp with time zone', 'times are timestamptz');
SELECT has_index('llm', 'sessions', 'sessions_last_query_at_idx', ARRAY['last_query_at', 'session_id'],
  'list_sessions'' keyset (last_query_at, session_id) is an index');
SELECT has_index('llm', 'sessions', 'sessions_agent_role_idx', ARRAY['agent_role', 'last_query_at', 'session_id'],
  'and so is the keyset within one role');
-- A constraint backs the functions' checks even for a superuser writing directly.
SELECT throws_ok($$INSERT INTO llm.turns (session_id, seq, question, response, tokens) VALUES ('tap_none', 0, 'q', 'r', 0)$$, '23514',
  'new row for relation "turns" violates check constraint "seq_is_positive"', 'seq 0 violates seq_is_positive');
SELECT throws_ok($$INSERT INTO llm.sessions (session_id, agent_role, metadata) VALUES ('tap_direct', 'r', '[]')$$, '23514',
  'new row for relation "sessions" violates check constraint "metadata_is_object"', 'array metadata violates metadata_is_object');

-- The API's signatures, as the contract documents them, with their defaults.
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'create_session' AND pronamespace = 'llm'::regnamespace)),
  'agent_role text, startup_context text DEFAULT NULL::text, session_id text DEFAULT NULL::text, metadata jsonb DEFAULT ''{}''::jsonb',
  'create_session(agent_role, startup_context, session_id, metadata)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'append_turn' AND pronamespace = 'llm'::regnamespace)),
  'session_id text, question text, response text, tokens integer DEFAULT 0, metadata jsonb DEFAULT ''{}''::jsonb, expected_turn_count integer DEFAULT NULL::integer, request_id text DEFAULT NULL::text',
  'append_turn(session_id, question, response, tokens, metadata, expected_turn_count, request_id)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'get_session' AND pronamespace = 'llm'::regnamespace)),
  'session_id text, last_n integer DEFAULT NULL::integer', 'get_session(session_id, last_n)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'end_session' AND pronamespace = 'llm'::regnamespace)), 'session_id text', 'end_session(session_id)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'list_sessions' AND pronamespace = 'llm'::regnamespace)),
  'agent_role text DEFAULT NULL::text, max_rows integer DEFAULT 100, before timestamp with time zone DEFAULT NULL::timestamp with time zone, before_id text DEFAULT NULL::text',
  'list_sessions(agent_role, max_rows, before, before_id)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'cleanup_stale' AND pronamespace = 'llm'::regnamespace)),
  'max_idle interval DEFAULT ''01:00:00''::interval, batch_size integer DEFAULT 1000, policy text DEFAULT ''delete''::text',
  'cleanup_stale(max_idle, batch_size, policy)');
SELECT is(pg_get_function_arguments((SELECT oid FROM pg_proc WHERE proname = 'schedule_cleanup' AND pronamespace = 'llm'::regnamespace)),
  'schedule text DEFAULT ''*/15 * * * *''::text, max_idle interval DEFAULT ''01:00:00''::interval, policy text DEFAULT ''archive''::text',
  'schedule_cleanup(schedule, max_idle, policy)');
SELECT is((SELECT array_agg(proname::text || ':' || pg_get_function_result(oid) ORDER BY proname::text) FROM pg_proc
           WHERE pronamespace = 'llm'::regnamespace AND proname IN ('create_session', 'append_turn', 'get_session', 'end_session',
             'list_sessions', 'cleanup_stale', 'schedule_cleanup', 'unschedule_cleanup', 'stats')),
  ARRAY['append_turn:jsonb', 'cleanup_stale:integer', 'create_session:jsonb', 'end_session:boolean', 'get_session:jsonb',
        'list_sessions:jsonb', 'schedule_cleanup:jsonb', 'stats:jsonb', 'unschedule_cleanup:boolean'],
  'one function per name (no overloads), each returning what the contract says');
SELECT is((SELECT array_agg(proname::text ORDER BY proname::text) FROM pg_proc WHERE pronamespace = 'llm'::regnamespace AND provolatile = 's'
             AND proname IN ('create_session', 'append_turn', 'get_session', 'end_session', 'list_sessions', 'cleanup_stale', 'schedule_cleanup', 'unschedule_cleanup', 'stats')),
  ARRAY['get_session', 'list_sessions', 'stats'], 'the readers are STABLE');
SELECT is((SELECT array_agg(proname::text ORDER BY proname::text) FROM pg_proc WHERE pronamespace = 'llm'::regnamespace AND provolatile = 'v'
             AND proname IN ('create_session', 'append_turn', 'get_session', 'end_session', 'list_sessions', 'cleanup_stale', 'schedule_cleanup', 'unschedule_cleanup', 'stats')),
  ARRAY['append_turn', 'cleanup_stale', 'create_session', 'end_session', 'schedule_cleanup', 'unschedule_cleanup'], 'the writers are VOLATILE');
SELECT is((SELECT array_agg(proname::text ORDER BY proname::text) FROM pg_proc WHERE pronamespace = 'llm'::regnamespace
             AND proname NOT LIKE '\_%' AND obj_description(oid, 'pg_proc') IS NULL), NULL,
  'every API function has a COMMENT for \df+');
SELECT isnt(obj_description('llm.sessions'::regclass, 'pg_class'), NULL, 'llm.sessions has a comment');
SELECT isnt(obj_description('llm.turns'::regclass, 'pg_class'), NULL, 'llm.turns has a comment');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('llm.sessions'::regclass, 'llm.turns'::regclass) AND NOT tgisinternal), 0::bigint,
  'there are no triggers: the functions do all the work');
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'llm.sessions'::regclass), false,
  'no row-level security: access is by function only');

SELECT * FROM finish();
ROLLBACK;
