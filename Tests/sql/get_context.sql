-- llm.get_context: the newest turns that fit a token budget, oldest first, as chat messages;
-- it reads the turns it returns (and the one that did not fit), not the whole history.
BEGIN;
\ir support/helpers.psql
SELECT plan(32);

SELECT lives_ok($$SELECT llm.create_session('tap context', 'You are terse.', 'tap_ctx')$$, 'a session with a startup context');
-- tokens 10, 20, 30, 40: total 100.
SELECT lives_ok($$SELECT llm.append_turn('tap_ctx', 'q' || j, 'r' || j, 10 * j) FROM generate_series(1, 4) j ORDER BY j$$, 'four turns');
SELECT lives_ok($$SELECT llm.create_session('tap context', NULL, 'tap_ctx_plain')$$, 'a session without one');
SELECT lives_ok($$SELECT llm.append_turn('tap_ctx_plain', 'hello', 'hi', 3)$$, 'one turn');

SELECT is(llm.get_context('tap_ctx', 70), jsonb_build_object(
  'session_id', 'tap_ctx',
  'messages', jsonb_build_array(
    jsonb_build_object('role', 'system', 'content', 'You are terse.'),
    jsonb_build_object('role', 'user', 'content', 'q3'), jsonb_build_object('role', 'assistant', 'content', 'r3'),
    jsonb_build_object('role', 'user', 'content', 'q4'), jsonb_build_object('role', 'assistant', 'content', 'r4')),
  'turns_included', 2, 'tokens_included', 70, 'turns_omitted', 2, 'tokens_omitted', 30),
  'a budget of exactly the two newest turns: system prompt, then those turns oldest first');
SELECT is(llm.get_context('tap_ctx', 69)->'turns_included', '1', 'one token less and only the newest fits');
SELECT is(llm.get_context('tap_ctx', 69)->'tokens_omitted', '60', 'and 60 tokens are omitted');
SELECT is(llm.get_context('tap_ctx', 100)->'turns_included', '4', 'a budget of the whole history takes it all');
SELECT is(llm.get_context('tap_ctx', 100)->'turns_omitted', '0', 'omitting nothing');
SELECT is(jsonb_array_length(llm.get_context('tap_ctx', 100)->'messages'), 9, 'system + 4 x (user, assistant)');
SELECT is(llm.get_context('tap_ctx', 2147483647)->'tokens_included', '100', 'the largest budget');
SELECT is(llm.get_context('tap_ctx', 39)->'messages', jsonb_build_array(jsonb_build_object('role', 'system', 'content', 'You are terse.')),
  'when the newest turn does not fit, only the system prompt: its tokens are not counted');
SELECT is(llm.get_context('tap_ctx', 39)->'turns_included', '0', 'no turn included');
SELECT is(llm.get_context('tap_ctx', 0, false)->'messages', '[]'::jsonb, 'budget 0 without the system prompt: no messages');
SELECT is(llm.get_context('tap_ctx', 70, false)->'messages'->0->>'role', 'user', 'system_prompt false leaves the startup context out');
SELECT is(llm.get_context('tap_ctx_plain', 100)->'messages',
  jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'hello'), jsonb_build_object('role', 'assistant', 'content', 'hi')),
  'no startup context, no system message');

-- The window ends at the first turn that does not fit, even if an older one would.
SELECT lives_ok($$SELECT llm.append_turn('tap_ctx', 'big', 'big', 1000), llm.append_turn('tap_ctx', 'small', 'small', 1)$$, 'a big turn, then a small one');
SELECT is(llm.get_context('tap_ctx', 500)->'turns_included', '1', 'a budget of 500 takes only the small newest turn, not the older ones behind the big one');
-- Turns of zero tokens always fit.
SELECT lives_ok($$SELECT llm.create_session('tap context', NULL, 'tap_ctx_zero')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_ctx_zero', 'q', 'r', 0) FROM generate_series(1, 3)$$, 'three turns of zero tokens');
SELECT is(llm.get_context('tap_ctx_zero', 0)->'turns_included', '3', 'all fit a budget of 0');

-- It reads what it returns, not the history: on a 10,000-turn session, a budget of 5
-- turns fetches 5 turns to find them, 1 more that does not fit, and the 5 again for
-- their texts (counted by this transaction's own statistics).
SELECT lives_ok($$SELECT llm.create_session('tap context', NULL, 'tap_ctx_long')$$, 'a long session');
INSERT INTO llm.turns (session_id, seq, question, response, tokens)
SELECT 'tap_ctx_long', j, 'q' || j, 'r' || j, 10 FROM generate_series(1, 10000) j;
UPDATE llm.sessions SET turn_count = 10000, total_tokens = 100000 WHERE session_id = 'tap_ctx_long';
-- The statistics say the session is small (the rows were written by this transaction),
-- the case in which a careless plan reads the whole history.
SELECT idx_tup_fetch + seq_tup_read AS fetched_before FROM pg_stat_xact_user_tables WHERE relid = 'llm.turns'::regclass \gset
SELECT is(llm.get_context('tap_ctx_long', 50)->'turns_included', '5', 'five turns of the 10,000 fit');
SELECT cmp_ok((SELECT idx_tup_fetch + seq_tup_read FROM pg_stat_xact_user_tables WHERE relid = 'llm.turns'::regclass) - :fetched_before,
  '<=', 64::bigint + 5,
  'and at most 69 turn rows were read: one range of 64 seqs to find them, 5 for their texts');
SELECT is(llm.get_context('tap_ctx_long', 50)->'turns_omitted', '9995', 'the omitted count comes from the counters');

-- Unknown sessions and refused arguments.
SELECT is(llm.get_context('tap_ctx_none', 100), NULL, 'an unknown session: NULL');
SELECT throws_ok($$SELECT llm.get_context(NULL, 100)$$, '22023', 'session_id must not be NULL', 'a NULL session_id');
SELECT throws_ok($$SELECT llm.get_context('tap_ctx', NULL)$$, '22023', 'max_tokens must not be NULL', 'a NULL max_tokens');
SELECT throws_ok($$SELECT llm.get_context('tap_ctx', -1)$$, '22023', 'max_tokens must be between 0 and 2147483647, not -1', 'a negative max_tokens');
SELECT throws_ok($$SELECT llm.get_context('tap_ctx', 10, NULL)$$, '22023', 'system_prompt must not be NULL', 'a NULL system_prompt');

-- Who may.
SET LOCAL ROLE llm_app;
SELECT is(llm.get_context('tap_ctx', 1)->>'session_id', 'tap_ctx', 'llm_app gets a context');
RESET ROLE;
SELECT is(provolatile, 's', 'get_context is STABLE') FROM pg_proc WHERE oid = 'llm.get_context(text, integer, boolean)'::regprocedure;

SELECT * FROM finish();
ROLLBACK;
