-- llm.stats: sessions, turns and tokens per agent role, ordered by role.
BEGIN;
\ir support/helpers.psql
SELECT plan(11);

SELECT lives_ok($$SELECT llm.create_session('tap_stats_a', NULL, 'tap_st_a' || i) FROM generate_series(1, 3) i$$, 'three sessions of role a');
SELECT lives_ok($$SELECT llm.append_turn('tap_st_a1', 'q', 'r', t) FROM unnest(ARRAY[10, 20, 30]) t$$, 'one with three turns');
SELECT lives_ok($$SELECT llm.append_turn('tap_st_a2', 'q', 'r', 5)$$, 'one with one turn');
SELECT lives_ok($$SELECT llm.create_session('tap_stats_b', NULL, 'tap_st_b1'), llm.append_turn('tap_st_b1', 'q', 'r', 2147483647),
                         llm.append_turn('tap_st_b1', 'q', 'r', 2147483647)$$, 'a session of role b with many tokens');

CREATE FUNCTION pg_temp.ours() RETURNS jsonb LANGUAGE sql AS $$
  SELECT COALESCE(jsonb_agg(e ORDER BY o), '[]') FROM jsonb_array_elements(llm.stats()) WITH ORDINALITY x(e, o)
  WHERE e->>'agent_role' LIKE 'tap_stats_%' $$;

SELECT is(jsonb_typeof(llm.stats()), 'array', 'stats is a JSON array');
SELECT is(pg_temp.ours(),
  '[{"agent_role": "tap_stats_a", "sessions": 3, "turns": 4, "tokens": 65},
    {"agent_role": "tap_stats_b", "sessions": 1, "turns": 2, "tokens": 4294967294}]'::jsonb,
  'one entry per role: sessions, turns and tokens (beyond 2^31 too)');
SELECT is((SELECT array_agg(e->>'agent_role' ORDER BY o) FROM jsonb_array_elements(llm.stats()) WITH ORDINALITY x(e, o)),
  (SELECT array_agg(e->>'agent_role' ORDER BY e->>'agent_role') FROM jsonb_array_elements(llm.stats()) e),
  'entries are ordered by agent_role');
SELECT is((SELECT count(*) FROM jsonb_array_elements(llm.stats()) e WHERE pg_temp.keys_of(e) <> ARRAY['agent_role', 'sessions', 'tokens', 'turns']),
  0::bigint, 'every entry has exactly agent_role, sessions, turns and tokens');
SELECT is((SELECT sum((e->>'sessions')::bigint) FROM jsonb_array_elements(llm.stats()) e), (SELECT count(*) FROM llm.sessions)::numeric,
  'the sessions of all entries add up to every session');

SELECT lives_ok($$SELECT llm.end_session('tap_st_a1'), llm.end_session('tap_st_b1')$$, 'ending two sessions');
SELECT is(pg_temp.ours(), '[{"agent_role": "tap_stats_a", "sessions": 2, "turns": 1, "tokens": 5}]'::jsonb,
  'stats follow: role b disappears, role a shrinks');

SELECT * FROM finish();
ROLLBACK;
