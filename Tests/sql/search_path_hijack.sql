-- A caller's search_path cannot change what the API does: every API function pins
-- search_path = pg_catalog, pg_temp, so look-alike functions, operators, types and
-- tables in a schema the caller puts first (or in pg_temp) are never used.
BEGIN;
\ir support/helpers.psql
SELECT plan(24);

CREATE SCHEMA tap_hostile;
GRANT USAGE ON SCHEMA tap_hostile TO PUBLIC;
-- Each of these would visibly change the API's behaviour if it were resolved.
CREATE FUNCTION tap_hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '2001-01-01 00:00:00+00' $$;
CREATE FUNCTION tap_hostile.btrim(text) RETURNS text LANGUAGE sql AS $$ SELECT 'not blank' $$;
CREATE FUNCTION tap_hostile.length(text) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION tap_hostile.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'object' $$;
CREATE FUNCTION tap_hostile.random() RETURNS double precision LANGUAGE sql AS $$ SELECT 0.5::float8 $$;
CREATE FUNCTION tap_hostile.quote_ident(text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION tap_hostile.always(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR tap_hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_hostile.always);
CREATE FUNCTION tap_hostile.swallow(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"hijacked": true}'::pg_catalog.jsonb $$;
CREATE OPERATOR tap_hostile.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = tap_hostile.swallow);
CREATE DOMAIN tap_hostile.jsonb AS text CHECK (false);
CREATE TABLE tap_hostile.sessions (LIKE llm.sessions);
CREATE TABLE tap_hostile.turns (LIKE llm.turns);
GRANT ALL ON tap_hostile.sessions, tap_hostile.turns TO PUBLIC;
CREATE TEMP TABLE sessions (LIKE llm.sessions);
CREATE TEMP TABLE turns (LIKE llm.turns);
GRANT ALL ON pg_temp.sessions, pg_temp.turns TO PUBLIC;

-- What the calls return, recorded without calling any function resolved through the hostile path.
CREATE TEMP TABLE hostile_out (step text PRIMARY KEY, result jsonb, err text[]);
GRANT ALL ON hostile_out TO PUBLIC;
CREATE FUNCTION pg_temp.raw_error(sql text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE v_state text; v_message text;
BEGIN
  EXECUTE sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
  RETURN ARRAY[v_state, v_message];
END;
$$;

SET LOCAL ROLE llm_app;
SET LOCAL search_path = tap_hostile, pg_temp, pg_catalog;
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('create', llm.create_session('tap hostile', NULL, 'tap_hs'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('create other', llm.create_session('tap hostile', NULL, 'tap_hs_other'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('generated 1', llm.create_session('tap hostile'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('generated 2', llm.create_session('tap hostile'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('generated 3', llm.create_session('tap hostile'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('append', llm.append_turn('tap_hs', 'q', 'r', 7));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('get', llm.get_session('tap_hs'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('get unknown', llm.get_session('tap_hs_unknown'));
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('list', llm.list_sessions('tap hostile', 10));
INSERT INTO pg_temp.hostile_out (step, err) VALUES ('blank role', pg_temp.raw_error($$SELECT llm.create_session('   ', NULL, 'tap_hs_x')$$));
INSERT INTO pg_temp.hostile_out (step, err) VALUES ('long id', pg_temp.raw_error($$SELECT llm.get_session(repeat('x', 201))$$));
INSERT INTO pg_temp.hostile_out (step, err) VALUES ('array metadata', pg_temp.raw_error($$SELECT llm.create_session('tap', NULL, 'tap_hs_x', '[1]')$$));
INSERT INTO pg_temp.hostile_out (step, err) VALUES ('unknown append', pg_temp.raw_error($$SELECT llm.append_turn('tap_hs_unknown', 'q', 'r')$$));
SET LOCAL search_path = tap, public;
RESET ROLE;

CREATE FUNCTION pg_temp.out(step text) RETURNS jsonb LANGUAGE sql AS $$ SELECT result FROM hostile_out o WHERE o.step = out.step $$;
CREATE FUNCTION pg_temp.err(step text) RETURNS text[] LANGUAGE sql AS $$ SELECT err FROM hostile_out o WHERE o.step = err.step $$;

SELECT is(pg_temp.out('create')->>'session_id', 'tap_hs', 'create_session works under the hostile search_path');
SELECT is(pg_temp.out('create')->'conversation_history', '[]'::jsonb, 'and builds its JSON with the real jsonb and ||');
SELECT ok((pg_temp.out('create')->>'created_at')::timestamptz = now(), 'the real now(), not the look-alike');
SELECT is((SELECT count(DISTINCT right(pg_temp.out(s)->>'session_id', 6)) FROM unnest(ARRAY['generated 1', 'generated 2', 'generated 3']) s),
  3::bigint, 'generated ids use the real random(): three different suffixes');
SELECT is(pg_temp.out('append')->'replayed', 'false'::jsonb, 'append_turn returns the real JSON (not swallowed by a look-alike ||)');
SELECT is(pg_temp.out('append')->'seq', '1'::jsonb, 'append_turn appended seq 1');
SELECT results_eq($$SELECT turn_count, total_tokens, last_query_at BETWEEN now() AND clock_timestamp() FROM llm.sessions WHERE session_id = 'tap_hs'$$,
  $$VALUES (1, 7::bigint, true)$$, 'the counters moved in llm.sessions, with the real now()');
SELECT is((SELECT count(*) FROM llm.turns WHERE session_id = 'tap_hs'), 1::bigint, 'the turn is in llm.turns');
SELECT is((SELECT turn_count FROM llm.sessions WHERE session_id = 'tap_hs_other'), 0,
  'the look-alike = matched no other session: tap_hs_other has no turn');
SELECT is(pg_temp.out('get')->'turn_count', '1'::jsonb, 'get_session reads the real session');
SELECT is(jsonb_array_length(pg_temp.out('get')->'conversation_history'), 1, 'with its one turn');
SELECT ok(NOT EXISTS (SELECT FROM hostile_out WHERE step = 'get unknown' AND result IS NOT NULL),
  'get_session of an unknown id is still NULL: the look-alike = was not used');
SELECT is(jsonb_array_length(pg_temp.out('list')->'sessions'), 5, 'list_sessions lists the five sessions of the role');
SELECT is(pg_temp.err('blank role'), ARRAY['22023', 'agent_role must not be blank'], 'a blank role is refused: the real btrim');
SELECT is(pg_temp.err('long id'), ARRAY['22023', 'session_id is 201 characters long; the limit is 200'], 'a long id is refused: the real length');
SELECT is(pg_temp.err('array metadata'), ARRAY['22023', 'metadata must be a JSON object, not array'],
  'array metadata is refused: the real jsonb_typeof');
SELECT is(pg_temp.err('unknown append'), ARRAY['P0002', 'session tap_hs_unknown does not exist'],
  'an unknown session is reported with the real quote_ident');
SELECT is((SELECT count(*) FROM tap_hostile.sessions), 0::bigint, 'nothing went to a look-alike sessions table in the caller''s schema');
SELECT is((SELECT count(*) FROM tap_hostile.turns), 0::bigint, 'nor to a look-alike turns table');
SELECT is((SELECT count(*) FROM pg_temp.sessions), 0::bigint, 'nor to a temporary sessions table');
SELECT is((SELECT count(*) FROM pg_temp.turns), 0::bigint, 'nor to a temporary turns table');
SELECT is((SELECT count(*) FROM llm.sessions WHERE agent_role = 'tap hostile'), 5::bigint, 'all five sessions are in llm.sessions');

-- The same through the maintenance functions, as llm_admin.
SET LOCAL ROLE llm_admin;
SET LOCAL search_path = tap_hostile, pg_temp, pg_catalog;
INSERT INTO pg_temp.hostile_out (step, result) VALUES ('stats', llm.stats());
INSERT INTO pg_temp.hostile_out (step, err) VALUES ('zero max_idle', pg_temp.raw_error($$SELECT llm.cleanup_stale(interval '0')$$));
SET LOCAL search_path = tap, public;
RESET ROLE;
SELECT is((SELECT e FROM jsonb_array_elements(pg_temp.out('stats')) e WHERE e->>'agent_role' = 'tap hostile'),
  '{"agent_role": "tap hostile", "sessions": 5, "turns": 1, "tokens": 7}'::jsonb, 'stats is unaffected');
SELECT is(pg_temp.err('zero max_idle'), ARRAY['22023', 'max_idle must be a positive interval, not 00:00:00'], 'cleanup_stale checks are unaffected');

SELECT * FROM finish();
ROLLBACK;
