-- llm.index_turns: search vectors are filled off the append path, and a search sees
-- a turn before and after it is indexed, with the same result.
BEGIN;
\ir support/helpers.psql
SELECT plan(14);

SELECT lives_ok($$SELECT llm.create_session('tapidx', NULL, 'tap_idx')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_idx', 'Where is the zqvfrobnicator manual?', 'On the shared drive.', 1),
                        llm.append_turn('tap_idx', 'Lunch?', 'Soup.', 1)$$, 'two turns');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_idx' AND search_vector IS NULL), 2::bigint,
  'an append stores no search vector: parsing waits for the indexer');

CREATE TEMP TABLE before_index AS SELECT llm.search_turns('zqvfrobnicator') AS j;
SELECT is(jsonb_array_length(j->'hits'), 1, 'a search finds a turn that is not indexed yet') FROM before_index;

-- Other sessions of a shared database may have turns pending too: index until none is.
CREATE FUNCTION pg_temp.index_all() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer := 0; b integer;
BEGIN
  LOOP b := llm.index_turns(100000); n := n + b; EXIT WHEN b = 0; END LOOP;
  RETURN n;
END $$;
SELECT cmp_ok(pg_temp.index_all(), '>=', 2, 'index_turns reports the turns it indexed');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_idx' AND search_vector IS NULL), 0::bigint,
  'after index_turns every turn of the session has its vector');
SELECT is((SELECT search_vector FROM llm.turns WHERE session_id = 'tap_idx' AND seq = 1),
  to_tsvector('english', 'Where is the zqvfrobnicator manual? On the shared drive.'),
  'the stored vector is the English vector of question and response');
SELECT is(llm.search_turns('zqvfrobnicator'), (SELECT j FROM before_index),
  'the same search gives the same hits, rank and snippet included, once indexed');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_idx' AND search_vector IS NULL), 0::bigint,
  'indexed turns stay indexed: nothing of the session is pending again');

SELECT lives_ok($$SELECT llm.append_turn('tap_idx', 'More about the zqvfrobnicator?', 'Ask Ann.', 1)$$, 'a third turn, after indexing');
SELECT is(jsonb_array_length(llm.search_turns('zqvfrobnicator')->'hits'), 2, 'a search sees indexed and pending turns together');
SELECT is(llm.index_turns(1), 1, 'batch_size bounds one call (the new turn is pending)');

SELECT throws_ok($$SELECT llm.index_turns(0)$$, '22023', 'batch_size must be between 1 and 100000, not 0', 'batch_size 0');

SET LOCAL ROLE llm_app;
SELECT throws_ok($$SELECT llm.index_turns()$$, '42501', NULL, 'llm_app cannot run the indexer (llm_admin can)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
