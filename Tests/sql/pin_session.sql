-- llm.pin_session: pins or unpins a live session (cleanup skips pinned ones; see archive.sql).
BEGIN;
\ir support/helpers.psql
SELECT plan(8);

SELECT lives_ok($$SELECT llm.create_session('tap pin', NULL, 'tap_pin')$$, 'a session');
UPDATE llm.sessions SET last_query_at = now() - interval '1 day' WHERE session_id = 'tap_pin';
SELECT is(llm.pin_session('tap_pin')->'pinned', 'true', 'pin_session pins by default and returns the summary');
SELECT is((SELECT last_query_at FROM llm.sessions WHERE session_id = 'tap_pin'), now() - interval '1 day', 'pinning is not activity');
SELECT is(llm.get_session('tap_pin')->'pinned', 'true', 'get_session shows it');
SELECT is(llm.pin_session('tap_pin', false)->'pinned', 'false', 'pinned false unpins');
SELECT pg_temp.throws_cleanly($$SELECT llm.pin_session('tap_pin_none')$$, 'P0002', 'session tap_pin_none does not exist', 'an unknown session');
SELECT throws_ok($$SELECT llm.pin_session('tap_pin', NULL)$$, '22023', 'pinned must not be NULL', 'pinned NULL');

SELECT * FROM finish();
ROLLBACK;
