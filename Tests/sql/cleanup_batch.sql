-- llm._cleanup_batch: one batch of cleanup after a keyset (after_time, after_id), the
-- unit that cleanup_stale repeats in one transaction and run_cleanup commits one by one.
-- (run_cleanup itself commits, which a pgTAP test cannot: Tests/concurrency/run_cleanup.sh.)
BEGIN;
\ir support/helpers.psql
\ir support/archive_helpers.psql
SELECT plan(78);

-- max_idle is ten years here and the stale sessions are older still, so that no
-- session of other users of this database qualifies (as in cleanup_stale.sql).
-- Seven stale sessions, oldest first: tap_cb_old (10 years + 9 days), four idle for
-- exactly the same time (10 years + 5 days), made in an order that is not the order of
-- their ids, then tap_cb_newer (+ 3 days) and tap_cb_newest (+ 2 days). In batches of 3
-- a batch boundary falls inside the tie: only the ids order the tied sessions. Beside
-- them a pinned session as idle as the oldest, a fresh one, and one idle a day less
-- than max_idle. Each scenario below starts from this fixture, made again: a ROLLBACK
-- TO SAVEPOINT would undo pgTAP's record of the assertions too.
CREATE FUNCTION pg_temp.fixture() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM llm.sessions WHERE session_id LIKE 'tap\_cb\_%';
  DELETE FROM llm.archived_sessions WHERE session_id LIKE 'tap\_cb\_%';
  PERFORM llm.create_session('tap batch', 'ctx ' || s, s, jsonb_build_object('s', s))
  FROM unnest(ARRAY['tap_cb_old', 'tap_cb_tie_d', 'tap_cb_tie_b', 'tap_cb_tie_a', 'tap_cb_tie_c',
                    'tap_cb_newer', 'tap_cb_newest', 'tap_cb_pinned', 'tap_cb_fresh', 'tap_cb_almost']) s;
  -- One to three turns each.
  PERFORM llm.append_turn(s.session_id, 'question ' || j, 'response ' || j, 10 * j, jsonb_build_object('j', j), NULL, 'rid_' || j)
  FROM llm.sessions s, generate_series(1, 3) j
  WHERE s.session_id LIKE 'tap\_cb\_%' AND j <= 1 + ascii(right(s.session_id, 1)) % 3;
  PERFORM llm.pin_session('tap_cb_pinned');
  UPDATE llm.sessions SET last_query_at = now() - interval '10 years' - interval '9 days' WHERE session_id IN ('tap_cb_old', 'tap_cb_pinned');
  UPDATE llm.sessions SET last_query_at = now() - interval '10 years' - interval '5 days' WHERE session_id LIKE 'tap\_cb\_tie\_%';
  UPDATE llm.sessions SET last_query_at = now() - interval '10 years' - interval '3 days' WHERE session_id = 'tap_cb_newer';
  UPDATE llm.sessions SET last_query_at = now() - interval '10 years' - interval '2 days' WHERE session_id = 'tap_cb_newest';
  UPDATE llm.sessions SET last_query_at = now() - interval '10 years' + interval '1 day' WHERE session_id = 'tap_cb_almost';
END;
$$;
-- md5 of the sessions that must survive every cleanup here, and of their turns.
CREATE FUNCTION pg_temp.survivors() RETURNS text
LANGUAGE sql AS $$
  SELECT md5(COALESCE((SELECT string_agg(s::text, ',' ORDER BY session_id) FROM llm.sessions s
                       WHERE session_id IN ('tap_cb_pinned', 'tap_cb_fresh', 'tap_cb_almost')), '')
             || '--' ||
             COALESCE((SELECT string_agg(t::text, ',' ORDER BY session_id, seq) FROM llm.turns t
                       WHERE session_id IN ('tap_cb_pinned', 'tap_cb_fresh', 'tap_cb_almost')), ''))
$$;

SELECT lives_ok($$SELECT pg_temp.fixture()$$, 'ten sessions, seven of them stale, with their turns');
SELECT is((SELECT array_agg(session_id || ':' || turn_count || ':' || pinned ORDER BY session_id) FROM llm.sessions WHERE session_id LIKE 'tap\_cb\_%'),
  ARRAY['tap_cb_almost:3:false', 'tap_cb_fresh:3:false', 'tap_cb_newer:1:false', 'tap_cb_newest:3:false', 'tap_cb_old:2:false',
        'tap_cb_pinned:2:true', 'tap_cb_tie_a:2:false', 'tap_cb_tie_b:3:false', 'tap_cb_tie_c:1:false', 'tap_cb_tie_d:2:false'],
  'the fixture: turn counts, one pinned');
SELECT count(*) AS others_stale FROM llm.sessions WHERE last_query_at < now() - interval '10 years' AND session_id NOT LIKE 'tap%' \gset
SELECT is(:others_stale::bigint, 0::bigint, 'no session but ours is idle for ten years');
SELECT is((SELECT count(DISTINCT last_query_at) FROM llm.sessions WHERE session_id LIKE 'tap\_cb\_tie\_%'), 1::bigint,
  'the four tied sessions have the very same last_query_at');

-- The stale ones, in the order cleanup takes them, and what they were before. (The
-- fixture, made again, has the same last_query_at: now() is the transaction's start.)
CREATE TEMP TABLE stale AS
SELECT s.session_id, s.last_query_at, s.turn_count,
       row(s.session_id, s.agent_role, s.startup_context, s.metadata, s.turn_count, s.total_tokens,
           s.created_at, s.last_query_at, s.pinned, s.parent_session_id, s.parent_seq)::text AS session_row,
       (SELECT string_agg(row(t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at)::text,
                          E'\n' ORDER BY t.seq) FROM llm.turns t WHERE t.session_id = s.session_id) AS turn_rows
FROM llm.sessions s WHERE s.session_id LIKE 'tap\_cb\_%' AND s.last_query_at < now() - interval '10 years' AND NOT s.pinned;
SELECT is((SELECT array_agg(session_id ORDER BY last_query_at, session_id) FROM stale),
  ARRAY['tap_cb_old', 'tap_cb_tie_a', 'tap_cb_tie_b', 'tap_cb_tie_c', 'tap_cb_tie_d', 'tap_cb_newer', 'tap_cb_newest'],
  'seven stale sessions, oldest first, the tie ordered by id');
SELECT md5(s::text) AS pinned_row FROM llm.sessions s WHERE session_id = 'tap_cb_pinned' \gset
SELECT pg_temp.survivors() AS survivors \gset

-- Runs batches as cleanup_stale does, the keyset of each passed to the next, until one
-- comes back short; records each batch and which of our sessions it removed, oldest first.
CREATE TEMP TABLE batches (n int, removed int, candidates int, after_time timestamptz, after_id text, ids text[]);
CREATE FUNCTION pg_temp.run_batches(max_idle interval, batch_size int, policy text, started timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  b      record;
  v_n    int := 0;
  v_time timestamptz := NULL;
  v_id   text := NULL;
  v_live text[];
BEGIN
  TRUNCATE batches;
  LOOP
    v_n := v_n + 1;
    v_live := ARRAY(SELECT session_id FROM llm.sessions WHERE session_id LIKE 'tap\_cb\_%');
    SELECT * INTO b FROM llm._cleanup_batch(max_idle, batch_size, policy, started, v_time, v_id);
    INSERT INTO batches VALUES (v_n, b.removed, b.candidates, b.after_time, b.after_id,
      ARRAY(SELECT x FROM unnest(v_live) x WHERE NOT EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = x)
            ORDER BY (SELECT st.last_query_at FROM stale st WHERE st.session_id = x), x));
    EXIT WHEN b.candidates < batch_size OR v_n > 100;
    v_time := b.after_time;
    v_id := b.after_id;
  END LOOP;
END;
$$;
-- Every session the batches removed, in the order they removed them.
CREATE FUNCTION pg_temp.removed_in_order() RETURNS text[]
LANGUAGE sql AS $$ SELECT array_agg(x ORDER BY b.n, o) FROM batches b, unnest(b.ids) WITH ORDINALITY u(x, o) $$;

-- Refused arguments first, while there is something to remove: nothing is, live or archived.
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '0', 3, 'archive', now(), NULL, NULL)$$, '22023',
  'max_idle must be a positive interval, not 00:00:00', 'max_idle zero');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '-1 hour', 3, 'archive', now(), NULL, NULL)$$, '22023',
  'max_idle must be a positive interval, not -01:00:00', 'a negative max_idle');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(NULL, 3, 'archive', now(), NULL, NULL)$$, '22023',
  'max_idle must be a positive interval, not NULL', 'NULL max_idle');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '1000000 years', 3, 'archive', now(), NULL, NULL)$$, '22023',
  'max_idle is too long: 1000000 years', 'a max_idle beyond the calendar');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', 0, 'archive', now(), NULL, NULL)$$, '22023',
  'batch_size must be between 1 and 100000, not 0', 'batch_size 0');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', 100001, 'delete', now(), NULL, NULL)$$, '22023',
  'batch_size must be between 1 and 100000, not 100001', 'batch_size 100001');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', NULL, 'archive', now(), NULL, NULL)$$, '22023',
  'batch_size must not be NULL', 'NULL batch_size');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', 3, 'keep', now(), NULL, NULL)$$, '22023',
  'policy must be ''archive'' or ''delete'', not ''keep''', 'an unknown policy');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', 3, NULL, now(), NULL, NULL)$$, '22023',
  'policy must be ''archive'' or ''delete'', not NULL', 'a NULL policy');
SELECT pg_temp.throws_cleanly_all($$SELECT * FROM llm._cleanup_batch(interval '10 years', 3, $i$archive'; DROP TABLE llm.sessions; --$i$, now(), NULL, NULL)$$,
  '22023', $m$policy must be 'archive' or 'delete', not 'archive''; DROP TABLE llm.sessions; --'$m$, 'an injection as policy');
-- The checks hold for every batch, not only the first.
SELECT pg_temp.throws_cleanly_all(
  $$SELECT * FROM llm._cleanup_batch(interval '10 years', 0, 'archive', now(), now() - interval '10 years' - interval '6 days', 'tap_cb')$$, '22023',
  'batch_size must be between 1 and 100000, not 0', 'batch_size 0 in a later batch');
SELECT pg_temp.throws_cleanly_all(
  $$SELECT * FROM llm._cleanup_batch(interval '0', 3, 'delete', now(), now() - interval '10 years' - interval '6 days', 'tap_cb')$$, '22023',
  'max_idle must be a positive interval, not 00:00:00', 'max_idle zero in a later batch');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)), 7::bigint,
  'the stale sessions are all still there');

-- Archive in batches of 3: three calls, 3 + 3 + 1, each after the keyset of the one before.
SELECT lives_ok($$SELECT pg_temp.run_batches(interval '10 years', 3, 'archive', now())$$, 'batches of 3, archiving');
SELECT is((SELECT array_agg(candidates || '/' || removed ORDER BY n) FROM batches), ARRAY['3/3', '3/3', '1/1'],
  'three batches: 3, 3 and 1 candidates (short: done), each removing all its candidates');
SELECT is((SELECT array_agg(array_to_string(ids, ' ') ORDER BY n) FROM batches),
  ARRAY['tap_cb_old tap_cb_tie_a tap_cb_tie_b', 'tap_cb_tie_c tap_cb_tie_d tap_cb_newer', 'tap_cb_newest'],
  'each batch takes the oldest after the keyset: the tie split between batches by id, nothing twice, nothing skipped');
SELECT is((SELECT array_agg(b.after_id || ' ' || (b.after_time = st.last_query_at) ORDER BY b.n)
           FROM batches b JOIN stale st ON st.session_id = b.after_id),
  ARRAY['tap_cb_tie_b true', 'tap_cb_newer true', 'tap_cb_newest true'],
  'each batch returns the keyset (last_query_at, session_id) of its last candidate');
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM llm.archived_sessions WHERE session_id LIKE 'tap\_cb\_%'),
  (SELECT array_agg(session_id ORDER BY session_id) FROM stale), 'all seven are in the archive, and only they');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)), 0::bigint, 'none is live');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id IN (SELECT session_id FROM stale)), 0::bigint, 'nor are their turns');
SELECT is((SELECT array_agg(st.session_id ORDER BY st.session_id) FROM stale st JOIN llm.archived_sessions a USING (session_id)
           WHERE row(a.session_id, a.agent_role, a.startup_context, a.metadata, a.turn_count, a.total_tokens,
                     a.created_at, a.last_query_at, a.pinned, a.parent_session_id, a.parent_seq)::text = st.session_row),
  (SELECT array_agg(session_id ORDER BY session_id) FROM stale), 'each archived session is the live one, column for column');
SELECT is((SELECT array_agg(st.session_id ORDER BY st.session_id) FROM stale st
           WHERE st.turn_rows = (SELECT string_agg(row(t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at)::text,
                                                   E'\n' ORDER BY t.seq) FROM llm.archived_turns t WHERE t.session_id = st.session_id)),
  (SELECT array_agg(session_id ORDER BY session_id) FROM stale), 'and its turns are its live turns, column for column');
SELECT is((SELECT array_agg(a.session_id || ':' || a.turn_count ORDER BY a.session_id) FROM llm.archived_sessions a WHERE a.session_id LIKE 'tap\_cb\_%'),
  (SELECT array_agg(st.session_id || ':' || st.turn_count ORDER BY st.session_id) FROM stale st), 'the archived turn counts are the live ones');
SELECT is((SELECT count(*) FROM llm.archived_turns WHERE session_id LIKE 'tap\_cb\_%'),
  (SELECT sum(turn_count) FROM stale)::bigint, 'and count the archived turns');
SELECT pg_temp.invariants_hold();
SELECT is((SELECT md5(s::text) FROM llm.sessions s WHERE session_id = 'tap_cb_pinned'), :'pinned_row',
  'the pinned session, idle as long as the oldest, is untouched');
SELECT is(pg_temp.survivors(), :'survivors', 'the pinned, fresh and almost stale sessions and their turns are as they were');
SELECT results_eq($$SELECT candidates, removed FROM llm._cleanup_batch(interval '10 years', 3, 'archive', now(), NULL, NULL)$$,
  $$VALUES (0, 0)$$, 'a new first batch finds nothing left: no candidate, nothing removed');

-- Other batch sizes cover the same seven exactly once.
SELECT lives_ok($$SELECT pg_temp.fixture(), pg_temp.run_batches(interval '10 years', 1, 'archive', now())$$, 'again, in batches of 1');
SELECT is((SELECT array_agg(candidates ORDER BY n) FROM batches), ARRAY[1, 1, 1, 1, 1, 1, 1, 0],
  'seven full batches of one, then an empty one');
SELECT is(pg_temp.removed_in_order(), (SELECT array_agg(session_id ORDER BY last_query_at, session_id) FROM stale),
  'one session each, in order, each once');
SELECT lives_ok($$SELECT pg_temp.fixture(), pg_temp.run_batches(interval '10 years', 7, 'archive', now())$$, 'again, in a batch of exactly 7');
SELECT is((SELECT array_agg(candidates || '/' || removed ORDER BY n) FROM batches), ARRAY['7/7', '0/0'],
  'one full batch, then an empty one that ends it');
SELECT is(pg_temp.removed_in_order(), (SELECT array_agg(session_id ORDER BY last_query_at, session_id) FROM stale),
  'all seven in the first');

-- The first batch: after_time NULL or -infinity, whatever after_id says.
SELECT pg_temp.fixture() \g /dev/null
SELECT results_eq($$SELECT after_id, candidates, removed FROM llm._cleanup_batch(interval '10 years', 2, 'archive', now(), '-infinity', 'zzz')$$,
  $$VALUES ('tap_cb_tie_a'::text, 2, 2)$$, 'after_time -infinity starts from the oldest, whatever after_id is');
SELECT results_eq($$SELECT after_id, candidates, removed FROM llm._cleanup_batch(interval '10 years', 2, 'archive', now(), NULL, 'zzz')$$,
  $$VALUES ('tap_cb_tie_c'::text, 2, 2)$$, 'so does a NULL after_time: the oldest left are next');
-- A keyset in the middle of the tie: the tied sessions after it by id, none before.
SELECT pg_temp.fixture() \g /dev/null
SELECT results_eq($$SELECT after_id, candidates, removed
                    FROM llm._cleanup_batch(interval '10 years', 2, 'archive', now(),
                                            (SELECT last_query_at FROM stale WHERE session_id = 'tap_cb_tie_b'), 'tap_cb_tie_b')$$,
  $$VALUES ('tap_cb_tie_d'::text, 2, 2)$$, 'a keyset inside the tie takes the tied sessions with greater ids next');
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM llm.archived_sessions WHERE session_id LIKE 'tap\_cb\_%'),
  ARRAY['tap_cb_tie_c', 'tap_cb_tie_d'], 'those two, and no session before the keyset');
SELECT pg_temp.fixture() \g /dev/null
SELECT results_eq($$SELECT candidates, removed FROM llm._cleanup_batch(interval '10 years', 3, 'archive', now(),
                    (SELECT last_query_at FROM stale WHERE session_id = 'tap_cb_newest'), 'tap_cb_newest')$$,
  $$VALUES (0, 0)$$, 'a keyset at the last stale session: nothing after it');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)), 7::bigint, 'and nothing removed');

-- Delete: the same batches, nothing kept.
SELECT pg_temp.fixture() \g /dev/null
SELECT pg_temp.survivors() AS survivors \gset
SELECT lives_ok($$SELECT pg_temp.run_batches(interval '10 years', 3, 'delete', now())$$, 'batches of 3, deleting');
SELECT is((SELECT array_agg(candidates || '/' || removed ORDER BY n) FROM batches), ARRAY['3/3', '3/3', '1/1'],
  'three batches again: 3, 3 and 1');
SELECT is(pg_temp.removed_in_order(), (SELECT array_agg(session_id ORDER BY last_query_at, session_id) FROM stale),
  'the seven, in order, each once');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)), 0::bigint, 'the stale sessions are gone');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id IN (SELECT session_id FROM stale)), 0::bigint, 'with their turns');
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id LIKE 'tap\_cb\_%'), 0::bigint, 'and nothing was archived');
SELECT is(pg_temp.survivors(), :'survivors', 'the pinned, fresh and almost stale sessions and their turns are untouched');

-- started: the cutoff is started - max_idle, but never later than now - max_idle.
SELECT pg_temp.fixture() \g /dev/null
SELECT pg_temp.survivors() AS survivors \gset
SELECT results_eq($$SELECT candidates, removed FROM llm._cleanup_batch(interval '10 years', 100, 'archive', now() + interval '1 year', NULL, NULL)$$,
  $$VALUES (7, 7)$$, 'a started a year ahead archives the seven stale sessions');
SELECT is(pg_temp.survivors(), :'survivors',
  'but not the one idle a day less than max_idle: a future started is clamped to now');
SELECT pg_temp.fixture() \g /dev/null
SELECT pg_temp.survivors() AS survivors \gset
SELECT results_eq($$SELECT candidates, removed FROM llm._cleanup_batch(interval '10 years', 100, 'archive', 'infinity', NULL, NULL)$$,
  $$VALUES (7, 7)$$, 'started infinity: the same seven');
SELECT is(pg_temp.survivors(), :'survivors', 'and still not the almost stale one');
SELECT pg_temp.fixture() \g /dev/null
SELECT results_eq($$SELECT candidates, removed FROM llm._cleanup_batch(interval '10 years', 100, 'archive', NULL, NULL, NULL)$$,
  $$VALUES (7, 7)$$, 'started NULL is now');
SELECT pg_temp.fixture() \g /dev/null
SELECT results_eq($$SELECT after_id, candidates, removed FROM llm._cleanup_batch(interval '10 years', 100, 'archive', now() - interval '4 days', NULL, NULL)$$,
  $$VALUES ('tap_cb_tie_d'::text, 5, 5)$$, 'a started 4 days ago takes only what was stale then: the oldest and the four tied');
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)),
  ARRAY['tap_cb_newer', 'tap_cb_newest'], 'the two idle for less than ten years and 4 days stay');

-- Who may run it: llm_admin (run_cleanup runs with its caller's rights), not llm_app.
SELECT pg_temp.fixture() \g /dev/null
SET LOCAL ROLE llm_app;
SELECT throws_ok($$SELECT * FROM llm._cleanup_batch(interval '10 years', 3, 'archive', now(), NULL, NULL)$$, '42501',
  'permission denied for function _cleanup_batch', 'llm_app cannot run a cleanup batch');
RESET ROLE;
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN (SELECT session_id FROM stale)), 7::bigint, 'nothing was removed');
SET LOCAL ROLE llm_admin;
SELECT results_eq($$SELECT after_id, candidates, removed FROM llm._cleanup_batch(interval '10 years', 3, 'archive', now(), NULL, NULL)$$,
  $$VALUES ('tap_cb_tie_b'::text, 3, 3)$$, 'llm_admin runs a batch: the three oldest archived');
RESET ROLE;
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM llm.archived_sessions WHERE session_id LIKE 'tap\_cb\_%'),
  ARRAY['tap_cb_old', 'tap_cb_tie_a', 'tap_cb_tie_b'], 'they are in the archive');

SELECT * FROM finish();
ROLLBACK;
