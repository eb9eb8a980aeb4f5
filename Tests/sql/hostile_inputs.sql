-- Hostile input, table-driven: every API function, called with NULL and blank ids,
-- over-long and 20 MB texts, NUL bytes and invalid UTF-8, negative and overflowing
-- numbers, non-object metadata, absurd intervals and row counts, malformed export
-- documents and SQL-injection strings, answers with its documented SQLSTATE and
-- message (or, for a harmless read, its documented result) and CHANGES NOTHING: a
-- checksum of every row of every table of schema llm (live and archive, the migration
-- bookkeeping too) and of pg_cron's job table is the same before and after each call.
--
-- The transaction is REPEATABLE READ, so the checksums see one snapshot plus our own
-- changes: other clients writing to the same database meanwhile cannot disturb them.
-- A call that raises is undone by PostgreSQL whatever the function did; the checksum
-- is there for the calls that do not raise: a read fed an injection string, an
-- argument the API should refuse but accepts, a function that would swallow an error.
--
-- Rows marked todo describe what the API should do and does not yet (see the todo
-- text); they run, and their failures are reported as TODO rather than failing the suite.
BEGIN ISOLATION LEVEL REPEATABLE READ;
\ir support/helpers.psql
SELECT plan(353);

-- Checksum of every row of every table of schema llm, and of cron.job when pg_cron is installed.
CREATE FUNCTION pg_temp.checksum_all() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_table regclass;
  v_sum   text;
  v_all   text := '';
BEGIN
  FOR v_table IN
    SELECT c.oid::regclass FROM pg_class c
    WHERE c.relnamespace = 'llm'::regnamespace AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT to_regclass('cron.job') WHERE to_regclass('cron.job') IS NOT NULL
    ORDER BY 1
  LOOP
    EXECUTE format('SELECT count(*) || '':'' || COALESCE(md5(string_agg(md5(t::text), '''' ORDER BY md5(t::text))), '''') FROM %s t',
                   v_table)
    INTO v_sum;
    v_all := v_all || v_table::text || '=' || v_sum || E'\n';
  END LOOP;
  RETURN v_all;
END;
$$;

-- What running sql gives: {"sqlstate", "message"} when it raises, else {"result": its single value as text}.
CREATE FUNCTION pg_temp.outcome(sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_result text;
  v_state text; v_message text;
BEGIN
  EXECUTE sql INTO v_result;
  RETURN jsonb_build_object('result', v_result);
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
  RETURN jsonb_build_object('sqlstate', v_state, 'message', v_message);
END;
$$;

-- The fixtures: a live session with two turns (5 + 7 tokens, the first with request_id
-- rq-1) and an archived session with one turn, put in place directly.
SELECT lives_ok($$SELECT llm.create_session('tap hx', 'ctx', 'tap_hx'),
                         llm.append_turn('tap_hx', 'q1', 'r1', 5, '{}', NULL, 'rq-1'),
                         llm.append_turn('tap_hx', 'q2', 'r2', 7)$$, 'a live session with two turns');
INSERT INTO llm.archived_sessions (session_id, agent_role, startup_context, metadata, turn_count, total_tokens, created_at, last_query_at)
VALUES ('tap_hx_arch', 'tap hx', NULL, '{}', 1, 3, now() - interval '40 years', now() - interval '40 years');
INSERT INTO llm.archived_turns (session_id, seq, question, response, tokens, metadata, created_at)
VALUES ('tap_hx_arch', 1, 'aq', 'ar', 3, '{}', now() - interval '40 years');
-- A valid export document of tap_hx under a new id, for the malformed variants.
CREATE TEMP TABLE hx AS
SELECT jsonb_set(llm.export_session('tap_hx'), '{session,session_id}', '"tap_hx_doc"') AS doc,
       $i$x'); DROP TABLE llm.sessions; --$i$ AS inj;
GRANT SELECT ON hx TO PUBLIC;

-- The checksum is not blind: flipping one boolean of one row changes it.
SELECT pg_temp.checksum_all() AS before_pin \gset
SELECT llm.pin_session('tap_hx') \g /dev/null
SELECT isnt(pg_temp.checksum_all(), :'before_pin', 'the checksum sees a single changed column (pin_session)');
SELECT llm.pin_session('tap_hx', false) \g /dev/null
SELECT is(pg_temp.checksum_all(), :'before_pin', 'and is back when the change is undone');

CREATE TEMP TABLE bad_input (
  n          serial PRIMARY KEY,
  fn         text NOT NULL,         -- the API function under test
  label      text NOT NULL,         -- the input, for people
  sql        text NOT NULL,
  sqlstate   text,                  -- NULL: the call succeeds ...
  message    text,                  -- ... with this result (as text; NULL for SQL NULL)
  as_role    text,                  -- run as this role (default: the superuser running the suite)
  todo       text,                  -- why the row is expected to fail for now
  todo_tests integer DEFAULT 1      -- 2 when the call also changes something today
);
GRANT SELECT ON bad_input TO PUBLIC;

INSERT INTO bad_input (fn, label, sql, sqlstate, message, as_role, todo, todo_tests) VALUES
-- create_session
('create_session', 'agent_role NULL', $$SELECT llm.create_session(NULL)$$, '22023', 'agent_role must not be NULL', NULL, NULL, 1),
('create_session', 'agent_role empty', $$SELECT llm.create_session('')$$, '22023', 'agent_role must not be blank', NULL, NULL, 1),
('create_session', 'agent_role tab/newline only', $$SELECT llm.create_session(E' \t\n')$$, '22023', 'agent_role must not be blank', NULL, NULL, 1),
('create_session', 'agent_role of 101 characters', $$SELECT llm.create_session(repeat('r', 101))$$, '22023', 'agent_role is 101 characters long; the limit is 100', NULL, NULL, 1),
('create_session', 'session_id empty', $$SELECT llm.create_session('tap hx', NULL, '')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('create_session', 'session_id of 201 characters', $$SELECT llm.create_session('tap hx', NULL, repeat('i', 201))$$, '22023', 'session_id is 201 characters long; the limit is 200', NULL, NULL, 1),
('create_session', 'session_id only U+00A0 (no-break space)', $$SELECT llm.create_session('tap hx', NULL, U&'\00A0')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('create_session', 'startup_context of 20 MiB', $$SELECT llm.create_session('tap hx', repeat('x', 20 * 1024 * 1024))$$, '22023', 'startup_context is 20971520 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('create_session', 'startup_context of 16 MiB + 1 byte', $$SELECT llm.create_session('tap hx', repeat('x', 16 * 1024 * 1024 + 1))$$, '22023', 'startup_context is 16777217 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('create_session', 'startup_context of 8388609 × "é" (16 MiB + 2 bytes, in bytes not characters)', $$SELECT llm.create_session('tap hx', repeat('é', 8388609))$$, '22023', 'startup_context is 16777218 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('create_session', 'metadata a JSON array', $$SELECT llm.create_session('tap hx', NULL, NULL, '[]')$$, '22023', 'metadata must be a JSON object, not array', NULL, NULL, 1),
('create_session', 'metadata JSON null', $$SELECT llm.create_session('tap hx', NULL, NULL, 'null')$$, '22023', 'metadata must be a JSON object, not null', NULL, NULL, 1),
('create_session', 'metadata SQL NULL', $$SELECT llm.create_session('tap hx', NULL, NULL, NULL)$$, '22023', 'metadata must be a JSON object, not NULL', NULL, NULL, 1),
('create_session', 'metadata a JSON string', $$SELECT llm.create_session('tap hx', NULL, NULL, '"{}"')$$, '22023', 'metadata must be a JSON object, not string', NULL, NULL, 1),
('create_session', 'metadata of 2 MiB', $$SELECT llm.create_session('tap hx', NULL, NULL, jsonb_build_object('k', repeat('x', 2 * 1024 * 1024)))$$, '22023', 'metadata is 2097161 bytes; the limit is 1 MiB', NULL, NULL, 1),
('create_session', 'metadata nested 100,000 deep', $$SELECT llm.create_session('tap hx', NULL, NULL, (repeat('{"a":', 100000) || '1' || repeat('}', 100000))::jsonb)$$, '54001', 'stack depth limit exceeded', NULL, NULL, 1),
('create_session', 'metadata not JSON', $$SELECT llm.create_session('tap hx', NULL, NULL, '{bad')$$, '22P02', 'invalid input syntax for type json', NULL, NULL, 1),
('create_session', 'NUL in agent_role: chr(0)', $$SELECT llm.create_session('tap' || chr(0))$$, '54000', 'null character not permitted', NULL, NULL, 1),
('create_session', 'NUL in agent_role: E''\x00''', $$SELECT llm.create_session(E'tap\x00')$$, '22021', 'invalid byte sequence for encoding "UTF8": 0x00', NULL, NULL, 1),
('create_session', 'NUL in startup_context: bytes 0x00 converted', $$SELECT llm.create_session('tap hx', convert_from('\x610062'::bytea, 'UTF8'))$$, '22021', 'invalid byte sequence for encoding "UTF8": 0x00', NULL, NULL, 1),
('create_session', 'NUL in metadata: "\u0000"', $$SELECT llm.create_session('tap hx', NULL, NULL, '{"k": "a\u0000b"}')$$, '22P05', 'unsupported Unicode escape sequence', NULL, NULL, 1),
('create_session', 'invalid UTF-8 (0xc3 0x28) in agent_role', $$SELECT llm.create_session(convert_from('\xc328'::bytea, 'UTF8'))$$, '22021', 'invalid byte sequence for encoding "UTF8": 0xc3 0x28', NULL, NULL, 1),
('create_session', 'injection in agent_role and context, id taken', $$SELECT llm.create_session(inj, inj, 'tap_hx', jsonb_build_object(inj, inj)) FROM hx$$, '23505', 'session tap_hx already exists', NULL, NULL, 1),
('create_session', 'session_id of an archived session', $$SELECT llm.create_session('tap hx', NULL, 'tap_hx_arch')$$, '23505', 'session tap_hx_arch already exists in the archive', NULL, NULL, 1),
-- append_turn
('append_turn', 'session_id NULL', $$SELECT llm.append_turn(NULL, 'q', 'r')$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('append_turn', 'session_id empty', $$SELECT llm.append_turn('', 'q', 'r')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('append_turn', 'question NULL', $$SELECT llm.append_turn('tap_hx', NULL, 'r')$$, '22023', 'question must not be NULL', NULL, NULL, 1),
('append_turn', 'response NULL', $$SELECT llm.append_turn('tap_hx', 'q', NULL)$$, '22023', 'response must not be NULL', NULL, NULL, 1),
('append_turn', 'question of 20 MiB', $$SELECT llm.append_turn('tap_hx', repeat('q', 20 * 1024 * 1024), 'r')$$, '22023', 'question is 20971520 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('append_turn', 'response of 20 MiB', $$SELECT llm.append_turn('tap_hx', 'q', repeat('r', 20 * 1024 * 1024))$$, '22023', 'response is 20971520 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('append_turn', 'tokens -1', $$SELECT llm.append_turn('tap_hx', 'q', 'r', -1)$$, '22023', 'tokens must be between 0 and 2147483647, not -1', NULL, NULL, 1),
('append_turn', 'tokens -2147483648', $$SELECT llm.append_turn('tap_hx', 'q', 'r', -2147483648)$$, '22023', 'tokens must be between 0 and 2147483647, not -2147483648', NULL, NULL, 1),
('append_turn', 'tokens 2147483648 (overflows integer)', $$SELECT llm.append_turn('tap_hx', 'q', 'r', '2147483648'::integer)$$, '22003', 'value "2147483648" is out of range for type integer', NULL, NULL, 1),
('append_turn', 'tokens NULL', $$SELECT llm.append_turn('tap_hx', 'q', 'r', NULL)$$, '22023', 'tokens must not be NULL', NULL, NULL, 1),
('append_turn', 'metadata [1]', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '[1]')$$, '22023', 'metadata must be a JSON object, not array', NULL, NULL, 1),
('append_turn', 'metadata a JSON number', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '42')$$, '22023', 'metadata must be a JSON object, not number', NULL, NULL, 1),
('append_turn', 'expected_turn_count -1', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '{}', -1)$$, '22023', 'expected_turn_count must be between 0 and 2147483647, not -1', NULL, NULL, 1),
('append_turn', 'expected_turn_count stale', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '{}', 1)$$, '40001', 'turn count conflict on session tap_hx: expected 1, actual 2', NULL, NULL, 1),
('append_turn', 'request_id empty', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '{}', NULL, '')$$, '22023', 'request_id must not be blank', NULL, NULL, 1),
('append_turn', 'request_id of 201 characters', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '{}', NULL, repeat('q', 201))$$, '22023', 'request_id is 201 characters long; the limit is 200', NULL, NULL, 1),
('append_turn', 'NUL in question: chr(0)', $$SELECT llm.append_turn('tap_hx', 'a' || chr(0) || 'b', 'r')$$, '54000', 'null character not permitted', NULL, NULL, 1),
('append_turn', 'NUL in metadata: "\u0000"', $$SELECT llm.append_turn('tap_hx', 'q', 'r', 1, '{"\u0000": 1}')$$, '22P05', 'unsupported Unicode escape sequence', NULL, NULL, 1),
('append_turn', 'injection as session_id', $$SELECT llm.append_turn(inj, 'q', 'r') FROM hx$$, 'P0002', $m$session "x'); DROP TABLE llm.sessions; --" does not exist$m$, NULL, NULL, 1),
('append_turn', 'injection in question, response, request_id; stale count', $$SELECT llm.append_turn('tap_hx', inj, inj, 1, jsonb_build_object(inj, inj), 0, inj) FROM hx$$, '40001', 'turn count conflict on session tap_hx: expected 0, actual 2', NULL, NULL, 1),
('append_turn', 'an archived session', $$SELECT llm.append_turn('tap_hx_arch', 'q', 'r')$$, 'P0002', 'session tap_hx_arch does not exist', NULL, NULL, 1),
-- get_session
('get_session', 'session_id NULL', $$SELECT llm.get_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('get_session', 'session_id spaces', $$SELECT llm.get_session('   ')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('get_session', 'last_n -1', $$SELECT llm.get_session('tap_hx', -1)$$, '22023', 'last_n must be between 0 and 2147483647, not -1', NULL, NULL, 1),
('get_session', 'last_n 2147483648', $$SELECT llm.get_session('tap_hx', '2147483648'::integer)$$, '22003', 'value "2147483648" is out of range for type integer', NULL, NULL, 1),
('get_session', 'injection as session_id', $$SELECT llm.get_session($i$x' OR '1'='1$i$)$$, NULL, NULL, NULL, NULL, 1),
-- end_session
('end_session', 'session_id NULL', $$SELECT llm.end_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('end_session', 'session_id empty', $$SELECT llm.end_session('')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('end_session', 'injection as session_id', $$SELECT llm.end_session($i$x'; DELETE FROM llm.sessions; --$i$)$$, NULL, 'false', NULL, NULL, 1),
('end_session', 'an archived session', $$SELECT llm.end_session('tap_hx_arch')$$, NULL, 'false', NULL, NULL, 1),
-- list_sessions
('list_sessions', 'max_rows 0', $$SELECT llm.list_sessions(NULL, 0)$$, '22023', 'max_rows must be between 1 and 1000, not 0', NULL, NULL, 1),
('list_sessions', 'max_rows -1', $$SELECT llm.list_sessions(NULL, -1)$$, '22023', 'max_rows must be between 1 and 1000, not -1', NULL, NULL, 1),
('list_sessions', 'max_rows 1001', $$SELECT llm.list_sessions(NULL, 1001)$$, '22023', 'max_rows must be between 1 and 1000, not 1001', NULL, NULL, 1),
('list_sessions', 'max_rows NULL', $$SELECT llm.list_sessions(NULL, NULL)$$, '22023', 'max_rows must not be NULL', NULL, NULL, 1),
('list_sessions', 'before_id without before', $$SELECT llm.list_sessions(NULL, 10, NULL, 'x')$$, '22023', 'before_id needs before', NULL, NULL, 1),
('list_sessions', 'agent_role empty', $$SELECT llm.list_sessions('')$$, '22023', 'agent_role must not be blank', NULL, NULL, 1),
('list_sessions', 'before not a timestamp', $$SELECT llm.list_sessions(NULL, 10, 'yesterday-ish')$$, '22007', 'invalid input syntax for type timestamp with time zone: "yesterday-ish"', NULL, NULL, 1),
('list_sessions', 'injection as agent_role', $$SELECT llm.list_sessions($i$' OR 1=1 --$i$)$$, NULL, '{"sessions": [], "next_page": null}', NULL, NULL, 1),
-- cleanup_stale
('cleanup_stale', 'max_idle ''-1 hour''', $$SELECT llm.cleanup_stale('-1 hour')$$, '22023', 'max_idle must be a positive interval, not -01:00:00', NULL, NULL, 1),
('cleanup_stale', 'max_idle 0', $$SELECT llm.cleanup_stale('0')$$, '22023', 'max_idle must be a positive interval, not 00:00:00', NULL, NULL, 1),
('cleanup_stale', 'max_idle NULL', $$SELECT llm.cleanup_stale(NULL)$$, '22023', 'max_idle must be a positive interval, not NULL', NULL, NULL, 1),
('cleanup_stale', 'max_idle ''1000000 years''', $$SELECT llm.cleanup_stale('1000000 years')$$, '22023', 'max_idle is too long: 1000000 years', NULL, NULL, 1),
('cleanup_stale', 'max_idle ''banana''', $$SELECT llm.cleanup_stale('banana')$$, '22007', 'invalid input syntax for type interval: "banana"', NULL, NULL, 1),
('cleanup_stale', 'batch_size 0', $$SELECT llm.cleanup_stale('1 hour', 0)$$, '22023', 'batch_size must be between 1 and 100000, not 0', NULL, NULL, 1),
('cleanup_stale', 'batch_size 100001', $$SELECT llm.cleanup_stale('1 hour', 100001)$$, '22023', 'batch_size must be between 1 and 100000, not 100001', NULL, NULL, 1),
('cleanup_stale', 'injection as policy', $$SELECT llm.cleanup_stale('1 hour', 10, $i$archive'; DROP TABLE llm.sessions; --$i$)$$, '22023', $m$policy must be 'archive' or 'delete', not 'archive''; DROP TABLE llm.sessions; --'$m$, NULL, NULL, 1),
('cleanup_stale', 'called by llm_app', $$SELECT llm.cleanup_stale()$$, '42501', 'permission denied for function cleanup_stale', 'llm_app', NULL, 1),
-- run_cleanup: a procedure that commits, so here (inside the suite's transaction) a call
-- with good arguments stops at its first COMMIT, and its first batch rolls back with the
-- transaction; bad arguments are refused before it, with what is wrong.
('run_cleanup', 'busy_share 0', $$CALL llm.run_cleanup('1 hour', 10, 'archive', 0)$$, '22023', 'busy_share must be between 0.01 and 1, not 0', NULL, NULL, 1),
('run_cleanup', 'busy_share -0.5', $$CALL llm.run_cleanup('1 hour', 10, 'archive', -0.5)$$, '22023', 'busy_share must be between 0.01 and 1, not -0.5', NULL, NULL, 1),
('run_cleanup', 'busy_share 0.001 (it would rest 999 times as long as it works)', $$CALL llm.run_cleanup('1 hour', 10, 'archive', 0.001)$$, '22023', 'busy_share must be between 0.01 and 1, not 0.001', NULL, NULL, 1),
('run_cleanup', 'max_idle 0', $$CALL llm.run_cleanup('0')$$, '22023', 'max_idle must be a positive interval, not 00:00:00', NULL, NULL, 1),
('run_cleanup', 'batch_size 0', $$CALL llm.run_cleanup('1 hour', 0)$$, '22023', 'batch_size must be between 1 and 100000, not 0', NULL, NULL, 1),
('run_cleanup', 'busy_share 1.5', $$CALL llm.run_cleanup('1 hour', 10, 'archive', 1.5)$$, '22023', 'busy_share must be between 0.01 and 1, not 1.5', NULL, NULL, 1),
('run_cleanup', 'busy_share NaN', $$CALL llm.run_cleanup(busy_share => 'NaN')$$, '22023', 'busy_share must be between 0.01 and 1, not NaN', NULL, NULL, 1),
('run_cleanup', 'busy_share Infinity', $$CALL llm.run_cleanup(busy_share => 'Infinity')$$, '22023', 'busy_share must be between 0.01 and 1, not Infinity', NULL, NULL, 1),
('run_cleanup', 'busy_share NULL', $$CALL llm.run_cleanup(busy_share => NULL)$$, '22023', 'busy_share must be between 0.01 and 1, not NULL', NULL, NULL, 1),
('run_cleanup', 'busy_share not a number', $$CALL llm.run_cleanup('1 hour', 10, 'archive', 'half')$$, '22P02', 'invalid input syntax for type double precision: "half"', NULL, NULL, 1),
('run_cleanup', 'injection as policy', $$CALL llm.run_cleanup('1 hour', 10, $i$archive'; DROP TABLE llm.sessions; --$i$)$$, '22023', $m$policy must be 'archive' or 'delete', not 'archive''; DROP TABLE llm.sessions; --'$m$, NULL, NULL, 1),
('run_cleanup', 'good arguments, inside a transaction block', $$CALL llm.run_cleanup('1 hour', 10, 'archive')$$, '2D000', 'invalid transaction termination', NULL, NULL, 1),
('run_cleanup', 'called by llm_app', $$CALL llm.run_cleanup()$$, '42501', 'permission denied for procedure run_cleanup', 'llm_app', NULL, 1),
-- schedule_cleanup
('schedule_cleanup', 'schedule NULL', $$SELECT llm.schedule_cleanup(NULL)$$, '22023', 'schedule must not be NULL', NULL, NULL, 1),
('schedule_cleanup', 'schedule of 101 characters', $$SELECT llm.schedule_cleanup(repeat('*', 101))$$, '22023', 'schedule is 101 characters long; the limit is 100', NULL, NULL, 1),
('schedule_cleanup', 'schedule not cron', $$SELECT llm.schedule_cleanup('every minute please')$$, '22023', 'invalid schedule: every minute please', NULL, NULL, 1),
('schedule_cleanup', 'max_idle ''-1 hour''', $$SELECT llm.schedule_cleanup('* * * * *', '-1 hour')$$, '22023', 'max_idle must be a positive interval, not -01:00:00', NULL, NULL, 1),
('schedule_cleanup', 'max_idle ''1000000 years''', $$SELECT llm.schedule_cleanup('* * * * *', '1000000 years')$$, '22023', 'max_idle is too long: 1000000 years', NULL, NULL, 1),
('schedule_cleanup', 'injection in max_idle', $$SELECT llm.schedule_cleanup('* * * * *', $i$1 hour'); DROP TABLE llm.sessions; --$i$)$$, '22007', $m$invalid input syntax for type interval: "1 hour'); DROP TABLE llm.sessions; --"$m$, NULL, NULL, 1),
('schedule_cleanup', 'injection as policy', $$SELECT llm.schedule_cleanup('* * * * *', '1 hour', $i$delete')$i$)$$, '22023', $m$policy must be 'archive' or 'delete', not 'delete'')'$m$, NULL, NULL, 1),
('schedule_cleanup', 'called by llm_app', $$SELECT llm.schedule_cleanup()$$, '42501', 'permission denied for function schedule_cleanup', 'llm_app', NULL, 1),
-- unschedule_cleanup: no arguments at all
('unschedule_cleanup', 'an argument it does not take', $$SELECT llm.unschedule_cleanup('x')$$, '42883', 'function llm.unschedule_cleanup(unknown) does not exist', NULL, NULL, 1),
('unschedule_cleanup', 'called by llm_app', $$SELECT llm.unschedule_cleanup()$$, '42501', 'permission denied for function unschedule_cleanup', 'llm_app', NULL, 1),
-- stats
('stats', 'an argument it does not take', $$SELECT llm.stats('tap hx')$$, '42883', 'function llm.stats(unknown) does not exist', NULL, NULL, 1),
('stats', 'called by llm_app', $$SELECT llm.stats()$$, '42501', 'permission denied for function stats', 'llm_app', NULL, 1),
-- get_context
('get_context', 'session_id NULL', $$SELECT llm.get_context(NULL, 10)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('get_context', 'max_tokens -1', $$SELECT llm.get_context('tap_hx', -1)$$, '22023', 'max_tokens must be between 0 and 2147483647, not -1', NULL, NULL, 1),
('get_context', 'max_tokens NULL', $$SELECT llm.get_context('tap_hx', NULL)$$, '22023', 'max_tokens must not be NULL', NULL, NULL, 1),
('get_context', 'system_prompt NULL', $$SELECT llm.get_context('tap_hx', 10, NULL)$$, '22023', 'system_prompt must not be NULL', NULL, NULL, 1),
('get_context', 'injection as session_id', $$SELECT llm.get_context(inj, 10) FROM hx$$, NULL, NULL, NULL, NULL, 1),
-- pop_turn
('pop_turn', 'session_id NULL', $$SELECT llm.pop_turn(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('pop_turn', 'session_id empty', $$SELECT llm.pop_turn('')$$, '22023', 'session_id must not be blank', NULL, NULL, 1),
('pop_turn', 'injection as session_id', $$SELECT llm.pop_turn(inj) FROM hx$$, 'P0002', $m$session "x'); DROP TABLE llm.sessions; --" does not exist$m$, NULL, NULL, 1),
('pop_turn', 'an archived session', $$SELECT llm.pop_turn('tap_hx_arch')$$, 'P0002', 'session tap_hx_arch does not exist', NULL, NULL, 1),
-- fork_session
('fork_session', 'session_id NULL', $$SELECT llm.fork_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('fork_session', 'at_seq -1', $$SELECT llm.fork_session('tap_hx', -1)$$, '22023', 'at_seq must be between 0 and 2147483647, not -1', NULL, NULL, 1),
('fork_session', 'at_seq beyond the history', $$SELECT llm.fork_session('tap_hx', 3)$$, '22023', 'at_seq 3 is beyond the 2 turns of session tap_hx', NULL, NULL, 1),
('fork_session', 'at_seq 2147483647', $$SELECT llm.fork_session('tap_hx', 2147483647)$$, '22023', 'at_seq 2147483647 is beyond the 2 turns of session tap_hx', NULL, NULL, 1),
('fork_session', 'new_session_id empty', $$SELECT llm.fork_session('tap_hx', 1, '')$$, '22023', 'new_session_id must not be blank', NULL, NULL, 1),
('fork_session', 'new_session_id its own parent''s', $$SELECT llm.fork_session('tap_hx', 1, 'tap_hx')$$, '23505', 'session tap_hx already exists', NULL, NULL, 1),
('fork_session', 'new_session_id archived', $$SELECT llm.fork_session('tap_hx', 1, 'tap_hx_arch')$$, '23505', 'session tap_hx_arch already exists in the archive', NULL, NULL, 1),
('fork_session', 'injection as parent', $$SELECT llm.fork_session(inj, NULL, inj) FROM hx$$, 'P0002', $m$session "x'); DROP TABLE llm.sessions; --" does not exist$m$, NULL, NULL, 1),
-- export_session
('export_session', 'session_id NULL', $$SELECT llm.export_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('export_session', 'session_id of 201 characters', $$SELECT llm.export_session(repeat('x', 201))$$, '22023', 'session_id is 201 characters long; the limit is 200', NULL, NULL, 1),
('export_session', 'injection as session_id', $$SELECT llm.export_session(inj) FROM hx$$, NULL, NULL, NULL, NULL, 1),
-- import_session: malformed documents
('import_session', 'doc NULL', $$SELECT llm.import_session(NULL)$$, '22023', 'invalid session document: it must be a JSON object, not NULL', NULL, NULL, 1),
('import_session', 'doc an array', $$SELECT llm.import_session('[]')$$, '22023', 'invalid session document: it must be a JSON object, not array', NULL, NULL, 1),
('import_session', 'doc not JSON', $$SELECT llm.import_session('{"format": ')$$, '22P02', 'invalid input syntax for type json', NULL, NULL, 1),
('import_session', 'format unknown', $$SELECT llm.import_session('{"format": "x", "version": 1}')$$, '22023', 'invalid session document: format is "x", not "llm-sessions/session"', NULL, NULL, 1),
('import_session', 'version 2', $$SELECT llm.import_session(jsonb_set(doc, '{version}', '2')) FROM hx$$, '22023', 'unsupported session document version 2: this database reads version 1', NULL, NULL, 1),
('import_session', 'version "1" (a string)', $$SELECT llm.import_session(jsonb_set(doc, '{version}', '"1"')) FROM hx$$, '22023', 'unsupported session document version "1": this database reads version 1', NULL, NULL, 1),
('import_session', 'no session', $$SELECT llm.import_session(doc - 'session') FROM hx$$, '22023', 'invalid session document: doc.session is missing', NULL, NULL, 1),
('import_session', 'turns an object', $$SELECT llm.import_session(jsonb_set(doc, '{turns}', '{}')) FROM hx$$, '22023', 'invalid session document: doc.turns must be an array, not object', NULL, NULL, 1),
('import_session', 'on_conflict ''merge''', $$SELECT llm.import_session(doc, 'merge') FROM hx$$, '22023', $m$on_conflict must be 'error', 'skip' or 'replace', not 'merge'$m$, NULL, NULL, 1),
('import_session', 'turn_count disagrees', $$SELECT llm.import_session(jsonb_set(doc, '{session,turn_count}', '5')) FROM hx$$, '22023', 'invalid session document: session.turn_count is 5 but there are 2 turns', NULL, NULL, 1),
('import_session', 'total_tokens disagrees', $$SELECT llm.import_session(jsonb_set(doc, '{session,total_tokens}', '13')) FROM hx$$, '22023', 'invalid session document: session.total_tokens is 13 but the turns add up to 12', NULL, NULL, 1),
('import_session', 'seq with a gap', $$SELECT llm.import_session(jsonb_set(doc, '{turns,1,seq}', '3')) FROM hx$$, '22023', 'invalid session document: turns[1].seq is 3, expected 2', NULL, NULL, 1),
('import_session', 'tokens -5', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0,tokens}', '-5')) FROM hx$$, '22023', 'invalid session document: turns[0].tokens must be a whole number between 0 and 2147483647, not -5', NULL, NULL, 1),
('import_session', 'tokens 1.5', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0,tokens}', '1.5')) FROM hx$$, '22023', 'invalid session document: turns[0].tokens must be a whole number between 0 and 2147483647, not 1.5', NULL, NULL, 1),
('import_session', 'tokens 2147483648', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0,tokens}', '2147483648')) FROM hx$$, '22023', 'invalid session document: turns[0].tokens must be a whole number between 0 and 2147483647, not 2147483648', NULL, NULL, 1),
('import_session', 'a turn that is a string', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0}', '"x"')) FROM hx$$, '22023', 'invalid session document: turns[0] must be an object, not string', NULL, NULL, 1),
('import_session', 'created_at not a timestamp', $$SELECT llm.import_session(jsonb_set(doc, '{session,created_at}', '"not a time"')) FROM hx$$, '22023', $m$invalid session document: session.created_at must be a timestamp, not 'not a time'$m$, NULL, NULL, 1),
('import_session', 'last_query_at "infinity"', $$SELECT llm.import_session(jsonb_set(doc, '{session,last_query_at}', '"infinity"')) FROM hx$$, '22023', $m$invalid session document: session.last_query_at must be a finite timestamp, not 'infinity'$m$, NULL, NULL, 1),
('import_session', 'question of 20 MiB', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0,question}', to_jsonb(repeat('q', 20 * 1024 * 1024)))) FROM hx$$, '22023', 'turns[0].question is 20971520 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('import_session', 'request_id on two turns', $$SELECT llm.import_session(jsonb_set(doc, '{turns,1,request_id}', '"rq-1"')) FROM hx$$, '22023', 'invalid session document: a request_id appears on more than one turn', NULL, NULL, 1),
('import_session', 'session_id blank', $$SELECT llm.import_session(jsonb_set(doc, '{session,session_id}', '" "')) FROM hx$$, '22023', 'session.session_id must not be blank', NULL, NULL, 1),
('import_session', 'parent_seq without parent', $$SELECT llm.import_session(jsonb_set(doc, '{session,parent_seq}', '1')) FROM hx$$, '22023', 'invalid session document: session.parent_session_id and session.parent_seq go together', NULL, NULL, 1),
('import_session', 'its own parent', $$SELECT llm.import_session(jsonb_set(jsonb_set(doc, '{session,parent_seq}', '1'), '{session,parent_session_id}', '"tap_hx_doc"')) FROM hx$$, '22023', 'invalid session document: the session is its own parent', NULL, NULL, 1),
('import_session', 'NUL in a question: "\u0000"', $$SELECT llm.import_session(jsonb_set(doc, '{turns,0,question}', '"a\u0000b"')) FROM hx$$, '22P05', 'unsupported Unicode escape sequence', NULL, NULL, 1),
('import_session', 'session_id of a live session (on_conflict error)', $$SELECT llm.import_session(jsonb_set(doc, '{session,session_id}', '"tap_hx"')) FROM hx$$, '23505', 'session tap_hx already exists', NULL, NULL, 1),
('import_session', 'called by llm_app', $$SELECT llm.import_session(doc) FROM hx$$, '42501', 'permission denied for function import_session', 'llm_app', NULL, 1),
-- restore_session
('restore_session', 'session_id NULL', $$SELECT llm.restore_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('restore_session', 'a live session', $$SELECT llm.restore_session('tap_hx')$$, '23505', 'session tap_hx is live already', NULL, NULL, 1),
('restore_session', 'injection as session_id', $$SELECT llm.restore_session(inj) FROM hx$$, 'P0002', $m$session "x'); DROP TABLE llm.sessions; --" is not in the archive$m$, NULL, NULL, 1),
('restore_session', 'called by llm_app', $$SELECT llm.restore_session('tap_hx_arch')$$, '42501', 'permission denied for function restore_session', 'llm_app', NULL, 1),
-- purge_archive
('purge_archive', 'older_than ''-1 day''', $$SELECT llm.purge_archive('-1 day')$$, '22023', 'older_than must be an interval of zero or more, not -1 days', NULL, NULL, 1),
('purge_archive', 'older_than NULL', $$SELECT llm.purge_archive(NULL)$$, '22023', 'older_than must be an interval of zero or more, not NULL', NULL, NULL, 1),
('purge_archive', 'older_than ''1000000 years''', $$SELECT llm.purge_archive('1000000 years')$$, '22023', 'older_than is too long: 1000000 years', NULL, NULL, 1),
('purge_archive', 'batch_size 0', $$SELECT llm.purge_archive('1 day', 0)$$, '22023', 'batch_size must be between 1 and 100000, not 0', NULL, NULL, 1),
('purge_archive', 'called by llm_app', $$SELECT llm.purge_archive('0')$$, '42501', 'permission denied for function purge_archive', 'llm_app', NULL, 1),
-- pin_session
('pin_session', 'session_id NULL', $$SELECT llm.pin_session(NULL)$$, '22023', 'session_id must not be NULL', NULL, NULL, 1),
('pin_session', 'pinned NULL', $$SELECT llm.pin_session('tap_hx', NULL)$$, '22023', 'pinned must not be NULL', NULL, NULL, 1),
('pin_session', 'injection as session_id', $$SELECT llm.pin_session(inj) FROM hx$$, 'P0002', $m$session "x'); DROP TABLE llm.sessions; --" does not exist$m$, NULL, NULL, 1),
('pin_session', 'an archived session', $$SELECT llm.pin_session('tap_hx_arch')$$, 'P0002', 'session tap_hx_arch does not exist', NULL, NULL, 1),
-- search_turns
('search_turns', 'query NULL', $$SELECT llm.search_turns(NULL)$$, '22023', 'query must not be NULL', NULL, NULL, 1),
('search_turns', 'query spaces', $$SELECT llm.search_turns('   ')$$, '22023', 'query must not be blank', NULL, NULL, 1),
('search_turns', 'query a tab and a newline', $$SELECT llm.search_turns(E'\t\n')$$, '22023', 'query must not be blank', NULL, NULL, 1),
('search_turns', 'query of 20 MiB', $$SELECT llm.search_turns(repeat('a', 20 * 1024 * 1024))$$, '22023', 'query is 20971520 bytes; the limit is 16 MiB (16777216 bytes)', NULL, NULL, 1),
('search_turns', 'max_rows 0', $$SELECT llm.search_turns('q1', NULL, 0)$$, '22023', 'max_rows must be between 1 and 100, not 0', NULL, NULL, 1),
('search_turns', 'max_rows 101', $$SELECT llm.search_turns('q1', NULL, 101)$$, '22023', 'max_rows must be between 1 and 100, not 101', NULL, NULL, 1),
('search_turns', 'agent_role empty', $$SELECT llm.search_turns('q1', '')$$, '22023', 'agent_role must not be blank', NULL, NULL, 1),
('search_turns', 'injection as query', $$SELECT llm.search_turns(inj, 'tap hx') FROM hx$$, NULL, '{"hits": []}', NULL, NULL, 1),
('search_turns', 'tsquery operators only', $$SELECT llm.search_turns('!!! & | <-> :* (((', 'tap hx')$$, NULL, '{"hits": []}', NULL, NULL, 1),
-- index_turns
('index_turns', 'batch_size 0', $$SELECT llm.index_turns(0)$$, '22023', 'batch_size must be between 1 and 100000, not 0', NULL, NULL, 1),
('index_turns', 'batch_size NULL', $$SELECT llm.index_turns(NULL)$$, '22023', 'batch_size must not be NULL', NULL, NULL, 1),
('index_turns', 'batch_size 100001', $$SELECT llm.index_turns(100001)$$, '22023', 'batch_size must be between 1 and 100000, not 100001', NULL, NULL, 1),
('index_turns', 'called by llm_app', $$SELECT llm.index_turns()$$, '42501', 'permission denied for function index_turns', 'llm_app', NULL, 1);

-- Every function of the API that takes an argument is in the table (a new one must add
-- its rows here), and the table is large enough to matter. Functions without arguments
-- have no input to be hostile; the table has rows for some of them all the same.
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'llm'::regnamespace AND p.proname NOT LIKE '\_%' AND p.pronargs > 0
             AND p.proname NOT IN (SELECT fn FROM bad_input)),
  NULL, 'every API function that takes arguments has rows in the table');
SELECT is((SELECT array_agg(f) FROM unnest(ARRAY['create_session', 'append_turn', 'get_session', 'end_session', 'list_sessions',
             'cleanup_stale', 'schedule_cleanup', 'unschedule_cleanup', 'stats', 'get_context', 'pop_turn', 'fork_session',
             'export_session', 'import_session', 'restore_session', 'purge_archive', 'pin_session', 'search_turns', 'index_turns']) f
           WHERE f NOT IN (SELECT fn FROM bad_input)),
  NULL, 'each of the nineteen functions of the issue has rows, those without arguments too');
SELECT cmp_ok((SELECT count(*) FROM bad_input), '>=', 40::bigint, 'at least 40 hostile inputs');

-- Each row: its outcome, then the checksum. Run as a function so that a todo row can
-- mark exactly its own tests.
CREATE FUNCTION pg_temp.run_bad_inputs() RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  r          record;
  v_before   text;
  v_outcome  jsonb;
  v_expected jsonb;
  v_after    text;
BEGIN
  FOR r IN SELECT * FROM bad_input ORDER BY n LOOP
    -- The row runs in a subtransaction that is always rolled back (local variables
    -- survive it): what a row that is wrongly accepted writes cannot reach the next row.
    BEGIN
      v_before := pg_temp.checksum_all();
      IF r.as_role IS NOT NULL THEN
        EXECUTE format('SET LOCAL ROLE %I', r.as_role);
      END IF;
      v_outcome := pg_temp.outcome(r.sql);
      RESET ROLE;
      v_after := pg_temp.checksum_all();
      RAISE EXCEPTION 'undo the row' USING ERRCODE = 'TAPRB';
    EXCEPTION WHEN SQLSTATE 'TAPRB' THEN
      NULL;
    END;
    IF r.sqlstate IS NULL THEN
      v_expected := jsonb_build_object('result', r.message);
    ELSIF r.message IS NULL THEN
      -- A todo row whose future message is not written yet: the SQLSTATE is what is asserted.
      v_expected := jsonb_build_object('sqlstate', r.sqlstate);
      v_outcome := v_outcome - 'message';
    ELSE
      v_expected := jsonb_build_object('sqlstate', r.sqlstate, 'message', r.message);
    END IF;
    IF r.todo IS NOT NULL THEN
      PERFORM tap.todo(r.todo, r.todo_tests);
    END IF;
    RETURN NEXT tap.is(v_outcome, v_expected, format('%s: %s', r.fn, r.label));
    RETURN NEXT tap.is(v_after, v_before, format('%s: %s: nothing changed', r.fn, r.label));
  END LOOP;
END;
$$;
SELECT * FROM pg_temp.run_bad_inputs();

-- Accepted and stored intact: 1 MiB texts, and a text of exactly 16 MiB (the limit is inclusive).
CREATE TEMP TABLE big AS
SELECT repeat(E'Grüße, 🦀\t\nx', 1024 * 1024 / 16) AS mib,
       repeat('r', 16 * 1024 * 1024) AS limit16;
SELECT is((SELECT octet_length(mib) FROM big), 1048576, 'a 1 MiB text of multi-byte characters, tabs, newlines and emoji');
SELECT lives_ok($$SELECT llm.create_session('tap hx', mib, 'tap_hx_big', jsonb_build_object('note', left(mib, 100000))) FROM big$$,
  'create_session accepts a 1 MiB startup_context');
SELECT lives_ok($$SELECT llm.append_turn('tap_hx_big', mib, mib, 1, '{}', NULL, 'big-1') FROM big$$,
  'append_turn accepts a 1 MiB question and a 1 MiB response');
SELECT ok((SELECT s.startup_context = b.mib AND t.question = b.mib AND t.response = b.mib AND s.metadata->>'note' = left(b.mib, 100000)
           FROM llm.sessions s JOIN llm.turns t USING (session_id), big b WHERE s.session_id = 'tap_hx_big'),
  'all three are stored byte for byte');
SELECT ok((SELECT j->>'startup_context' = b.mib AND j->'conversation_history'->0->>'question' = b.mib
                  AND j->'conversation_history'->0->>'response' = b.mib
           FROM (SELECT llm.get_session('tap_hx_big') AS j) g, big b),
  'and get_session returns them byte for byte');
SELECT ok((SELECT (llm.export_session('tap_hx_big')->'turns'->0->>'response') = mib FROM big), 'and so does export_session');
SELECT lives_ok($$SELECT llm.append_turn('tap_hx_big', 'q', limit16) FROM big$$, 'a response of exactly 16 MiB is accepted');
SELECT is((SELECT octet_length(response) FROM llm.turns WHERE session_id = 'tap_hx_big' AND seq = 2), 16777216,
  'and stored whole');

-- An injection string in pg_cron's schedule is only ever a schedule: the job's command
-- is built from max_idle and policy with %L, and the schedule is passed as a value.
SELECT pg_temp.checksum_all() AS before_schedule \gset
CREATE TEMP TABLE scheduled AS
SELECT CASE WHEN to_regclass('cron.job') IS NULL THEN NULL
            ELSE pg_temp.outcome($$SELECT llm.schedule_cleanup($i$* * * * *'); DROP TABLE llm.sessions; --$i$)->>'command'$$) END AS outcome;
SELECT is(outcome, CASE WHEN to_regclass('cron.job') IS NULL THEN NULL
                        ELSE '{"result": "CALL llm.run_cleanup(''01:00:00''::interval, policy => ''archive'')"}'::jsonb END,
  'an injection as pg_cron schedule: the job''s command is still the fixed cleanup call')
FROM scheduled;
SELECT isnt(to_regclass('llm.sessions'), NULL, 'llm.sessions is still there');
SELECT is((SELECT count(*) FROM llm.sessions WHERE session_id IN ('tap_hx', 'tap_hx_big')), 2::bigint, 'with its sessions');

SELECT * FROM finish();
ROLLBACK;
