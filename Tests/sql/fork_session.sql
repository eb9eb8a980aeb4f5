-- llm.fork_session: a new session with a copy of a prefix of another's history and a
-- link to it; the two evolve independently.
BEGIN;
\ir support/helpers.psql
\ir support/archive_helpers.psql
SELECT plan(35);

SELECT lives_ok($$SELECT llm.create_session('tap fork', 'You fork.', 'tap_fk', '{"k": 1}')$$, 'a parent');
SELECT lives_ok($$SELECT llm.append_turn('tap_fk', 'q' || j, 'r' || j, 10 * j, jsonb_build_object('j', j), NULL, 'rid_' || j)
                  FROM generate_series(1, 4) j ORDER BY j$$, 'four turns (tokens 10..40)');

CREATE TEMP TABLE forked AS SELECT llm.fork_session('tap_fk', 2, 'tap_fk_child') AS j;
SELECT is(pg_temp.keys_of(j), pg_temp.keys_of(llm.get_session('tap_fk')), 'the result has get_session''s shape') FROM forked;
SELECT is(j, llm.get_session('tap_fk_child'), 'and is the new session') FROM forked;
SELECT is(j->>'parent_session_id', 'tap_fk', 'parent_session_id names the parent') FROM forked;
SELECT is((j->>'parent_seq')::integer, 2, 'parent_seq the last turn copied') FROM forked;
SELECT is((j->>'turn_count')::integer, 2, 'turn_count 2') FROM forked;
SELECT is((j->>'total_tokens')::bigint, 30::bigint, 'total_tokens of the copied turns') FROM forked;
SELECT is(j->>'agent_role', 'tap fork', 'the parent''s role') FROM forked;
SELECT is(j->>'startup_context', 'You fork.', 'startup context') FROM forked;
SELECT is(j->'metadata', '{"k": 1}'::jsonb, 'and metadata') FROM forked;
SELECT is((SELECT string_agg((seq, question, response, tokens, metadata, request_id, created_at)::text, ',' ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_fk_child'),
          (SELECT string_agg((seq, question, response, tokens, metadata, request_id, created_at)::text, ',' ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_fk' AND seq <= 2),
  'the turns are copies of the parent''s first two, timestamps and request_ids included');

-- Independent from then on.
SELECT is((llm.append_turn('tap_fk_child', 'child q', 'child r', 5))->>'seq', '3', 'the fork continues at seq 3');
SELECT is((SELECT turn_count FROM llm.sessions WHERE session_id = 'tap_fk'), 4, 'the parent is unchanged');
SELECT lives_ok($$SELECT llm.pop_turn('tap_fk')$$, 'popping the parent');
SELECT ok(llm.end_session('tap_fk'), 'ending the parent');
SELECT is((SELECT (turn_count, parent_session_id)::text FROM llm.sessions WHERE session_id = 'tap_fk_child'), '(3,tap_fk)',
  'leaves the fork as it was, still naming its parent');
SELECT * FROM pg_temp.invariants_hold();

-- Defaults: all turns, a generated id like create_session's.
SELECT lives_ok($$SELECT llm.create_session('tap fork', NULL, 'tap_fk2')$$, 'another parent');
SELECT lives_ok($$SELECT llm.append_turn('tap_fk2', 'q', 'r', 1) FROM generate_series(1, 3)$$, 'three turns');
CREATE TEMP TABLE forked2 AS SELECT llm.fork_session('tap_fk2') AS j;
SELECT matches(j->>'session_id', '^tap_fork_[0-9]+_[0-9]{6}$', 'a generated id') FROM forked2;
SELECT is((j->>'parent_seq')::integer, 3, 'at the newest turn') FROM forked2;
SELECT is((llm.fork_session('tap_fk2', 0, 'tap_fk2_empty'))->>'turn_count', '0', 'at_seq 0 forks an empty history');

-- Errors.
SELECT pg_temp.throws_cleanly($$SELECT llm.fork_session('tap_fk_none')$$, 'P0002', 'session tap_fk_none does not exist', 'an unknown parent');
SELECT pg_temp.throws_cleanly($$SELECT llm.fork_session('tap_fk2', 4, 'tap_fk2_x')$$, '22023', 'at_seq 4 is beyond the 3 turns of session tap_fk2', 'at_seq beyond the history');
SELECT throws_ok($$SELECT llm.fork_session('tap_fk2', -1)$$, '22023', 'at_seq must be between 0 and 2147483647, not -1', 'a negative at_seq');
SELECT pg_temp.throws_cleanly($$SELECT llm.fork_session('tap_fk2', 1, 'tap_fk2')$$, '23505', 'session tap_fk2 already exists', 'a taken new_session_id');
SELECT throws_ok($$SELECT llm.fork_session('tap_fk2', 1, ' ')$$, '22023', 'new_session_id must not be blank', 'a blank new_session_id');

SET LOCAL ROLE llm_app;
SELECT is((llm.fork_session('tap_fk2', 1, 'tap_fk2_app'))->>'session_id', 'tap_fk2_app', 'llm_app forks');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
