-- llm.pop_turn: takes back the newest turn, returns it with the corrected counters,
-- and leaves seq gapless so that the next append reuses the seq.
BEGIN;
\ir support/helpers.psql
\ir support/archive_helpers.psql
SELECT plan(24);

SELECT lives_ok($$SELECT llm.create_session('tap pop', NULL, 'tap_pop')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_pop', 'q' || j, 'r' || j, j, jsonb_build_object('j', j), NULL, 'rid_' || j)
                  FROM generate_series(1, 3) j ORDER BY j$$, 'three turns (tokens 1, 2, 3)');
UPDATE llm.sessions SET last_query_at = now() - interval '1 day' WHERE session_id = 'tap_pop';

CREATE TEMP TABLE popped AS SELECT llm.pop_turn('tap_pop') AS j;
SELECT is(pg_temp.keys_of(j), pg_temp.keys_of(llm.append_turn('tap_pop', 'x', 'y') || '{}'),
  'the result has append_turn''s shape') FROM popped;
SELECT lives_ok($$SELECT llm.pop_turn('tap_pop')$$, 'popping the turn just appended for the shape check');
SELECT is(j->>'seq', '3', 'the newest turn is returned') FROM popped;
SELECT is(j->>'question', 'q3', 'with its question') FROM popped;
SELECT is(j->>'request_id', 'rid_3', 'and request_id') FROM popped;
SELECT is((j->>'turn_count')::integer, 2, 'turn_count after the removal') FROM popped;
SELECT is((j->>'total_tokens')::bigint, 3::bigint, 'total_tokens after the removal') FROM popped;
SELECT is(j->>'replayed', 'false', 'replayed is false') FROM popped;
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_pop'), ARRAY[1, 2], 'the turn is gone');
SELECT ok((SELECT last_query_at BETWEEN now() AND clock_timestamp() FROM llm.sessions WHERE session_id = 'tap_pop'), 'popping counts as activity (the clock when it took the lock)');
SELECT is((llm.append_turn('tap_pop', 'again', 'again', 0, '{}', 2, 'rid_3'))->>'seq', '3',
  'the next append takes seq 3 again, and the popped request_id may be used again');
SELECT * FROM pg_temp.invariants_hold();

-- Down to nothing.
SELECT is((SELECT count(*) FROM (SELECT llm.pop_turn('tap_pop') FROM generate_series(1, 3)) x), 3::bigint, 'three more pops');
SELECT is(llm.pop_turn('tap_pop'), NULL, 'a session without turns: NULL');
SELECT is((SELECT (turn_count, total_tokens)::text FROM llm.sessions WHERE session_id = 'tap_pop'), '(0,0)', 'counters at zero');

-- Errors.
SELECT pg_temp.throws_cleanly($$SELECT llm.pop_turn('tap_pop_none')$$, 'P0002', 'session tap_pop_none does not exist', 'an unknown session');
SELECT throws_ok($$SELECT llm.pop_turn(NULL)$$, '22023', 'session_id must not be NULL', 'a NULL session_id');

SET LOCAL ROLE llm_app;
SELECT lives_ok($$SELECT llm.pop_turn('tap_pop')$$, 'llm_app pops');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
