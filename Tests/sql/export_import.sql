-- llm.export_session / llm.import_session: one versioned document per session, restored
-- exactly; a document that disagrees with itself is refused whole.
BEGIN;
\ir support/helpers.psql
\ir support/archive_helpers.psql
SELECT plan(96);

SELECT lives_ok($$SELECT llm.create_session('tap export', 'You are a test.', 'tap_ex', '{"team": "qa"}')$$, 'a session');
SELECT lives_ok($$SELECT llm.append_turn('tap_ex', 'question ' || j, 'response ' || j, 7 * j, jsonb_build_object('j', j), NULL,
                                         CASE WHEN j <> 2 THEN 'rid_' || j END)
                  FROM generate_series(1, 3) j ORDER BY j$$, 'three turns, two with request_ids');
SELECT lives_ok($$SELECT llm.pin_session('tap_ex')$$, 'pinned');
SELECT lives_ok($$SELECT llm.fork_session('tap_ex', 2, 'tap_ex_fork')$$, 'and forked at seq 2');

CREATE TEMP TABLE docs (name text PRIMARY KEY, doc jsonb);
GRANT SELECT ON docs TO PUBLIC;
INSERT INTO docs SELECT 'ex', llm.export_session('tap_ex');
INSERT INTO docs SELECT 'fork', llm.export_session('tap_ex_fork');
CREATE TEMP TABLE rows_before AS
  SELECT s.session_id, s::text AS session_row,
         (SELECT string_agg(t::text, E'\n' ORDER BY t.seq) FROM llm.turns t WHERE t.session_id = s.session_id) AS turn_rows
  FROM llm.sessions s WHERE s.session_id IN ('tap_ex', 'tap_ex_fork');

-- The document.
SELECT is(pg_temp.keys_of(doc), ARRAY['exported_at', 'format', 'session', 'turns', 'version'], 'a document has format, version, exported_at, session, turns')
FROM docs WHERE name = 'ex';
SELECT is(doc->>'format', 'llm-sessions/session', 'it says what it is') FROM docs WHERE name = 'ex';
SELECT is(doc->'version', '1'::jsonb, 'and its version, 1') FROM docs WHERE name = 'ex';
SELECT is((doc->>'exported_at')::timestamptz, now(), 'and when it was exported') FROM docs WHERE name = 'ex';
SELECT is(pg_temp.keys_of(doc->'session'),
  ARRAY['agent_role', 'archived_at', 'created_at', 'last_query_at', 'metadata', 'parent_seq', 'parent_session_id', 'pinned',
        'session_id', 'startup_context', 'total_tokens', 'turn_count'], 'the session has every column') FROM docs WHERE name = 'ex';
SELECT is(pg_temp.keys_of(doc->'turns'->0), ARRAY['created_at', 'metadata', 'question', 'request_id', 'response', 'seq', 'tokens'],
  'a turn has every column') FROM docs WHERE name = 'ex';
SELECT is((SELECT array_agg((e->>'seq')::integer) FROM jsonb_array_elements(doc->'turns') e), ARRAY[1, 2, 3], 'the turns, oldest first')
FROM docs WHERE name = 'ex';
SELECT is(doc->'session'->'archived_at', 'null'::jsonb, 'a live session has archived_at null') FROM docs WHERE name = 'ex';
SELECT is(doc->'session'->>'pinned', 'true', 'pinned is kept') FROM docs WHERE name = 'ex';
SELECT is(doc->'session'->>'parent_session_id', 'tap_ex', 'a fork''s document names its parent') FROM docs WHERE name = 'fork';
SELECT is(llm.export_session('tap_ex_none'), NULL, 'an unknown session exports as NULL');
SELECT throws_ok($$SELECT llm.export_session('  ')$$, '22023', 'session_id must not be blank', 'a blank session_id');

-- Round trip: end the sessions, import the documents, get the same rows.
SELECT ok(llm.end_session('tap_ex') AND llm.end_session('tap_ex_fork'), 'both sessions ended');
SELECT is(llm.import_session(doc), jsonb_build_object('session_id', 'tap_ex', 'status', 'imported', 'turns', 3),
  'import_session returns the id, "imported" and the number of turns') FROM docs WHERE name = 'ex';
SELECT is(llm.import_session(doc)->>'status', 'imported', 'the fork imports too') FROM docs WHERE name = 'fork';
SELECT is((SELECT s::text FROM llm.sessions s WHERE s.session_id = b.session_id), b.session_row,
  b.session_id || ': the session row is exactly as exported') FROM rows_before b ORDER BY b.session_id;
SELECT is((SELECT string_agg(t::text, E'\n' ORDER BY t.seq) FROM llm.turns t WHERE t.session_id = b.session_id), b.turn_rows,
  b.session_id || ': every turn is exactly as exported') FROM rows_before b ORDER BY b.session_id;
SELECT is((llm.append_turn('tap_ex', 'retry', 'retry', 0, '{}', NULL, 'rid_3'))->>'replayed', 'true',
  'request_ids came back: a retry replays');
SELECT * FROM pg_temp.invariants_hold();

-- An id that is taken: on_conflict decides.
SELECT pg_temp.throws_cleanly_all(format('SELECT llm.import_session(%L)', doc), '23505', 'session tap_ex already exists',
  'on_conflict error (the default): 23505') FROM docs WHERE name = 'ex';
SELECT pg_temp.throws_cleanly_all(format('SELECT llm.import_session(%L, %L)', doc, 'merge'), '22023',
  'on_conflict must be ''error'', ''skip'' or ''replace'', not ''merge''', 'an unknown on_conflict') FROM docs WHERE name = 'ex';
SELECT pg_temp.fingerprint_all() AS before_skip \gset
SELECT is(llm.import_session(doc, 'skip'), jsonb_build_object('session_id', 'tap_ex', 'status', 'skipped', 'turns', 0),
  'on_conflict skip: "skipped", no turns written') FROM docs WHERE name = 'ex';
SELECT is(pg_temp.fingerprint_all(), :'before_skip', 'and nothing changed');
-- The document with its last turn removed and the counters to match replaces the session.
INSERT INTO docs SELECT 'shorter', jsonb_set(jsonb_set(jsonb_set(doc, '{turns}', (doc->'turns') - 2),
  '{session,turn_count}', '2'), '{session,total_tokens}', '21') FROM docs WHERE name = 'ex';
SELECT is(llm.import_session(doc, 'replace'), jsonb_build_object('session_id', 'tap_ex', 'status', 'replaced', 'turns', 2),
  'on_conflict replace: "replaced"') FROM docs WHERE name = 'shorter';
SELECT is((SELECT (turn_count, total_tokens)::text FROM llm.sessions WHERE session_id = 'tap_ex'), '(2,21)', 'the session has the document''s counters');
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM llm.turns WHERE session_id = 'tap_ex'), ARRAY[1, 2], 'and only its turns');
SELECT * FROM pg_temp.invariants_hold();

-- Refused documents: 22023 with a message naming the problem, nothing written.
SELECT lives_ok($$SELECT llm.end_session('tap_ex')$$, 'the session is ended again, so that only the document decides');
SELECT pg_temp.throws_cleanly_all(format('SELECT llm.import_session(%L)', d.doc), '22023', d.message, d.description)
FROM docs x, LATERAL (VALUES
  ('"just a string"'::jsonb, 'invalid session document: it must be a JSON object, not string', 'a document that is not an object'),
  (x.doc - 'format', 'invalid session document: format is missing, not "llm-sessions/session"', 'no format'),
  (jsonb_set(x.doc, '{format}', '"other/thing"'), 'invalid session document: format is "other/thing", not "llm-sessions/session"', 'another format'),
  (jsonb_set(x.doc, '{version}', '2'), 'unsupported session document version 2: this database reads version 1', 'version 2'),
  (x.doc - 'session', 'invalid session document: doc.session is missing', 'no session'),
  (jsonb_set(x.doc, '{turns}', '{}'), 'invalid session document: doc.turns must be an array, not object', 'turns not an array'),
  (jsonb_set(x.doc, '{session,turn_count}', '4'), 'invalid session document: session.turn_count is 4 but there are 3 turns', 'turn_count disagrees with the turns'),
  (jsonb_set(x.doc, '{session,total_tokens}', '43'), 'invalid session document: session.total_tokens is 43 but the turns add up to 42', 'total_tokens disagrees with the turns'),
  (jsonb_set(x.doc, '{turns,1,seq}', '3'), 'invalid session document: turns[1].seq is 3, expected 2', 'a gap in the seqs'),
  (jsonb_set(x.doc, '{turns,0,seq}', '0'), 'invalid session document: turns[0].seq must be a whole number between 1 and 2147483647, not 0', 'seq 0'),
  (jsonb_set(x.doc, '{turns,1,request_id}', '"rid_1"'), 'invalid session document: a request_id appears on more than one turn', 'a duplicate request_id'),
  (jsonb_set(x.doc, '{turns,2,tokens}', '-1'), 'invalid session document: turns[2].tokens must be a whole number between 0 and 2147483647, not -1', 'negative tokens'),
  (jsonb_set(x.doc, '{turns,2,tokens}', '2.5'), 'invalid session document: turns[2].tokens must be a whole number between 0 and 2147483647, not 2.5', 'fractional tokens'),
  (x.doc #- '{turns,0,question}', 'invalid session document: turns[0].question is missing', 'a turn without question'),
  (jsonb_set(x.doc, '{turns,0,response}', '42'), 'invalid session document: turns[0].response must be a string, not number', 'a response that is a number'),
  (jsonb_set(x.doc, '{turns,0,created_at}', '"yesterday-ish"'), 'invalid session document: turns[0].created_at must be a timestamp, not ''yesterday-ish''', 'a bad timestamp'),
  (jsonb_set(x.doc, '{session,session_id}', '""'), 'session.session_id must not be blank', 'a blank session_id'),
  (jsonb_set(x.doc, '{session,metadata}', '[]'), 'invalid session document: session.metadata must be an object, not array', 'metadata not an object'),
  (jsonb_set(x.doc, '{session,parent_seq}', '1'), 'invalid session document: session.parent_session_id and session.parent_seq go together', 'a parent_seq without parent')
) AS d(doc, message, description)
WHERE x.name = 'ex';
SELECT is(llm.get_session('tap_ex'), NULL, 'none of them imported anything');

-- Archived sessions export too, and their id is taken for import.
SELECT is(llm.import_session(doc)->>'status', 'imported', 'imported once more') FROM docs WHERE name = 'ex';
SELECT lives_ok($$SELECT llm.pin_session('tap_ex', false)$$, 'unpinned');
UPDATE llm.sessions SET last_query_at = now() - interval '20 years' WHERE session_id = 'tap_ex';
SELECT is(llm.cleanup_stale(interval '10 years', 1000, 'archive'), 1, 'and archived');
SELECT isnt(llm.export_session('tap_ex')->'session'->>'archived_at', NULL, 'an archived session exports, with archived_at');
SELECT is(jsonb_array_length(llm.export_session('tap_ex')->'turns'), 3, 'with its turns');
SELECT pg_temp.throws_cleanly_all(format('SELECT llm.import_session(%L)', doc), '23505', 'session tap_ex already exists in the archive',
  'importing over an archived id: 23505') FROM docs WHERE name = 'ex';
SELECT is(llm.import_session(doc, 'replace')->>'status', 'replaced', 'replace takes it out of the archive') FROM docs WHERE name = 'shorter';
SELECT is((SELECT count(*) FROM llm.archived_sessions WHERE session_id = 'tap_ex'), 0::bigint, 'it is no longer archived');
SELECT * FROM pg_temp.invariants_hold();

-- Who may.
SET LOCAL ROLE llm_app;
SELECT isnt(llm.export_session('tap_ex'), NULL, 'llm_app exports');
SELECT throws_ok(format('SELECT llm.import_session(%L)', doc), '42501', 'permission denied for function import_session', 'llm_app cannot import')
FROM docs WHERE name = 'ex';
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
