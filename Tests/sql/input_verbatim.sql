-- Values are data, never SQL: strings that look like injections, quotes, dollar quotes,
-- backslashes, newlines and non-ASCII text are stored and returned exactly as given.
BEGIN;
\ir support/helpers.psql
SELECT plan(12);

CREATE TEMP TABLE nasty (label text, v text);
INSERT INTO nasty VALUES
  ('injection', $v$Robert'); DROP TABLE llm.sessions; --$v$),
  ('quote identifier', $v$x" OR "1"="1$v$),
  ('dollar quoting', $v$$$; SELECT pg_sleep(10); $$ $fn$ $v$),
  ('backslashes', $v$C:\new\table\0 \\ \'$v$),
  ('format codes', '%s %I %L %% :x :''x'' $1'),
  ('multi-line', E'line 1\nline 2\r\n\ttabbed'),
  ('unicode', 'Grüße, 東京, emoji 🦀, RTL ‏שלום');

SELECT lives_ok($$SELECT llm.create_session(v, v, 'tap_vb_' || row_number() OVER (ORDER BY label), jsonb_build_object('label', v)) FROM nasty$$,
  'sessions whose role, context and metadata are such strings');
SELECT is((SELECT count(*) FROM llm.sessions s JOIN nasty n ON s.agent_role = n.v AND s.startup_context = n.v AND s.metadata->>'label' = n.v
           WHERE s.session_id LIKE 'tap_vb_%'), 7::bigint, 'all seven are stored verbatim');
SELECT lives_ok($$SELECT llm.create_session('tap verbatim', NULL, v) FROM nasty$$, 'the same strings as session ids');
SELECT is((SELECT count(*) FROM nasty n WHERE llm.get_session(n.v)->>'session_id' = n.v), 7::bigint, 'each id finds its session');
SELECT lives_ok($$SELECT llm.append_turn(v, v, v, 1, jsonb_build_object(v, v), NULL, v) FROM nasty$$,
  'turns whose question, response, metadata and request_id are such strings');
SELECT is((SELECT count(*) FROM nasty n, llm.turns t
           WHERE t.session_id = n.v AND t.question = n.v AND t.response = n.v AND t.request_id = n.v AND t.metadata = jsonb_build_object(n.v, n.v)),
  7::bigint, 'all seven turns are stored verbatim');
SELECT is((SELECT count(*) FROM nasty n WHERE llm.get_session(n.v)->'conversation_history'->0->>'question' = n.v), 7::bigint,
  'get_session returns them verbatim');
SELECT is((SELECT count(*) FROM nasty n WHERE (llm.append_turn(n.v, 'again', 'again', 1, '{}', NULL, n.v)->>'replayed')::boolean), 7::bigint,
  'each one is recognised as a repeated request_id');
SELECT is((SELECT count(*) FROM nasty n
           WHERE llm.list_sessions('tap verbatim', 1000)->'sessions' @> jsonb_build_array(jsonb_build_object('session_id', n.v))), 7::bigint,
  'list_sessions returns the ids verbatim');
SELECT is(pg_temp.error_of($$SELECT llm.append_turn('tap_vb_none'' OR ''1''=''1', 'q', 'r')$$)->>'message',
  'session "tap_vb_none'' OR ''1''=''1" does not exist', 'an unknown id that looks like an injection is just unknown');
SELECT isnt(to_regclass('llm.sessions'), NULL, 'llm.sessions is still there');
SELECT is(llm.end_session($v$Robert'); DROP TABLE llm.sessions; --$v$), true, 'and such a session ends like any other');

SELECT * FROM finish();
ROLLBACK;
