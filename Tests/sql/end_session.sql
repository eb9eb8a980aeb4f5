-- llm.end_session: deletes a session with all its turns; true if it existed.
BEGIN;
\ir support/helpers.psql
SELECT plan(14);

SELECT lives_ok($$SELECT llm.create_session('tap ender', NULL, 'tap_es')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_es', 'q' || i, 'r', 1) FROM generate_series(1, 3) i$$, 'with three turns');
SELECT lives_ok($$SELECT llm.create_session('tap ender', NULL, 'tap_es_kept')$$, 'and a session that stays');
SELECT lives_ok($$SELECT llm.append_turn('tap_es_kept', 'q', 'r', 1)$$, 'with one turn');
SELECT md5(string_agg(t::text, ',' ORDER BY seq)) AS kept_turns FROM llm.turns t WHERE session_id = 'tap_es_kept' \gset

SELECT is(llm.end_session('tap_es'), true, 'ending an existing session returns true');
SELECT is(llm.get_session('tap_es'), NULL, 'the session is gone');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_es'), 0::bigint, 'its turns are gone with it');
SELECT is(llm.end_session('tap_es'), false, 'ending it again returns false');
SELECT is(llm.end_session('tap_es_never_was'), false, 'ending an unknown session returns false');
SELECT is((SELECT md5(string_agg(t::text, ',' ORDER BY seq)) FROM llm.turns t WHERE session_id = 'tap_es_kept'), :'kept_turns',
  'the other session and its turns are untouched');
SELECT throws_ok($$SELECT llm.append_turn('tap_es', 'q', 'r')$$, 'P0002', 'session tap_es does not exist',
  'an ended session cannot be appended to');

SELECT pg_temp.throws_cleanly($$SELECT llm.end_session(NULL)$$, '22023', 'session_id must not be NULL', 'NULL session_id');
SELECT throws_ok($$SELECT llm.end_session('  ')$$, '22023', 'session_id must not be blank', 'blank session_id');

SELECT * FROM finish();
ROLLBACK;
