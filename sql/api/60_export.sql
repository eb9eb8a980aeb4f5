-- Export and import: one session as one self-describing, versioned JSON document
--   {"format": "llm-sessions/session", "version": 1, "exported_at": "...",
--    "session": {session_id, agent_role, startup_context, metadata, turn_count, total_tokens,
--                pinned, parent_session_id, parent_seq, created_at, last_query_at, archived_at},
--    "turns": [{seq, question, response, tokens, metadata, request_id, created_at}, ...]}
-- Version 1 has exactly these keys; a change to their meaning is a new version.
-- Importing reads the keys it knows and ignores others.

-- The "session" object of an export document.
CREATE OR REPLACE FUNCTION llm._export_session_json(s llm.sessions, archived_at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'session_id', s.session_id,
    'agent_role', s.agent_role,
    'startup_context', s.startup_context,
    'metadata', s.metadata,
    'turn_count', s.turn_count,
    'total_tokens', s.total_tokens,
    'pinned', s.pinned,
    'parent_session_id', s.parent_session_id,
    'parent_seq', s.parent_seq,
    'created_at', s.created_at,
    'last_query_at', s.last_query_at,
    'archived_at', archived_at)
$$;

-- One element of the "turns" array of an export document.
CREATE OR REPLACE FUNCTION llm._export_turn_json(t llm.turns)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'seq', t.seq,
    'question', t.question,
    'response', t.response,
    'tokens', t.tokens,
    'metadata', t.metadata,
    'request_id', t.request_id,
    'created_at', t.created_at)
$$;

-- The value of key in the object at path of an import document, checked to be of
-- the given JSON type; NULL when absent or null and not required. 22023 otherwise.
CREATE OR REPLACE FUNCTION llm._doc_value(obj jsonb, path text, key text, kind text, required boolean)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_value jsonb := obj -> key;
BEGIN
  IF v_value IS NULL OR jsonb_typeof(v_value) = 'null' THEN
    IF required THEN
      RAISE EXCEPTION 'invalid session document: %.% is missing', path, key USING ERRCODE = '22023';
    END IF;
    RETURN NULL;
  ELSIF jsonb_typeof(v_value) <> kind THEN
    RAISE EXCEPTION 'invalid session document: %.% must be %, not %', path, key,
        CASE WHEN kind ~ '^[aeiou]' THEN 'an ' ELSE 'a ' END || kind, jsonb_typeof(v_value)
      USING ERRCODE = '22023';
  END IF;
  RETURN v_value;
END;
$$;

-- An integer of an import document, in [lo, hi]; NULL when absent and not required.
CREATE OR REPLACE FUNCTION llm._doc_integer(obj jsonb, path text, key text, lo bigint, hi bigint, required boolean)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_number numeric := llm._doc_value(obj, path, key, 'number', required)::numeric;
BEGIN
  IF v_number IS NOT NULL AND (v_number <> trunc(v_number) OR v_number < lo OR v_number > hi) THEN
    RAISE EXCEPTION 'invalid session document: %.% must be a whole number between % and %, not %',
        path, key, lo, hi, v_number
      USING ERRCODE = '22023';
  END IF;
  RETURN v_number;
END;
$$;

-- A timestamp of an import document (required).
CREATE OR REPLACE FUNCTION llm._doc_timestamptz(obj jsonb, path text, key text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_text text := llm._doc_value(obj, path, key, 'string', true) #>> '{}';
  v_time timestamptz;
BEGIN
  v_time := v_text::timestamptz;
  -- 'infinity' parses, but a session that was never active or is active forever
  -- would escape list_sessions' keyset and every cleanup.
  IF NOT isfinite(v_time) THEN
    RAISE EXCEPTION 'invalid session document: %.% must be a finite timestamp, not %', path, key, quote_literal(v_text)
      USING ERRCODE = '22023';
  END IF;
  RETURN v_time;
EXCEPTION
  WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_time_zone_displacement_value THEN
    RAISE EXCEPTION 'invalid session document: %.% must be a timestamp, not %', path, key, quote_literal(v_text)
      USING ERRCODE = '22023';
END;
$$;

-- The session (live or archived) as one export document, or NULL.
CREATE OR REPLACE FUNCTION llm.export_session(session_id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session jsonb;
  v_turns   jsonb;
BEGIN
  PERFORM llm._require_id('session_id', export_session.session_id);
  -- STABLE: every statement reads the same snapshot, so the turns agree with the
  -- counters. Each statement filters by session_id (one shard on Citus).
  SELECT llm._export_session_json(s, NULL) INTO v_session
  FROM llm.sessions s WHERE s.session_id = export_session.session_id;
  IF FOUND THEN
    SELECT jsonb_agg(llm._export_turn_json(t) ORDER BY t.seq) INTO v_turns
    FROM llm.turns t WHERE t.session_id = export_session.session_id;
  ELSE
    -- Archived sessions export too: export is how a session leaves the database,
    -- and an archived one is just what an operator takes out before purge_archive.
    SELECT llm._export_session_json(jsonb_populate_record(NULL::llm.sessions, to_jsonb(a)), a.archived_at)
    INTO v_session
    FROM llm.archived_sessions a WHERE a.session_id = export_session.session_id;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    SELECT jsonb_agg(llm._export_turn_json(jsonb_populate_record(NULL::llm.turns, to_jsonb(a))) ORDER BY a.seq)
    INTO v_turns
    FROM llm.archived_turns a WHERE a.session_id = export_session.session_id;
  END IF;
  RETURN jsonb_build_object(
    'format', 'llm-sessions/session',
    'version', 1,
    'exported_at', now(),
    'session', v_session,
    'turns', COALESCE(v_turns, '[]'::jsonb));
END;
$$;
COMMENT ON FUNCTION llm.export_session(text) IS
'For clients (llm_app). Returns the session as one document {"format": "llm-sessions/session", "version": 1, "exported_at", "session": {every column, archived_at null when live}, "turns": [every column, oldest first]} that import_session restores exactly, or NULL for an unknown session. Archived sessions export too (session.archived_at set): the one read of the archive open to clients, so that a session can be taken out before it is purged.';

-- Restores a session from an export document, exactly: counters verified, not trusted.
CREATE OR REPLACE FUNCTION llm.import_session(doc jsonb, on_conflict text DEFAULT 'error')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_doc_session jsonb;
  v_session     llm.sessions;
  v_turn        llm.turns;
  v_turns       llm.turns[] := '{}';
  v_element     jsonb;
  v_index       integer;
  v_path        text;
  v_tokens      numeric := 0;
  v_live        boolean;
  v_archived    boolean;
  v_status      text := 'imported';
BEGIN
  IF import_session.on_conflict IS NULL OR import_session.on_conflict NOT IN ('error', 'skip', 'replace') THEN
    RAISE EXCEPTION 'on_conflict must be ''error'', ''skip'' or ''replace'', not %',
        COALESCE(quote_literal(import_session.on_conflict), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF import_session.doc IS NULL OR jsonb_typeof(import_session.doc) <> 'object' THEN
    RAISE EXCEPTION 'invalid session document: it must be a JSON object, not %',
        COALESCE(jsonb_typeof(import_session.doc), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF import_session.doc->'format' IS DISTINCT FROM '"llm-sessions/session"'::jsonb THEN
    RAISE EXCEPTION 'invalid session document: format is %, not "llm-sessions/session"',
        COALESCE((import_session.doc->'format')::text, 'missing')
      USING ERRCODE = '22023';
  END IF;
  IF import_session.doc->'version' IS DISTINCT FROM '1'::jsonb THEN
    RAISE EXCEPTION 'unsupported session document version %: this database reads version 1',
        COALESCE((import_session.doc->'version')::text, 'missing')
      USING ERRCODE = '22023';
  END IF;
  v_doc_session := llm._doc_value(import_session.doc, 'doc', 'session', 'object', true);
  PERFORM llm._doc_value(import_session.doc, 'doc', 'turns', 'array', true);

  -- The session, every value checked before anything is written.
  v_session.session_id := llm._doc_value(v_doc_session, 'session', 'session_id', 'string', true) #>> '{}';
  PERFORM llm._require_id('session.session_id', v_session.session_id);
  v_session.agent_role := llm._doc_value(v_doc_session, 'session', 'agent_role', 'string', true) #>> '{}';
  PERFORM llm._require_id('session.agent_role', v_session.agent_role, 100);
  v_session.startup_context := llm._doc_value(v_doc_session, 'session', 'startup_context', 'string', false) #>> '{}';
  PERFORM llm._require_text('session.startup_context', v_session.startup_context, false);
  v_session.metadata := COALESCE(llm._doc_value(v_doc_session, 'session', 'metadata', 'object', false), '{}');
  PERFORM llm._require_metadata(v_session.metadata);
  v_session.turn_count := llm._doc_integer(v_doc_session, 'session', 'turn_count', 0, 2147483647, true);
  v_session.total_tokens := llm._doc_integer(v_doc_session, 'session', 'total_tokens', 0, 9223372036854775807, true);
  v_session.pinned := COALESCE((llm._doc_value(v_doc_session, 'session', 'pinned', 'boolean', false))::boolean, false);
  v_session.parent_session_id := llm._doc_value(v_doc_session, 'session', 'parent_session_id', 'string', false) #>> '{}';
  v_session.parent_seq := llm._doc_integer(v_doc_session, 'session', 'parent_seq', 0, 2147483647, false);
  IF (v_session.parent_session_id IS NULL) <> (v_session.parent_seq IS NULL) THEN
    RAISE EXCEPTION 'invalid session document: session.parent_session_id and session.parent_seq go together'
      USING ERRCODE = '22023';
  END IF;
  IF v_session.parent_session_id IS NOT NULL THEN
    PERFORM llm._require_id('session.parent_session_id', v_session.parent_session_id);
    IF v_session.parent_session_id = v_session.session_id THEN
      RAISE EXCEPTION 'invalid session document: the session is its own parent' USING ERRCODE = '22023';
    END IF;
  END IF;
  v_session.created_at := llm._doc_timestamptz(v_doc_session, 'session', 'created_at');
  v_session.last_query_at := llm._doc_timestamptz(v_doc_session, 'session', 'last_query_at');

  -- The turns: numbered 1..n in order, and adding up to the session's counters.
  FOR v_element, v_index IN
    SELECT e.value, e.ordinality::integer FROM jsonb_array_elements(import_session.doc->'turns') WITH ORDINALITY e
  LOOP
    v_path := format('turns[%s]', v_index - 1);
    IF jsonb_typeof(v_element) <> 'object' THEN
      RAISE EXCEPTION 'invalid session document: % must be an object, not %', v_path, jsonb_typeof(v_element)
        USING ERRCODE = '22023';
    END IF;
    v_turn := NULL;
    v_turn.session_id := v_session.session_id;
    v_turn.seq := llm._doc_integer(v_element, v_path, 'seq', 1, 2147483647, true);
    IF v_turn.seq <> v_index THEN
      RAISE EXCEPTION 'invalid session document: %.seq is %, expected %', v_path, v_turn.seq, v_index
        USING ERRCODE = '22023', HINT = 'The turns must be numbered 1, 2, ... n in order, without gaps.';
    END IF;
    v_turn.question := llm._doc_value(v_element, v_path, 'question', 'string', true) #>> '{}';
    PERFORM llm._require_text(v_path || '.question', v_turn.question);
    v_turn.response := llm._doc_value(v_element, v_path, 'response', 'string', true) #>> '{}';
    PERFORM llm._require_text(v_path || '.response', v_turn.response);
    v_turn.tokens := llm._doc_integer(v_element, v_path, 'tokens', 0, 2147483647, true);
    v_turn.metadata := COALESCE(llm._doc_value(v_element, v_path, 'metadata', 'object', false), '{}');
    PERFORM llm._require_metadata(v_turn.metadata);
    v_turn.request_id := llm._doc_value(v_element, v_path, 'request_id', 'string', false) #>> '{}';
    IF v_turn.request_id IS NOT NULL THEN
      PERFORM llm._require_id(v_path || '.request_id', v_turn.request_id);
    END IF;
    v_turn.created_at := llm._doc_timestamptz(v_element, v_path, 'created_at');
    v_tokens := v_tokens + v_turn.tokens;
    v_turns := array_append(v_turns, v_turn);
  END LOOP;

  IF v_session.turn_count <> cardinality(v_turns) THEN
    RAISE EXCEPTION 'invalid session document: session.turn_count is % but there are % turns',
        v_session.turn_count, cardinality(v_turns)
      USING ERRCODE = '22023';
  END IF;
  IF v_session.total_tokens <> v_tokens THEN
    RAISE EXCEPTION 'invalid session document: session.total_tokens is % but the turns add up to %',
        v_session.total_tokens, v_tokens
      USING ERRCODE = '22023';
  END IF;
  IF (SELECT count(t.request_id) <> count(DISTINCT t.request_id) FROM unnest(v_turns) t) THEN
    RAISE EXCEPTION 'invalid session document: a request_id appears on more than one turn'
      USING ERRCODE = '22023';
  END IF;

  -- Where the id is taken already, on_conflict decides.
  v_live := EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = v_session.session_id);
  v_archived := EXISTS (SELECT FROM llm.archived_sessions a WHERE a.session_id = v_session.session_id);
  IF v_live OR v_archived THEN
    IF import_session.on_conflict = 'error' THEN
      RAISE EXCEPTION 'session % already exists%', quote_ident(v_session.session_id),
          CASE WHEN v_archived THEN ' in the archive' ELSE '' END
        USING ERRCODE = '23505',
              CONSTRAINT = CASE WHEN v_archived THEN 'archived_sessions_pkey' ELSE 'sessions_pkey' END,
              HINT = 'Pass on_conflict => ''skip'' to keep it, or ''replace'' to overwrite it with the document.';
    ELSIF import_session.on_conflict = 'skip' THEN
      RETURN jsonb_build_object('session_id', v_session.session_id, 'status', 'skipped', 'turns', 0);
    END IF;
    v_status := 'replaced';
  END IF;

  IF v_live THEN
    -- The row is updated in place, not deleted: an append waiting for its lock
    -- then appends to the replaced session instead of finding none.
    UPDATE llm.sessions s
    SET agent_role = v_session.agent_role, startup_context = v_session.startup_context,
        metadata = v_session.metadata, turn_count = v_session.turn_count,
        total_tokens = v_session.total_tokens, created_at = v_session.created_at,
        last_query_at = v_session.last_query_at, pinned = v_session.pinned,
        parent_session_id = v_session.parent_session_id, parent_seq = v_session.parent_seq
    WHERE s.session_id = v_session.session_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'session % was archived or ended while it was being replaced', quote_ident(v_session.session_id)
        USING ERRCODE = '40001', HINT = 'Nothing was imported; try again.';
    END IF;
    DELETE FROM llm.turns t WHERE t.session_id = v_session.session_id;
  ELSE
    IF v_archived THEN
      DELETE FROM llm.archived_sessions a WHERE a.session_id = v_session.session_id;
    END IF;
    INSERT INTO llm.sessions (session_id, agent_role, startup_context, metadata, turn_count, total_tokens,
                              created_at, last_query_at, pinned, parent_session_id, parent_seq)
    VALUES (v_session.session_id, v_session.agent_role, v_session.startup_context, v_session.metadata,
            v_session.turn_count, v_session.total_tokens, v_session.created_at, v_session.last_query_at,
            v_session.pinned, v_session.parent_session_id, v_session.parent_seq);
    PERFORM llm._refuse_archived_id(v_session.session_id);
  END IF;
  INSERT INTO llm.turns (session_id, seq, question, response, tokens, metadata, request_id, created_at)
  SELECT t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at
  FROM unnest(v_turns) t;

  PERFORM llm._notify('import', v_session.session_id, v_session.agent_role);
  RETURN jsonb_build_object('session_id', v_session.session_id, 'status', v_status, 'turns', cardinality(v_turns));
END;
$$;
COMMENT ON FUNCTION llm.import_session(jsonb, text) IS
'For operators (llm_admin): it writes counters and timestamps as given. Restores a session from an export_session document exactly (as a live session; archived_at is ignored). The document is checked first and refused whole with 22023 and a message naming the bad field: unknown format or version, counters that disagree with the turns, seqs that are not 1..n in order, wrong types. When the id exists (live or archived), on_conflict decides: ''error'' (the default) raises 23505, ''skip'' changes nothing, ''replace'' overwrites it. Returns {"session_id", "status": "imported"|"skipped"|"replaced", "turns": n written}. Sends the event "import".';
