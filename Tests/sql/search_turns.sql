-- llm.search_turns: English full-text search over the live turns, ranked, with snippets.
BEGIN;
\ir support/helpers.psql
SELECT plan(19);

SELECT lives_ok($$SELECT llm.create_session(r, NULL, 'tap_srch_' || r) FROM unnest(ARRAY['tapsrcha', 'tapsrchb']) r$$, 'two sessions of two roles');
SELECT lives_ok($$SELECT llm.append_turn('tap_srch_tapsrcha', 'How do we reduce qwxzlatency in the qwxzdatabase?', 'Add an index; qwxzlatency drops.', 1)$$, 'a turn about both words');
SELECT lives_ok($$SELECT llm.append_turn('tap_srch_tapsrcha', 'Lunch?', 'Soup.', 1)$$, 'an unrelated turn');
SELECT lives_ok($$SELECT llm.append_turn('tap_srch_tapsrchb', 'Is the qwxzdatabase backed up?', 'Nightly.', 1)$$, 'a turn with one word, other role');

CREATE TEMP TABLE found AS SELECT llm.search_turns('qwxzlatency qwxzdatabase') AS j;
SELECT is(pg_temp.keys_of(j), ARRAY['hits'], 'the result is {"hits": [...]}') FROM found;
SELECT is(jsonb_array_length(j->'hits'), 1, 'websearch syntax: both words must match') FROM found;
SELECT is(pg_temp.keys_of(j->'hits'->0), ARRAY['agent_role', 'rank', 'seq', 'session_id', 'snippet'], 'a hit has session_id, seq, agent_role, rank, snippet') FROM found;
SELECT is((j->'hits'->0->>'seq')::integer, 1, 'the right turn') FROM found;
SELECT is(j->'hits'->0->>'agent_role', 'tapsrcha', 'with its role') FROM found;
SELECT ok(j->'hits'->0->>'snippet' LIKE '%<b>qwxzlatency</b>%', 'the snippet marks the match') FROM found;
SELECT is((SELECT array_agg(h->>'session_id' ORDER BY h->>'session_id') FROM jsonb_array_elements(llm.search_turns('qwxzdatabase')->'hits') h),
  ARRAY['tap_srch_tapsrcha', 'tap_srch_tapsrchb'], 'one word: both sessions');
SELECT ok((SELECT bool_and((a->>'rank')::real >= (b->>'rank')::real) FROM jsonb_array_elements(llm.search_turns('qwxzdatabase qwxzlatency or qwxzdatabase')->'hits') WITH ORDINALITY a(a, i)
           JOIN jsonb_array_elements(llm.search_turns('qwxzdatabase qwxzlatency or qwxzdatabase')->'hits') WITH ORDINALITY b(b, k) ON k = i + 1),
  'best first');
SELECT is(jsonb_array_length(llm.search_turns('qwxzdatabase', 'tapsrchb')->'hits'), 1, 'agent_role narrows the search');
SELECT is(jsonb_array_length(llm.search_turns('qwxzdatabase', NULL, 1)->'hits'), 1, 'max_rows bounds it');
SELECT is(llm.search_turns('the')->'hits', '[]'::jsonb, 'stop words only: no hits');

SELECT throws_ok($$SELECT llm.search_turns('   ')$$, '22023', 'query must not be blank', 'a blank query');
SELECT throws_ok($$SELECT llm.search_turns(NULL)$$, '22023', 'query must not be NULL', 'a NULL query');
SELECT throws_ok($$SELECT llm.search_turns('x', NULL, 101)$$, '22023', 'max_rows must be between 1 and 100, not 101', 'max_rows 101');

SET LOCAL ROLE llm_app;
SELECT is(jsonb_array_length(llm.search_turns('qwxzlatency')->'hits'), 1, 'llm_app searches');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
