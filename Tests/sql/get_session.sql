-- llm.get_session: the session with its history oldest first, the newest last_n turns, NULL when unknown.
BEGIN;
\ir support/helpers.psql
SELECT plan(28);

SELECT lives_ok($$SELECT llm.create_session('tap reader', 'context', 'tap_gs', '{"k": "v"}')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_gs', 'q' || i, 'r' || i, i, jsonb_build_object('i', i), NULL, 'rq' || i)
                  FROM generate_series(1, 5) i ORDER BY i$$, 'with five turns');
SELECT lives_ok($$SELECT llm.create_session('tap reader', NULL, 'tap_gs_empty')$$, 'and a session without turns');

SELECT ok(llm.get_session('tap_gs') ?& ARRAY['agent_role', 'conversation_history', 'created_at', 'last_query_at', 'metadata',
                                             'session_id', 'startup_context', 'total_tokens', 'turn_count'],
  'the session JSON has every key of the contract');
SELECT results_eq(
  $$SELECT j->>'session_id', j->>'agent_role', j->>'startup_context', j->'metadata', j->'turn_count', j->'total_tokens'
    FROM (SELECT llm.get_session('tap_gs') AS j) x$$,
  $$VALUES ('tap_gs', 'tap reader', 'context', '{"k": "v"}'::jsonb, '5'::jsonb, '15'::jsonb)$$,
  'the session fields are those stored');
SELECT is(pg_temp.keys_of(llm.get_session('tap_gs')->'conversation_history'->0),
  ARRAY['metadata', 'question', 'request_id', 'response', 'seq', 'timestamp', 'tokens'],
  'a history turn has exactly the keys of the contract');
SELECT is((llm.get_session('tap_gs')->'conversation_history'->0) - 'timestamp',
  '{"seq": 1, "question": "q1", "response": "r1", "tokens": 1, "metadata": {"i": 1}, "request_id": "rq1"}'::jsonb,
  'the oldest turn, with all its fields');
SELECT ok((llm.get_session('tap_gs')->'conversation_history'->0->>'timestamp')::timestamptz
          = (SELECT created_at FROM llm.turns WHERE session_id = 'tap_gs' AND seq = 1),
  'a turn''s timestamp is when it was stored');

SELECT is((SELECT array_agg((t->>'seq')::int ORDER BY o) FROM jsonb_array_elements(llm.get_session('tap_gs')->'conversation_history') WITH ORDINALITY h(t, o)),
  ARRAY[1, 2, 3, 4, 5], 'the history is oldest first');
SELECT is(jsonb_array_length(llm.get_session('tap_gs', NULL)->'conversation_history'), 5, 'last_n NULL: the whole history');
SELECT is((SELECT array_agg((t->>'seq')::int ORDER BY o) FROM jsonb_array_elements(llm.get_session('tap_gs', 2)->'conversation_history') WITH ORDINALITY h(t, o)),
  ARRAY[4, 5], 'last_n 2: the newest two turns, oldest first');
SELECT is((SELECT array_agg(t->>'question' ORDER BY o) FROM jsonb_array_elements(llm.get_session('tap_gs', 1)->'conversation_history') WITH ORDINALITY h(t, o)),
  ARRAY['q5'], 'last_n 1: the newest turn');
SELECT is(llm.get_session('tap_gs', 0)->'conversation_history', '[]'::jsonb, 'last_n 0: an empty history');
SELECT is(llm.get_session('tap_gs', 0)->'turn_count', '5'::jsonb, 'last_n 0 still reports all the counters');
SELECT is(jsonb_array_length(llm.get_session('tap_gs', 5)->'conversation_history'), 5, 'last_n equal to the count: everything');
SELECT is(jsonb_array_length(llm.get_session('tap_gs', 2147483647)->'conversation_history'), 5, 'last_n larger than the count: everything');
SELECT is(llm.get_session('tap_gs_empty')->'conversation_history', '[]'::jsonb, 'a session without turns has []');
SELECT is(llm.get_session('tap_gs_empty', 3)->'conversation_history', '[]'::jsonb, 'with last_n too');

SELECT is(llm.get_session('tap_no_such_session'), NULL, 'an unknown session is SQL NULL');
SELECT is(llm.get_session('TAP_GS'), NULL, 'ids are case-sensitive');
SELECT is(llm.get_session(repeat('z', 200)), NULL, 'an unknown 200-character id is NULL too');

SELECT pg_temp.fingerprint() AS before_reads \gset
SELECT lives_ok($$SELECT llm.get_session('tap_gs'), llm.get_session('tap_gs', 2)$$, 'reading the session');
SELECT is(pg_temp.fingerprint(), :'before_reads', 'reading a session changes nothing, not even last_query_at');

SELECT throws_ok($$SELECT llm.get_session(NULL)$$, '22023', 'session_id must not be NULL', 'NULL session_id');
SELECT throws_ok($$SELECT llm.get_session('')$$, '22023', 'session_id must not be blank', 'empty session_id');
SELECT throws_ok($$SELECT llm.get_session(' ')$$, '22023', 'session_id must not be blank', 'blank session_id');
SELECT throws_ok($$SELECT llm.get_session(repeat('z', 201))$$, '22023', 'session_id is 201 characters long; the limit is 200',
  'a 201-character session_id');
SELECT throws_ok($$SELECT llm.get_session('tap_gs', -1)$$, '22023', 'last_n must be between 0 and 2147483647, not -1',
  'a negative last_n');

SELECT * FROM finish();
ROLLBACK;
