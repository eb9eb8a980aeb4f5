-- llm.cleanup_stale: removes the sessions idle longer than max_idle, with their turns, batch after batch.
BEGIN;
\ir support/helpers.psql
SELECT plan(38);

-- max_idle is ten years here and the stale sessions are older still, so that no
-- session of other users of this database qualifies.
SELECT lives_ok($$SELECT llm.create_session('tap stale', NULL, 'tap_stale_' || i) FROM generate_series(1, 5) i$$, 'five sessions to go stale');
SELECT lives_ok($$SELECT llm.append_turn('tap_stale_' || i, 'q', 'r', 1) FROM generate_series(1, 5) i, generate_series(1, 3) j$$,
  'three turns each');
SELECT lives_ok($$SELECT llm.create_session('tap stale', NULL, s) FROM unnest(ARRAY['tap_fresh', 'tap_almost', 'tap_at_cutoff']) s$$,
  'a fresh session, one idle a second less than max_idle, one idle exactly max_idle');
SELECT lives_ok($$SELECT llm.append_turn('tap_fresh', 'q', 'r', 1)$$, 'the fresh session has a turn');
UPDATE llm.sessions SET last_query_at = now() - interval '10 years' - (split_part(session_id, '_', 3) || ' days')::interval
WHERE session_id LIKE 'tap_stale_%';
UPDATE llm.sessions SET last_query_at = now() - interval '10 years' + interval '1 second' WHERE session_id = 'tap_almost';
UPDATE llm.sessions SET last_query_at = now() - interval '10 years' WHERE session_id = 'tap_at_cutoff';

SELECT count(*) AS others_stale FROM llm.sessions WHERE last_query_at < now() - interval '10 years' AND session_id NOT LIKE 'tap%' \gset
SELECT is(:others_stale::bigint, 0::bigint, 'no session but ours is idle for ten years');
SELECT md5(string_agg(s::text, ',' ORDER BY session_id)) AS survivors FROM llm.sessions s
WHERE session_id IN ('tap_fresh', 'tap_almost', 'tap_at_cutoff') \gset
SELECT md5(string_agg(t::text, ',' ORDER BY seq)) AS fresh_turns FROM llm.turns t WHERE session_id = 'tap_fresh' \gset

-- Refused arguments first, while there is something to remove: nothing is.
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '0')$$, '22023',
  'max_idle must be a positive interval, not 00:00:00', 'max_idle zero');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '-1 hour')$$, '22023',
  'max_idle must be a positive interval, not -01:00:00', 'a negative max_idle');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '1 day -25 hours')$$, '22023',
  'max_idle must be a positive interval, not 1 day -25:00:00', 'a max_idle whose parts add up to less than zero');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(NULL)$$, '22023',
  'max_idle must be a positive interval, not NULL', 'NULL max_idle');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '10 years', 0)$$, '22023',
  'batch_size must be between 1 and 100000, not 0', 'batch_size 0');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '10 years', 100001)$$, '22023',
  'batch_size must be between 1 and 100000, not 100001', 'batch_size 100001');
SELECT pg_temp.throws_cleanly($$SELECT llm.cleanup_stale(interval '10 years', NULL)$$, '22023',
  'batch_size must not be NULL', 'NULL batch_size');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id LIKE 'tap_stale_%'), 5::bigint, 'the stale sessions are all still there');

-- A batch of 2 for 5 stale sessions: three rounds, all five removed.
SELECT is(llm.cleanup_stale(interval '10 years', 2), 5, 'cleanup_stale returns how many sessions it removed: all five, in batches of 2');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id LIKE 'tap_stale_%'), 0::bigint, 'the stale sessions are gone');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id LIKE 'tap_stale_%'), 0::bigint, 'their turns are gone with them');
SELECT is((SELECT md5(string_agg(s::text, ',' ORDER BY session_id)) FROM llm.sessions s
           WHERE session_id IN ('tap_fresh', 'tap_almost', 'tap_at_cutoff')), :'survivors',
  'the fresh session, the one a second short of max_idle and the one idle exactly max_idle are untouched');
SELECT is((SELECT md5(string_agg(t::text, ',' ORDER BY seq)) FROM llm.turns t WHERE session_id = 'tap_fresh'), :'fresh_turns',
  'the turns of the fresh session are untouched');
SELECT is(llm.cleanup_stale(interval '10 years', 2), 0, 'a second run finds nothing');

-- One second more of idleness and the two boundary sessions go too.
SELECT is(llm.cleanup_stale(interval '10 years' - interval '1 second'), 1, 'max_idle one second shorter removes the session idle exactly ten years');
SELECT is(llm.get_session('tap_at_cutoff'), NULL, 'that is tap_at_cutoff');
SELECT is(llm.cleanup_stale(interval '10 years' - interval '2 seconds'), 1, 'two seconds shorter removes the one a second short of it');
SELECT is(llm.get_session('tap_almost'), NULL, 'that is tap_almost');
SELECT isnt(llm.get_session('tap_fresh'), NULL, 'the fresh session is still there');

-- Batches exactly full: 4 stale sessions in batches of 2 and of 4; a batch of 1.
SELECT lives_ok($$SELECT llm.create_session('tap stale', NULL, 'tap_stale_again_' || i) FROM generate_series(1, 4) i$$, 'four more');
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' WHERE session_id LIKE 'tap_stale_again_%';
SAVEPOINT four;
SELECT is(llm.cleanup_stale(interval '10 years', 4), 4, 'a batch exactly the size of what is stale removes it all');
ROLLBACK TO SAVEPOINT four;
SELECT is(llm.cleanup_stale(interval '10 years', 1), 4, 'batches of one remove them all too');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id LIKE 'tap_stale_again_%'), 0::bigint, 'none is left');

-- An append makes a stale session fresh again.
SELECT lives_ok($$SELECT llm.create_session('tap stale', NULL, 'tap_revived')$$, 'a session');
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' WHERE session_id = 'tap_revived';
SELECT lives_ok($$SELECT llm.append_turn('tap_revived', 'still there?', 'yes')$$, 'that is appended to after a long pause');
SELECT is(llm.cleanup_stale(interval '10 years'), 0, 'is not stale any more');

SELECT * FROM finish();
ROLLBACK;
