-- llm.append_turn: the turn it stores and returns, the optimistic check, and every argument it refuses.
BEGIN;
\ir support/helpers.psql
SELECT plan(87);

SELECT lives_ok($$SELECT llm.create_session('tap writer', NULL, 'tap_at')$$, 'a session to append to');
-- Backdated, so that the append visibly moves last_query_at.
UPDATE llm.sessions SET created_at = now() - interval '1 hour', last_query_at = now() - interval '1 hour'
WHERE session_id = 'tap_at';

CREATE TEMP TABLE first_turn AS
SELECT llm.append_turn('tap_at', 'What is 2+2?', '4', 795, '{"model": "m1"}') AS j;

SELECT is(pg_temp.keys_of(j),
  ARRAY['metadata', 'question', 'replayed', 'request_id', 'response', 'seq', 'session_id', 'timestamp',
        'tokens', 'total_tokens', 'turn_count'],
  'the appended turn has exactly the keys of the contract') FROM first_turn;
SELECT is(j->>'session_id', 'tap_at', 'it names its session') FROM first_turn;
SELECT is(j->'seq', '1'::jsonb, 'the first turn has seq 1') FROM first_turn;
SELECT is(j->>'question', 'What is 2+2?', 'the question is returned') FROM first_turn;
SELECT is(j->>'response', '4', 'the response is returned') FROM first_turn;
SELECT is(j->'tokens', '795'::jsonb, 'the tokens are returned') FROM first_turn;
SELECT is(j->'metadata', '{"model": "m1"}'::jsonb, 'the metadata is returned') FROM first_turn;
SELECT is(j->'request_id', 'null'::jsonb, 'without request_id it is JSON null') FROM first_turn;
SELECT is(j->'replayed', 'false'::jsonb, 'a new turn is not replayed') FROM first_turn;
SELECT is(j->'turn_count', '1'::jsonb, 'the session now has one turn') FROM first_turn;
SELECT is(j->'total_tokens', '795'::jsonb, 'the session now has 795 tokens') FROM first_turn;
SELECT ok((j->>'timestamp')::timestamptz BETWEEN now() AND clock_timestamp(), 'the turn is stamped with the time it took the session lock') FROM first_turn;

SELECT results_eq(
  $$SELECT seq, question, response, tokens, metadata, request_id FROM llm.turns WHERE session_id = 'tap_at'$$,
  $$VALUES (1, 'What is 2+2?', '4', 795, '{"model": "m1"}'::jsonb, NULL::text)$$,
  'the row stored is the turn returned');
SELECT results_eq(
  $$SELECT turn_count, total_tokens, last_query_at BETWEEN now() AND clock_timestamp(), last_query_at > created_at FROM llm.sessions WHERE session_id = 'tap_at'$$,
  $$VALUES (1, 795::bigint, true, true)$$,
  'the session row has the new counters and last_query_at moved to now');
SELECT is((llm.get_session('tap_at')->'conversation_history'->0) - 'timestamp',
  (SELECT j - 'session_id' - 'turn_count' - 'total_tokens' - 'replayed' - 'timestamp' FROM first_turn),
  'get_session shows the same turn');

-- Defaults: no tokens, empty metadata.
SELECT results_eq(
  $$SELECT j->'seq', j->'tokens', j->'metadata', j->'total_tokens'
    FROM (SELECT llm.append_turn('tap_at', 'q2', 'r2') AS j) x$$,
  $$VALUES ('2'::jsonb, '0'::jsonb, '{}'::jsonb, '795'::jsonb)$$,
  'defaults: tokens 0 and metadata {}; seq 2; total_tokens unchanged');

-- The optimistic check: expected_turn_count equal to the count appends, different raises 40001.
SELECT is(llm.append_turn('tap_at', 'q3', 'r3', 5, expected_turn_count => 2)->'seq', '3'::jsonb,
  'expected_turn_count equal to turn_count appends');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 1)$$, '40001',
  'turn count conflict on session tap_at: expected 1, actual 3', 'a stale expected_turn_count');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 7)$$, '40001',
  'turn count conflict on session tap_at: expected 7, actual 3', 'an expected_turn_count from the future');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 1)$$)->>'detail',
  'expected_turn_count=1 actual_turn_count=3', 'the conflict DETAIL is exactly expected_turn_count=E actual_turn_count=A');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 0)$$)->>'detail',
  'expected_turn_count=0 actual_turn_count=3', 'the conflict DETAIL with expected 0');
SELECT matches(pg_temp.error_of($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 1)$$)->>'hint',
  'retry', 'the conflict hints at reading again and retrying');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', 1, 'tap-new-request')$$)->>'sqlstate',
  '40001', 'a new request_id with a stale count is a conflict too');
SELECT ok(NOT EXISTS (SELECT FROM llm.turns WHERE request_id = 'tap-new-request'),
  'and that request_id was not stored');
-- The conflict message quotes an id that needs it.
SELECT lives_ok($$SELECT llm.create_session('tap', NULL, 'tap Quoted')$$, 'a session whose id needs quoting');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap Quoted', 'q', 'r', 0, '{}', 4)$$)->>'message',
  'turn count conflict on session "tap Quoted": expected 4, actual 0', 'the conflict message quotes such an id');

-- Unknown session: P0002.
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_nope', 'q', 'r')$$, 'P0002',
  'session tap_nope does not exist', 'an unknown session');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_nope', 'q', 'r', 1, '{}', 0, 'tap-r')$$, 'P0002',
  'session tap_nope does not exist', 'an unknown session with expected_turn_count and request_id');
SELECT matches(pg_temp.error_of($$SELECT llm.append_turn('tap_nope', 'q', 'r')$$)->>'hint',
  'create_session', 'the unknown-session error hints at create_session');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('TAP_AT', 'q', 'r')$$)->>'sqlstate', 'P0002',
  'session ids are case-sensitive');

-- Refused arguments: 22023, checked before the session is looked at.
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn(NULL, 'q', 'r')$$, '22023', 'session_id must not be NULL', 'NULL session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('', 'q', 'r')$$, '22023', 'session_id must not be blank', 'empty session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('   ', 'q', 'r')$$, '22023', 'session_id must not be blank', 'blank session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn(repeat('s', 201), 'q', 'r')$$, '22023',
  'session_id is 201 characters long; the limit is 200', 'a 201-character session_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', NULL, 'r')$$, '22023', 'question must not be NULL', 'NULL question');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', NULL)$$, '22023', 'response must not be NULL', 'NULL response');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', repeat('x', 16777217), 'r')$$, '22023',
  'question is 16777217 bytes; the limit is 16 MiB (16777216 bytes)', 'a question over 16 MiB');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', repeat('x', 16777217))$$, '22023',
  'response is 16777217 bytes; the limit is 16 MiB (16777216 bytes)', 'a response over 16 MiB');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', repeat('é', 8388609))$$, '22023',
  'response is 16777218 bytes; the limit is 16 MiB (16777216 bytes)', 'the limit counts bytes, not characters');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', -1)$$, '22023',
  'tokens must be between 0 and 2147483647, not -1', 'negative tokens');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', NULL)$$, '22023', 'tokens must not be NULL', 'NULL tokens');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 2147483648::integer)$$, '22003',
  'integer out of range', 'tokens of 2^31 cannot even be passed: the cast to integer fails');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 2147483648)$$, '42883',
  NULL, 'and there is no append_turn taking a bigint to narrow silently');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '[]')$$, '22023',
  'metadata must be a JSON object, not array', 'metadata that is an array');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '"s"')$$, '22023',
  'metadata must be a JSON object, not string', 'metadata that is a string');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, 'null')$$, '22023',
  'metadata must be a JSON object, not null', 'metadata that is JSON null');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, NULL)$$, '22023',
  'metadata must be a JSON object, not NULL', 'metadata that is SQL NULL');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, jsonb_build_object('k', repeat('m', 1048576 - 8)))$$,
  '22023', 'metadata is 1048577 bytes; the limit is 1 MiB', 'metadata over 1 MiB');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', -1)$$, '22023',
  'expected_turn_count must be between 0 and 2147483647, not -1', 'a negative expected_turn_count');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', NULL, '')$$, '22023',
  'request_id must not be blank', 'an empty request_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', NULL, '  ')$$, '22023',
  'request_id must not be blank', 'a blank request_id');
SELECT pg_temp.throws_cleanly($$SELECT llm.append_turn('tap_at', 'q', 'r', 1, '{}', NULL, repeat('q', 201))$$, '22023',
  'request_id is 201 characters long; the limit is 200', 'a 201-character request_id');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap_nope', NULL, 'r')$$)->>'sqlstate', '22023',
  'arguments are checked before the session is looked up');

-- Limits that are accepted.
SELECT is(llm.append_turn('tap_at', repeat('x', 16777216), 'r', 0)->'seq', '4'::jsonb,
  'a question of exactly 16 MiB is stored');
SELECT is(llm.append_turn('tap_at', 'q', 'r', 2147483647)->'tokens', '2147483647'::jsonb,
  'tokens of 2^31-1 are accepted');
SELECT is(llm.append_turn('tap_at', 'q', 'r', 2147483647)->'total_tokens', to_jsonb(795 + 5 + 2 * 2147483647::bigint),
  'total_tokens is a bigint: it goes past 2^31 without overflow');
SELECT is(llm.append_turn('tap_at', '', '', 0, '{}', NULL, repeat('q', 200))->'seq', '7'::jsonb,
  'empty question and response and a 200-character request_id are accepted');
SELECT is(llm.append_turn('tap_at', 'q', 'r', 0, jsonb_build_object('k', repeat('m', 1048576 - 9)))->'seq', '8'::jsonb,
  'turn metadata of exactly 1 MiB of JSON text is accepted');

-- After all of that, the session's counters still agree with its turns.
SELECT results_eq(
  $$SELECT s.turn_count::bigint, s.total_tokens FROM llm.sessions s WHERE s.session_id = 'tap_at'$$,
  $$SELECT count(*), sum(t.tokens) FROM llm.turns t WHERE t.session_id = 'tap_at'$$,
  'turn_count and total_tokens equal what llm.turns holds');
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_at'),
  ARRAY[1, 2, 3, 4, 5, 6, 7, 8], 'seq is 1..8 without gaps: refused appends used no number');

SELECT * FROM finish();
ROLLBACK;
