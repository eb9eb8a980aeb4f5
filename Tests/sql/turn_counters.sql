-- The invariant of a session: turn_count = count(turns), total_tokens = sum(tokens), seq = 1..N.
BEGIN;
\ir support/helpers.psql
SELECT plan(10);

SELECT lives_ok($$SELECT llm.create_session('tap counter', NULL, 'tap_tc')$$, 'a session');
UPDATE llm.sessions SET created_at = now() - interval '1 day', last_query_at = now() - interval '1 day'
WHERE session_id = 'tap_tc';

-- 40 appends with tokens 0, 7, 14, ... and the count each one expected.
CREATE TEMP TABLE returned AS
SELECT i, llm.append_turn('tap_tc', 'question ' || i, 'response ' || i, (i - 1) * 7, jsonb_build_object('i', i), i - 1) AS j
FROM generate_series(1, 40) i ORDER BY i;

SELECT is((SELECT array_agg((j->>'seq')::int ORDER BY i) FROM returned), (SELECT array_agg(i ORDER BY i) FROM generate_series(1, 40) i),
  'each append returned the next seq, 1 to 40');
SELECT is((SELECT array_agg((j->>'turn_count')::int ORDER BY i) FROM returned), (SELECT array_agg(i ORDER BY i) FROM generate_series(1, 40) i),
  'each append returned the turn_count after it');
SELECT is((SELECT array_agg((j->>'total_tokens')::bigint ORDER BY i) FROM returned),
  (SELECT array_agg(7 * (i - 1) * i / 2::bigint ORDER BY i) FROM generate_series(1, 40) i),
  'each append returned the running total of tokens');
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_tc'),
  (SELECT array_agg(i ORDER BY i) FROM generate_series(1, 40) i), 'the stored seq are exactly 1..40');
SELECT results_eq(
  $$SELECT turn_count::bigint, total_tokens FROM llm.sessions WHERE session_id = 'tap_tc'$$,
  $$SELECT count(*), sum(tokens) FROM llm.turns WHERE session_id = 'tap_tc'$$,
  'turn_count = count(turns) and total_tokens = sum(tokens)');
SELECT results_eq(
  $$SELECT turn_count, total_tokens FROM llm.sessions WHERE session_id = 'tap_tc'$$,
  $$VALUES (40, 5460::bigint)$$, 'that is 40 turns and 7 * (0 + 1 + ... + 39) = 5460 tokens');
SELECT ok((SELECT last_query_at BETWEEN now() AND clock_timestamp() AND last_query_at >= created_at FROM llm.sessions WHERE session_id = 'tap_tc'),
  'last_query_at moved to the time of the appends, after created_at');
SELECT is((SELECT array_agg(question ORDER BY seq) FILTER (WHERE seq IN (1, 40)) FROM llm.turns WHERE session_id = 'tap_tc'),
  ARRAY['question 1', 'question 40'], 'each seq holds the turn appended in that order');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_tc' AND metadata = jsonb_build_object('i', seq)), 40::bigint,
  'every turn carries its own metadata');

SELECT * FROM finish();
ROLLBACK;
