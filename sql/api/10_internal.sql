-- Internal helpers of the API: argument checks and the JSON shapes.
-- Names start with an underscore; none is granted to any role. The JSON shapes
-- live here and only here, so every function returns the same session and turn.

-- Whether a text is empty or only white space, Unicode's included: [[:space:]]
-- alone misses the no-break and other wide spaces in the C.UTF-8 locale.
CREATE OR REPLACE FUNCTION llm._is_blank(value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
  SELECT value OPERATOR(pg_catalog.~) '^[[:space:]\u00a0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$'
$$;

-- The moment an age reaches back to (now() - age), for cleanup and purge; raises
-- 22023 for NULL, a negative age (or zero unless allowed) and an age so long that
-- the subtraction leaves the range of timestamps.
CREATE OR REPLACE FUNCTION llm._cutoff(arg_name text, age interval, allow_zero boolean DEFAULT false)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF age IS NULL OR age < interval '0' OR (age = interval '0' AND NOT allow_zero) THEN
    RAISE EXCEPTION '% must be %, not %', arg_name,
        CASE WHEN allow_zero THEN 'an interval of zero or more' ELSE 'a positive interval' END, COALESCE(age::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN now() - age;
EXCEPTION WHEN datetime_field_overflow THEN
  RAISE EXCEPTION '% is too long: %', arg_name, age USING ERRCODE = '22023';
END;
$$;

-- Raises invalid_parameter_value (22023) unless the id is a non-blank string of at most max_chars.
CREATE OR REPLACE FUNCTION llm._require_id(arg_name text, value text, max_chars integer DEFAULT 200)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg_name USING ERRCODE = '22023';
  ELSIF llm._is_blank(value) THEN
    RAISE EXCEPTION '% must not be blank', arg_name USING ERRCODE = '22023';
  ELSIF length(value) > max_chars THEN
    RAISE EXCEPTION '% is % characters long; the limit is %', arg_name, length(value), max_chars
      USING ERRCODE = '22023';
  END IF;
END;
$$;

-- Raises 22023 unless the text is present (when required) and at most 16 MiB.
CREATE OR REPLACE FUNCTION llm._require_text(arg_name text, value text, required boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL THEN
    IF required THEN
      RAISE EXCEPTION '% must not be NULL', arg_name USING ERRCODE = '22023';
    END IF;
  ELSIF octet_length(value) > 16777216 THEN
    RAISE EXCEPTION '% is % bytes; the limit is 16 MiB (16777216 bytes)', arg_name, octet_length(value)
      USING ERRCODE = '22023';
  END IF;
END;
$$;

-- Raises 22023 unless metadata is a JSON object of at most 1 MiB (of JSON text).
-- Measured as text, not with pg_column_size: a value read from a table may arrive
-- compressed (once the calling plan is generic), and would then pass at a fraction of its size.
CREATE OR REPLACE FUNCTION llm._require_metadata(value jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL OR jsonb_typeof(value) <> 'object' THEN
    RAISE EXCEPTION 'metadata must be a JSON object, not %', coalesce(jsonb_typeof(value), 'NULL')
      USING ERRCODE = '22023', HINT = 'Pass ''{}'' for no metadata.';
  ELSIF octet_length(value::text) > 1048576 THEN
    RAISE EXCEPTION 'metadata is % bytes; the limit is 1 MiB', octet_length(value::text) USING ERRCODE = '22023';
  END IF;
END;
$$;

-- Raises 22023 unless the integer lies in [lo, hi].
CREATE OR REPLACE FUNCTION llm._require_range(arg_name text, value bigint, lo bigint, hi bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg_name USING ERRCODE = '22023';
  ELSIF value < lo OR value > hi THEN
    RAISE EXCEPTION '% must be between % and %, not %', arg_name, lo, hi, value USING ERRCODE = '22023';
  END IF;
END;
$$;

-- The full-text vector of a turn (llm.index_turns stores it, llm.search_turns
-- computes it for turns not yet indexed). Only the first 50,000 characters of each
-- text: a tsvector is limited to 1 MB, and indexing must never fail on a long text.
CREATE OR REPLACE FUNCTION llm._turn_vector(question text, response text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE
AS $$
  SELECT pg_catalog.to_tsvector('pg_catalog.english'::pg_catalog.regconfig,
    pg_catalog.left(question, 50000) OPERATOR(pg_catalog.||) ' '
    OPERATOR(pg_catalog.||) pg_catalog.left(response, 50000))
$$;

-- The JSON of one turn. LANGUAGE sql without SET so the planner can inline it
-- into the history aggregate; every name is qualified instead.
CREATE OR REPLACE FUNCTION llm._turn_json(t llm.turns)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'seq', t.seq,
    'question', t.question,
    'response', t.response,
    'tokens', t.tokens,
    'metadata', t.metadata,
    'request_id', t.request_id,
    'timestamp', t.created_at)
$$;

-- The JSON that append_turn and pop_turn return: the turn's keys (as _turn_json)
-- and the session's counters after the call, built in one jsonb_build_object: on
-- the append path, building the turn and then concatenating copied the texts twice.
CREATE OR REPLACE FUNCTION llm._appended_json(t llm.turns, s llm.sessions, replayed boolean)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'seq', t.seq,
    'question', t.question,
    'response', t.response,
    'tokens', t.tokens,
    'metadata', t.metadata,
    'request_id', t.request_id,
    'timestamp', t.created_at,
    'session_id', s.session_id,
    'turn_count', s.turn_count,
    'total_tokens', s.total_tokens,
    'replayed', replayed)
$$;

-- The JSON of a session without its history (list_sessions' summaries).
CREATE OR REPLACE FUNCTION llm._summary_json(s llm.sessions)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'session_id', s.session_id,
    'agent_role', s.agent_role,
    'turn_count', s.turn_count,
    'total_tokens', s.total_tokens,
    'metadata', s.metadata,
    'created_at', s.created_at,
    'last_query_at', s.last_query_at,
    'pinned', s.pinned,
    'parent_session_id', s.parent_session_id,
    'parent_seq', s.parent_seq)
$$;

-- The JSON of a session with the given history (an array of _turn_json, oldest first):
-- the seed's session map.
CREATE OR REPLACE FUNCTION llm._session_json(s llm.sessions, history jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT llm._summary_json(s) OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
    'startup_context', s.startup_context,
    'conversation_history', COALESCE(history, '[]'::jsonb))
$$;

-- Sends one live event on channel llm_sessions: {"event", "session_id", "agent_role",
-- "seq"}, plus "count" for the one event per cleanup batch. NOTIFY is transactional:
-- listeners get it at commit, never for a rolled-back change. PostgreSQL drops an
-- event identical to one already sent by the same transaction.
-- Only while someone listens through llm.listen_events(): a NOTIFY serialises the
-- commits of every notifying transaction of the database (see Migrations/0003).
-- PL/pgSQL, not LANGUAGE sql: a SQL function with a SET clause is parsed and planned
-- again on every call, and this one runs in every write and every cleanup batch.
CREATE OR REPLACE FUNCTION llm._notify(
  event text, session_id text, agent_role text, seq integer DEFAULT NULL, count bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT FROM llm.event_listeners) THEN
    PERFORM pg_catalog.pg_notify('llm_sessions', (
      pg_catalog.jsonb_build_object('event', _notify.event, 'session_id', _notify.session_id,
                                    'agent_role', _notify.agent_role, 'seq', _notify.seq)
      OPERATOR(pg_catalog.||)
      CASE WHEN _notify.count IS NULL THEN '{}'::jsonb ELSE pg_catalog.jsonb_build_object('count', _notify.count) END)::text);
  END IF;
END;
$$;

-- Serialises the maintenance that writes the turns of many sessions in one statement:
-- cleanup batches (which delete them) and index_turns (which updates them), until the
-- end of the caller's transaction. Each locks its rows in an order of its own plan, so
-- two of them at once could each hold a turn the other waits for (seen: the pg_cron
-- jobs llm-sessions-cleanup and llm-sessions-index, started in the same minute, ended
-- in "deadlock detected"). Taken before either touches a row, this lock makes one wait
-- for the other instead. Client calls never take it: they touch one session each, its
-- row locked first.
CREATE OR REPLACE FUNCTION llm._lock_turn_maintenance()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('llm-sessions:turn-maintenance'));
END;
$$;

-- Raises unique_violation (23505) when the id belongs to an archived session: an id
-- is either live or archived, never both. Call it after inserting the live row: the
-- insert waited for any transaction moving this id, so this check sees its outcome.
CREATE OR REPLACE FUNCTION llm._refuse_archived_id(session_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT FROM llm.archived_sessions a WHERE a.session_id = _refuse_archived_id.session_id) THEN
    RAISE EXCEPTION 'session % already exists in the archive', quote_ident(_refuse_archived_id.session_id)
      USING ERRCODE = '23505', CONSTRAINT = 'archived_sessions_pkey',
            HINT = 'An operator can bring it back with llm.restore_session; or choose another session_id.';
  END IF;
END;
$$;

REVOKE ALL ON FUNCTION
  llm._notify(text, text, text, integer, bigint), llm._refuse_archived_id(text), llm._lock_turn_maintenance(),
  llm._is_blank(text), llm._cutoff(text, interval, boolean),
  llm._require_id(text, text, integer), llm._require_text(text, text, boolean),
  llm._require_metadata(jsonb), llm._require_range(text, bigint, bigint, bigint),
  llm._turn_vector(text, text), llm._turn_json(llm.turns), llm._appended_json(llm.turns, llm.sessions, boolean), llm._summary_json(llm.sessions), llm._session_json(llm.sessions, jsonb)
FROM PUBLIC;
