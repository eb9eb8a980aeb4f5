-- llm.list_sessions: summaries, most recently active first, in keyset pages that visit each session once.
BEGIN;
\ir support/helpers.psql
SELECT plan(44);

-- Five sessions of role tap_ls, one minute apart, in the year 2999 so that they
-- come first even among the other sessions of this database.
SELECT lives_ok($$SELECT llm.create_session('tap_ls', 'ctx', 'tap_ls_' || i) FROM generate_series(1, 5) i$$, 'five sessions');
SELECT lives_ok($$SELECT llm.append_turn('tap_ls_3', 'q', 'r', 42)$$, 'one of them with a turn');
UPDATE llm.sessions SET last_query_at = '2999-01-01 00:00:00.123456+00'::timestamptz + (split_part(session_id, '_', 3) || ' minutes')::interval
WHERE agent_role = 'tap_ls';
-- Nine of role tap_ls_tie: seven active at the very same microsecond, one before, one after.
SELECT lives_ok($$SELECT llm.create_session('tap_ls_tie', NULL, 'tap_tie_' || c) FROM unnest(ARRAY['a','b','c','d','e','f','g','old','new']) c$$,
  'nine sessions for the ties');
UPDATE llm.sessions SET last_query_at = CASE session_id
    WHEN 'tap_tie_old' THEN '2998-06-01 11:00:00+00'::timestamptz
    WHEN 'tap_tie_new' THEN '2998-06-01 13:00:00+00'::timestamptz
    ELSE '2998-06-01 12:00:00.654321+00'::timestamptz END
WHERE agent_role = 'tap_ls_tie';

-- The ids of a page, in order.
CREATE FUNCTION pg_temp.ids(page jsonb) RETURNS text[] LANGUAGE sql AS $$
  SELECT COALESCE(array_agg(s->>'session_id' ORDER BY o), '{}') FROM jsonb_array_elements(page->'sessions') WITH ORDINALITY x(s, o) $$;
-- Follows next_page from the first page to the last: one row per session listed.
CREATE FUNCTION pg_temp.walk(role text, page_size integer)
RETURNS TABLE (page integer, session_id text) LANGUAGE plpgsql AS $$
DECLARE
  v_page jsonb := llm.list_sessions(role, page_size);
  v_n    integer := 1;
BEGIN
  LOOP
    RETURN QUERY SELECT v_n, unnest(pg_temp.ids(v_page));
    EXIT WHEN v_page->'next_page' = 'null'::jsonb OR v_n > 100;
    v_page := llm.list_sessions(role, page_size, (v_page->'next_page'->>'before')::timestamptz, v_page->'next_page'->>'before_id');
    v_n := v_n + 1;
  END LOOP;
END;
$$;

SELECT is(pg_temp.keys_of(llm.list_sessions('tap_ls')), ARRAY['next_page', 'sessions'], 'a page has sessions and next_page');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls')), ARRAY['tap_ls_5', 'tap_ls_4', 'tap_ls_3', 'tap_ls_2', 'tap_ls_1'],
  'most recently active first');
SELECT is(llm.list_sessions('tap_ls')->'next_page', 'null'::jsonb, 'next_page is null when everything fits');
SELECT ok(llm.list_sessions('tap_ls')->'sessions'->0 ?& ARRAY['agent_role', 'created_at', 'last_query_at', 'metadata',
                                                               'session_id', 'total_tokens', 'turn_count'],
  'a summary has every key of the contract');
SELECT ok(NOT EXISTS (SELECT FROM jsonb_array_elements(llm.list_sessions('tap_ls')->'sessions') s
                      WHERE s ? 'conversation_history' OR s ? 'startup_context'),
  'no summary has conversation_history or startup_context');
SELECT is(llm.list_sessions('tap_ls')->'sessions'->2,
  (SELECT llm.get_session('tap_ls_3') - 'conversation_history' - 'startup_context'),
  'a summary is the session without its history and startup context');
SELECT is(llm.list_sessions('tap_ls')->'sessions'->2->'turn_count', '1'::jsonb, 'summaries carry the counters');
SELECT is(llm.list_sessions('tap_ls')->'sessions'->2->'total_tokens', '42'::jsonb, 'and the tokens');

-- Pages.
SELECT is(llm.list_sessions('tap_ls', 5)->'next_page', 'null'::jsonb, 'a page exactly full has no next_page');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls', 4)), ARRAY['tap_ls_5', 'tap_ls_4', 'tap_ls_3', 'tap_ls_2'], 'max_rows 4: four rows');
SELECT is(pg_temp.keys_of(llm.list_sessions('tap_ls', 4)->'next_page'), ARRAY['before', 'before_id'], 'next_page has before and before_id');
SELECT is(llm.list_sessions('tap_ls', 4)->'next_page'->>'before_id', 'tap_ls_2', 'before_id is the last session of the page');
SELECT is((llm.list_sessions('tap_ls', 4)->'next_page'->>'before')::timestamptz,
  (SELECT last_query_at FROM llm.sessions WHERE session_id = 'tap_ls_2'),
  'before is its last_query_at, to the microsecond');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls', 4, '2999-01-01 00:02:00.123456+00', 'tap_ls_2')), ARRAY['tap_ls_1'],
  'the next page continues after it');
SELECT is(llm.list_sessions('tap_ls', 4, '2999-01-01 00:02:00.123456+00', 'tap_ls_2')->'next_page', 'null'::jsonb,
  'the last page has no next_page');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls', 10, '2999-01-01 00:01:00.123456+00', 'tap_ls_1')), '{}'::text[],
  'past the last session the page is empty');
SELECT is(llm.list_sessions('tap_ls', 10, '2999-01-01 00:01:00.123456+00', 'tap_ls_1'), '{"sessions": [], "next_page": null}'::jsonb,
  'an empty page is {"sessions": [], "next_page": null}');
SELECT is(llm.list_sessions('tap_no_such_role'), '{"sessions": [], "next_page": null}'::jsonb, 'an unknown role lists nothing');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls', 1)), ARRAY['tap_ls_5'], 'max_rows 1 lists one session');

-- Without agent_role every session is listed: ours, in the year 2999, come first.
SELECT is(pg_temp.ids(llm.list_sessions(NULL, 3)), ARRAY['tap_ls_5', 'tap_ls_4', 'tap_ls_3'], 'without a role: all roles, newest first');
SELECT is(pg_temp.ids(llm.list_sessions(NULL, 2, '2999-01-01 00:03:00.123456+00', 'tap_ls_3')), ARRAY['tap_ls_2', 'tap_ls_1'],
  'without a role, paging continues after the keyset');
SELECT is(pg_temp.ids(llm.list_sessions(max_rows => 2, before => '2999-01-01 00:03:00.123456+00')), ARRAY['tap_ls_2', 'tap_ls_1'],
  'before alone lists what was active strictly before it');

-- Ties: equal last_query_at, ordered by session_id descending.
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls_tie')),
  ARRAY['tap_tie_new', 'tap_tie_g', 'tap_tie_f', 'tap_tie_e', 'tap_tie_d', 'tap_tie_c', 'tap_tie_b', 'tap_tie_a', 'tap_tie_old'],
  'equal last_query_at are ordered by session_id descending');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls_tie', 3, '2998-06-01 12:00:00.654321+00', 'tap_tie_e')),
  ARRAY['tap_tie_d', 'tap_tie_c', 'tap_tie_b'], 'a page that starts inside a tie continues after before_id');
SELECT is(pg_temp.ids(llm.list_sessions('tap_ls_tie', 100, '2998-06-01 12:00:00.654321+00')), ARRAY['tap_tie_old'],
  'before without before_id skips every session active at exactly that time');
SELECT is((SELECT array_agg(session_id ORDER BY page, ord) FROM pg_temp.walk('tap_ls_tie', 2) WITH ORDINALITY w(page, session_id, ord)),
  pg_temp.ids(llm.list_sessions('tap_ls_tie')), 'pages of 2 through the ties list every session once, in order');
SELECT is((SELECT max(page) FROM pg_temp.walk('tap_ls_tie', 2)), 5, 'nine sessions in pages of 2 are five pages');
SELECT is((SELECT count(*) FROM pg_temp.walk('tap_ls_tie', 4) WHERE page = 3), 1::bigint, 'in pages of 4 the third page has the last one');
SELECT is(
  (SELECT array_agg(n ORDER BY n) FROM (
     SELECT n FROM generate_series(1, 10) n
     WHERE (SELECT count(*) FROM pg_temp.walk('tap_ls_tie', n)) = 9
       AND (SELECT count(DISTINCT session_id) FROM pg_temp.walk('tap_ls_tie', n)) = 9) ok),
  (SELECT array_agg(n ORDER BY n) FROM generate_series(1, 10) n),
  'every page size from 1 to 10 visits each of the nine sessions exactly once');
SELECT is((SELECT count(*) FROM pg_temp.walk(NULL, 7) WHERE session_id LIKE 'tap_tie_%' OR session_id LIKE 'tap_ls_%'), 14::bigint,
  'walking all sessions of the database in pages of 7 meets each of our 14 once');

SELECT pg_temp.fingerprint() AS before_list \gset
SELECT lives_ok($$SELECT llm.list_sessions(), llm.list_sessions('tap_ls', 1000)$$, 'listing');
SELECT is(pg_temp.fingerprint(), :'before_list', 'listing changes nothing');

-- Refused arguments.
SELECT throws_ok($$SELECT llm.list_sessions('tap_ls', 0)$$, '22023', 'max_rows must be between 1 and 1000, not 0', 'max_rows 0');
SELECT throws_ok($$SELECT llm.list_sessions('tap_ls', -1)$$, '22023', 'max_rows must be between 1 and 1000, not -1', 'negative max_rows');
SELECT throws_ok($$SELECT llm.list_sessions('tap_ls', 1001)$$, '22023', 'max_rows must be between 1 and 1000, not 1001', 'max_rows 1001');
SELECT throws_ok($$SELECT llm.list_sessions('tap_ls', NULL)$$, '22023', 'max_rows must not be NULL', 'NULL max_rows');
SELECT throws_ok($$SELECT llm.list_sessions('tap_ls', 10, NULL, 'tap_ls_2')$$, '22023', 'before_id needs before', 'before_id without before');
SELECT matches(pg_temp.error_of($$SELECT llm.list_sessions('tap_ls', 10, NULL, 'tap_ls_2')$$)->>'hint', 'next_page',
  'the hint says to pass both values of next_page');
SELECT throws_ok($$SELECT llm.list_sessions('')$$, '22023', 'agent_role must not be blank', 'an empty agent_role');
SELECT throws_ok($$SELECT llm.list_sessions('   ')$$, '22023', 'agent_role must not be blank', 'a blank agent_role');
SELECT throws_ok($$SELECT llm.list_sessions(repeat('r', 101))$$, '22023', 'agent_role is 101 characters long; the limit is 100',
  'a 101-character agent_role');

SELECT * FROM finish();
ROLLBACK;
