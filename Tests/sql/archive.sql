-- The archive: cleanup_stale(policy => 'archive') moves stale sessions with their turns,
-- restore_session brings one back exactly, purge_archive ends them; archived sessions are
-- invisible to the live API and their ids stay taken.
BEGIN;
\ir support/helpers.psql
\ir support/archive_helpers.psql
SELECT plan(87);

-- Three sessions to go stale, with turns and request_ids; a pinned one, a fresh one.
SELECT lives_ok($$SELECT llm.create_session('tap archive', 'ctx ' || i, 'tap_ar_' || i, jsonb_build_object('i', i)) FROM generate_series(1, 3) i$$,
  'three sessions to go stale');
SELECT lives_ok($$SELECT llm.append_turn('tap_ar_' || i, 'zyxwvutsquestion ' || j, 'response ' || j, 10 * j, jsonb_build_object('j', j), NULL, 'rid_' || j)
                  FROM generate_series(1, 3) i, generate_series(1, 4) j ORDER BY i, j$$, 'four turns each');
SELECT lives_ok($$SELECT llm.create_session('tap archive', NULL, s) FROM unnest(ARRAY['tap_ar_pinned', 'tap_ar_fresh']) s$$,
  'a session to pin and a fresh one');
SELECT lives_ok($$SELECT llm.append_turn('tap_ar_pinned', 'q', 'r', 5)$$, 'the one to pin has a turn');
SELECT lives_ok($$SELECT llm.pin_session('tap_ar_pinned')$$, 'and is pinned');
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' - (right(session_id, 1) || ' days')::interval
WHERE session_id IN ('tap_ar_1', 'tap_ar_2', 'tap_ar_3');
UPDATE llm.sessions SET last_query_at = now() - interval '30 years' WHERE session_id = 'tap_ar_pinned';

SELECT s::text AS session_1 FROM llm.sessions s WHERE session_id = 'tap_ar_1' \gset
SELECT string_agg(t::text, E'\n' ORDER BY seq) AS turns_1 FROM llm.turns t WHERE session_id = 'tap_ar_1' \gset
SELECT pg_temp.fingerprint_all() AS before_cleanup \gset

-- Refused arguments change nothing.
SELECT pg_temp.throws_cleanly_all($$SELECT llm.cleanup_stale(interval '10 years', 1000, 'keep')$$, '22023',
  'policy must be ''archive'' or ''delete'', not ''keep''', 'an unknown policy');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.cleanup_stale(interval '10 years', 1000, NULL)$$, '22023',
  'policy must be ''archive'' or ''delete'', not NULL', 'a NULL policy');

-- Archiving, in batches of 2.
SELECT is(llm.cleanup_stale(interval '10 years', 2, 'archive'), 3, 'cleanup_stale with policy archive returns how many it archived');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN ('tap_ar_1', 'tap_ar_2', 'tap_ar_3')), 0::bigint,
  'the stale sessions left the live table');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id IN ('tap_ar_1', 'tap_ar_2', 'tap_ar_3')), 0::bigint,
  'with their turns');
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM llm.archived_sessions WHERE session_id LIKE 'tap_ar_%'),
  ARRAY['tap_ar_1', 'tap_ar_2', 'tap_ar_3'], 'they are in the archive');
SELECT is((SELECT count(*) FROM llm.archived_turns WHERE session_id LIKE 'tap_ar_%'), 12::bigint, 'with all twelve turns');
SELECT is((SELECT array_agg(DISTINCT archived_at) FROM llm.archived_sessions WHERE session_id LIKE 'tap_ar_%'), ARRAY[now()],
  'archived_at is the time of the cleanup');
SELECT ok((SELECT pinned FROM llm.sessions WHERE session_id = 'tap_ar_pinned'), 'the pinned session, staler still, stays live');
SELECT isnt(llm.get_session('tap_ar_fresh'), NULL, 'the fresh session stays live');
SELECT is(llm.cleanup_stale(interval '10 years', 2, 'archive'), 0, 'a second run finds nothing');
SELECT * FROM pg_temp.invariants_hold();

-- Archived sessions are invisible to the live API.
SELECT is(llm.get_session('tap_ar_1'), NULL, 'get_session returns NULL for an archived session');
SELECT is(llm.get_context('tap_ar_1', 1000), NULL, 'get_context too');
SELECT throws_ok($$SELECT llm.append_turn('tap_ar_1', 'q', 'r')$$, 'P0002', 'session tap_ar_1 does not exist', 'append_turn: P0002');
SELECT throws_ok($$SELECT llm.pop_turn('tap_ar_1')$$, 'P0002', 'session tap_ar_1 does not exist', 'pop_turn: P0002');
SELECT throws_ok($$SELECT llm.pin_session('tap_ar_1')$$, 'P0002', 'session tap_ar_1 does not exist', 'pin_session: P0002');
SELECT throws_ok($$SELECT llm.fork_session('tap_ar_1')$$, 'P0002', 'session tap_ar_1 does not exist', 'fork_session: P0002');
SELECT is(llm.end_session('tap_ar_1'), false, 'end_session: false, and the archive keeps it');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ar_1'), 1::bigint, 'still archived');
SELECT is((SELECT array_agg(e->>'session_id' ORDER BY e->>'session_id') FROM jsonb_array_elements(llm.list_sessions('tap archive')->'sessions') e),
  ARRAY['tap_ar_fresh', 'tap_ar_pinned'], 'list_sessions lists only the live ones');
SELECT is(llm.search_turns('zyxwvutsquestion')->'hits', '[]'::jsonb, 'search_turns finds nothing in the archive');

-- The id stays taken.
SELECT pg_temp.throws_cleanly_all($$SELECT llm.create_session('tap archive', NULL, 'tap_ar_1')$$, '23505',
  'session tap_ar_1 already exists in the archive', 'create_session with an archived id');
SELECT is((pg_temp.error_of($$SELECT llm.create_session('tap archive', NULL, 'tap_ar_1')$$))->>'constraint', 'archived_sessions_pkey',
  'the error names the constraint archived_sessions_pkey');

-- Restoring: exactly as it was.
SELECT pg_temp.throws_cleanly_all($$SELECT llm.restore_session(NULL)$$, '22023', 'session_id must not be NULL', 'restore_session(NULL)');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.restore_session('tap_ar_none')$$, 'P0002', 'session tap_ar_none is not in the archive',
  'restore_session of an id that is nowhere');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.restore_session('tap_ar_fresh')$$, '23505', 'session tap_ar_fresh is live already',
  'restore_session of a live id');
CREATE TEMP TABLE restored AS SELECT llm.restore_session('tap_ar_1') AS j;
SELECT is(j->>'session_id', 'tap_ar_1', 'restore_session returns the summary of the session') FROM restored;
SELECT is((j->>'turn_count')::integer, 4, 'with its counters') FROM restored;
SELECT is(pg_temp.keys_of(j), pg_temp.keys_of(llm.list_sessions('tap archive')->'sessions'->0), 'in list_sessions'' shape') FROM restored;
SELECT is((SELECT s::text FROM llm.sessions s WHERE session_id = 'tap_ar_1'), :'session_1',
  'the session row is exactly as before: counters, timestamps, metadata, context');
SELECT is((SELECT string_agg(t::text, E'\n' ORDER BY seq) FROM llm.turns t WHERE session_id = 'tap_ar_1'), :'turns_1',
  'every turn is exactly as before, request_ids and timestamps included');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ar_1'), 0::bigint, 'it left the archive');
SELECT is((SELECT count(*) FROM llm.archived_turns WHERE session_id = 'tap_ar_1'), 0::bigint, 'with its turns');
SELECT is((llm.append_turn('tap_ar_1', 'again', 'again', 0, '{}', NULL, 'rid_2'))->>'replayed', 'true',
  'a retried request_id of the restored session replays its stored turn');
SELECT is((llm.append_turn('tap_ar_1', 'q5', 'r5', 1))->>'seq', '5', 'and the next append continues at seq 5');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.restore_session('tap_ar_1')$$, '23505', 'session tap_ar_1 is live already',
  'restoring it twice');
SELECT * FROM pg_temp.invariants_hold();

-- Purging.
SELECT pg_temp.throws_cleanly_all($$SELECT llm.purge_archive(NULL)$$, '22023', 'older_than must be an interval of zero or more, not NULL',
  'purge_archive(NULL)');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.purge_archive(interval '-1 day')$$, '22023',
  'older_than must be an interval of zero or more, not -1 days', 'a negative older_than');
SELECT pg_temp.throws_cleanly_all($$SELECT llm.purge_archive(interval '1 day', 0)$$, '22023',
  'batch_size must be between 1 and 100000, not 0', 'batch_size 0');
UPDATE llm.archived_sessions SET archived_at = now() - interval '20 years' WHERE session_id = 'tap_ar_2';
SELECT is(llm.purge_archive(interval '10 years'), 1, 'purge_archive returns how many it purged');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ar_2'), 0::bigint, 'the old archived session is gone');
SELECT is((SELECT count(*) FROM llm.archived_turns WHERE session_id = 'tap_ar_2'), 0::bigint, 'with its turns');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ar_3'), 1::bigint, 'the recently archived one stays');
SELECT is(llm.purge_archive(interval '10 years'), 0, 'a second purge finds nothing');
SELECT lives_ok($$SELECT llm.create_session('tap archive', NULL, 'tap_ar_2')$$, 'a purged id is free again');
SELECT * FROM pg_temp.invariants_hold();

-- The delete policy (the default of a direct call) leaves pinned sessions alone too.
SELECT is(llm.cleanup_stale(interval '10 years'), 0, 'delete policy: the pinned session is not removed');
SELECT lives_ok($$SELECT llm.pin_session('tap_ar_pinned', false)$$, 'unpinned');
SELECT is(llm.cleanup_stale(interval '10 years'), 1, 'now it is');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ar_pinned'), 0::bigint, 'deleted, not archived');

-- A session whose counters disagree with its turns (written around the API) is not
-- archived with a turn missing: the whole cleanup is refused.
SELECT lives_ok($$SELECT llm.create_session('tap archive', NULL, 'tap_ar_bad')$$, 'a session');
INSERT INTO llm.turns (session_id, seq, question, response, tokens) VALUES ('tap_ar_bad', 1, 'q', 'r', 1);
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' WHERE session_id = 'tap_ar_bad';
SELECT pg_temp.throws_cleanly_all($$SELECT llm.cleanup_stale(interval '10 years', 1000, 'archive')$$, '40001',
  'a session changed while it was being archived: 1 turns moved, their sessions count 0',
  'archiving a session whose turns disagree with its counters');
DELETE FROM llm.sessions WHERE session_id = 'tap_ar_bad';

-- Who may.
SET LOCAL ROLE llm_app;
SELECT throws_ok($$SELECT llm.restore_session('tap_ar_3')$$, '42501', 'permission denied for function restore_session', 'llm_app cannot restore');
SELECT throws_ok($$SELECT llm.purge_archive(interval '1 day')$$, '42501', 'permission denied for function purge_archive', 'llm_app cannot purge');
SELECT throws_ok($$SELECT * FROM llm.archived_sessions$$, '42501', 'permission denied for table archived_sessions', 'llm_app cannot read the archive');
SELECT lives_ok($$SELECT llm.pin_session('tap_ar_fresh')$$, 'llm_app may pin');
RESET ROLE;
SET LOCAL ROLE llm_admin;
SELECT is((llm.restore_session('tap_ar_3'))->>'session_id', 'tap_ar_3', 'llm_admin restores');
SELECT lives_ok($$SELECT llm.purge_archive(interval '10 years')$$, 'llm_admin purges');
SELECT lives_ok($$SELECT count(*) FROM llm.archived_sessions, llm.archived_turns$$, 'llm_admin reads the archive');
RESET ROLE;
SELECT ok(NOT has_table_privilege('public', 'llm.archived_sessions', 'SELECT') AND NOT has_table_privilege('public', 'llm.archived_turns', 'SELECT'),
  'PUBLIC cannot read the archive');

SELECT * FROM finish();
ROLLBACK;
