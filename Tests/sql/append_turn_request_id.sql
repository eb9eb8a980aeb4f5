-- llm.append_turn with request_id: a retried request returns the turn it stored and adds nothing.
BEGIN;
\ir support/helpers.psql
SELECT plan(22);

SELECT lives_ok($$SELECT llm.create_session('tap retry', NULL, 'tap_rid')$$, 'a session');
SELECT lives_ok($$SELECT llm.create_session('tap retry', NULL, 'tap_rid_other')$$, 'another session');

CREATE TEMP TABLE original AS
SELECT llm.append_turn('tap_rid', 'q1', 'r1', 10, '{"try": 1}', 0, 'req-1') AS j;
SELECT is(original.j->'replayed', 'false'::jsonb, 'the first call stores the turn') FROM original;
SELECT is(original.j->>'request_id', 'req-1', 'and returns its request_id') FROM original;
SELECT lives_ok($$SELECT llm.append_turn('tap_rid', 'q2', 'r2', 20)$$, 'a second turn without request_id');

SELECT pg_temp.fingerprint() AS before_replay \gset
CREATE TEMP TABLE replay AS
SELECT llm.append_turn('tap_rid', 'q1', 'r1', 10, '{"try": 1}', 0, 'req-1') AS j;
SELECT is(replay.j->'replayed', 'true'::jsonb, 'the same request_id again is a replay') FROM replay;
SELECT is(replay.j->'seq', original.j->'seq', 'the replay returns the seq stored the first time') FROM replay, original;
SELECT is(replay.j - 'replayed' - 'turn_count' - 'total_tokens', original.j - 'replayed' - 'turn_count' - 'total_tokens',
  'the replay returns the stored turn, timestamp included') FROM replay, original;
SELECT is(replay.j->'turn_count', '2'::jsonb, 'the replay reports the session''s current turn_count') FROM replay;
SELECT is(replay.j->'total_tokens', '30'::jsonb, 'and its current total_tokens') FROM replay;
SELECT is(pg_temp.fingerprint(), :'before_replay', 'the replay changed nothing: no turn, same counters, same last_query_at');

-- The stored turn wins over whatever the retry carries: the retry is of the same request.
SELECT is(llm.append_turn('tap_rid', 'other question', 'other answer', 99, '{"try": 2}', 0, 'req-1') - 'turn_count' - 'total_tokens',
  (SELECT original.j - 'turn_count' - 'total_tokens' - 'replayed' FROM original) || '{"replayed": true}',
  'a retry with other content and a stale expected_turn_count replays the stored turn');
SELECT is(llm.append_turn('tap_rid', 'q1', 'r1', 10, '{}', NULL, 'req-1')->'replayed', 'true'::jsonb,
  'a retry without expected_turn_count replays');
SELECT is(pg_temp.fingerprint(), :'before_replay', 'those replays changed nothing either');

-- request_id is per session, and case-sensitive.
SELECT results_eq(
  $$SELECT j->'replayed', j->'seq' FROM (SELECT llm.append_turn('tap_rid_other', 'q1', 'r1', 10, '{}', NULL, 'req-1') AS j) x$$,
  $$VALUES ('false'::jsonb, '1'::jsonb)$$,
  'the same request_id in another session is a new turn there');
SELECT is(llm.append_turn('tap_rid', 'q', 'r', 1, '{}', NULL, 'REQ-1')->'replayed', 'false'::jsonb,
  'REQ-1 is another request than req-1');
SELECT is((SELECT count(*) FROM llm.turns WHERE request_id = 'req-1' AND session_id LIKE 'tap_rid%'), 2::bigint,
  'req-1 is stored once in each of the two sessions');

-- A new request_id with the right count appends; NULL request_ids never collide.
SELECT is(llm.append_turn('tap_rid', 'q', 'r', 1, '{}', 3, 'req-2')->'seq', '4'::jsonb,
  'a new request_id with the current count appends');
SELECT is(llm.append_turn('tap_rid', 'q', 'r', 1, '{}', 3, 'req-2')->'replayed', 'true'::jsonb,
  'its retry, now with a stale count, replays instead of conflicting');
SELECT lives_ok($$SELECT llm.append_turn('tap_rid', 'q', 'r'), llm.append_turn('tap_rid', 'q', 'r')$$,
  'any number of turns may have no request_id');

SELECT results_eq(
  $$SELECT turn_count::bigint, total_tokens FROM llm.sessions WHERE session_id = 'tap_rid'$$,
  $$SELECT count(*), sum(tokens) FROM llm.turns WHERE session_id = 'tap_rid'$$,
  'after replays the counters still equal the stored turns');
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_rid'), ARRAY[1, 2, 3, 4, 5, 6],
  'replays used no seq');

SELECT * FROM finish();
ROLLBACK;
