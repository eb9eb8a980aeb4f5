-- Sessions: create, read, end, list.

-- Creates a session; generates an id like the seed's ceo_1762844141_407770 when none is given.
CREATE OR REPLACE FUNCTION llm.create_session(
  agent_role      text,
  startup_context text  DEFAULT NULL,
  session_id      text  DEFAULT NULL,
  metadata        jsonb DEFAULT '{}'
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_slug    text;
  v_session llm.sessions;
BEGIN
  PERFORM llm._require_id('agent_role', create_session.agent_role, 100);
  PERFORM llm._require_text('startup_context', create_session.startup_context, false);
  PERFORM llm._require_metadata(create_session.metadata);

  IF create_session.session_id IS NOT NULL THEN
    PERFORM llm._require_id('session_id', create_session.session_id);
    INSERT INTO llm.sessions AS s (session_id, agent_role, startup_context, metadata)
    VALUES (create_session.session_id, create_session.agent_role,
            create_session.startup_context, create_session.metadata)
    ON CONFLICT ON CONSTRAINT sessions_pkey DO NOTHING
    RETURNING * INTO v_session;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'session % already exists', quote_ident(create_session.session_id)
        USING ERRCODE = '23505', CONSTRAINT = 'sessions_pkey',
              HINT = 'Omit session_id to have one generated, or continue the existing session with append_turn.';
    END IF;
  ELSE
    -- <role>_<unix seconds>_<6 random digits>; a collision (same role, same
    -- second, same digits) is retried with new digits.
    v_slug := btrim(left(btrim(lower(regexp_replace(create_session.agent_role, '[^A-Za-z0-9]+', '_', 'g')), '_'), 40), '_');
    IF v_slug = '' THEN v_slug := 'session'; END IF;
    FOR attempt IN 1..10 LOOP
      INSERT INTO llm.sessions AS s (session_id, agent_role, startup_context, metadata)
      VALUES (format('%s_%s_%s', v_slug, floor(extract(epoch FROM clock_timestamp()))::bigint,
                     lpad(floor(random() * 1000000)::integer::text, 6, '0')),
              create_session.agent_role, create_session.startup_context, create_session.metadata)
      ON CONFLICT ON CONSTRAINT sessions_pkey DO NOTHING
      RETURNING * INTO v_session;
      EXIT WHEN FOUND;
    END LOOP;
    IF v_session.session_id IS NULL THEN
      RAISE EXCEPTION 'could not generate a unique session id for role %', create_session.agent_role
        USING ERRCODE = '23505';
    END IF;
  END IF;
  PERFORM llm._refuse_archived_id(v_session.session_id);
  PERFORM llm._notify('create', v_session.session_id, v_session.agent_role);
  RETURN llm._session_json(v_session, '[]'::jsonb);
END;
$$;
COMMENT ON FUNCTION llm.create_session(text, text, text, jsonb) IS
'Creates a session and returns it as JSON (empty conversation_history). Without session_id an id like ceo_1762844141_407770 is generated; an existing session_id, live or archived, raises unique_violation (23505). Sends the event "create".';

-- Returns the session with its history (only the newest last_n turns when given), or NULL.
CREATE OR REPLACE FUNCTION llm.get_session(session_id text, last_n integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session llm.sessions;
  v_history jsonb;
BEGIN
  PERFORM llm._require_id('session_id', get_session.session_id);
  IF get_session.last_n IS NOT NULL THEN
    PERFORM llm._require_range('last_n', get_session.last_n, 0, 2147483647);
  END IF;

  SELECT * INTO v_session FROM llm.sessions s WHERE s.session_id = get_session.session_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- A STABLE function reads both statements from one snapshot, so the history
  -- always agrees with the counters. seq is gapless, so the newest N turns are
  -- the index range seq > turn_count - N: the cost follows N, not the history.
  SELECT jsonb_agg(llm._turn_json(t) ORDER BY t.seq) INTO v_history
  FROM llm.turns t
  WHERE t.session_id = get_session.session_id
    AND t.seq > v_session.turn_count - COALESCE(get_session.last_n, v_session.turn_count);
  RETURN llm._session_json(v_session, v_history);
END;
$$;
COMMENT ON FUNCTION llm.get_session(text, integer) IS
'Returns the session as JSON with its conversation_history oldest first (only the newest last_n turns when last_n is given), or NULL when there is no such session.';

-- Deletes the session and all its turns; returns whether it existed.
CREATE OR REPLACE FUNCTION llm.end_session(session_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_agent_role text;
BEGIN
  PERFORM llm._require_id('session_id', end_session.session_id);
  DELETE FROM llm.sessions s WHERE s.session_id = end_session.session_id
  RETURNING s.agent_role INTO v_agent_role;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM llm._notify('end', end_session.session_id, v_agent_role);
  RETURN true;
END;
$$;
COMMENT ON FUNCTION llm.end_session(text) IS
'Deletes the session and all its turns. Returns true if it existed, false otherwise (an archived session is not live: false). Sends the event "end".';

-- One page of session summaries, most recently active first.
CREATE OR REPLACE FUNCTION llm.list_sessions(
  agent_role text        DEFAULT NULL,
  max_rows   integer     DEFAULT 100,
  before     timestamptz DEFAULT NULL,
  before_id  text        DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_items   jsonb[] := '{}';
  v_session llm.sessions;
  v_last    llm.sessions;
  v_more    boolean := false;
  -- (before, before_id) is the keyset of the last row of the previous page.
  -- Without before_id every session at exactly `before` is skipped: no id sorts below ''.
  v_before    timestamptz := COALESCE(list_sessions.before, 'infinity');
  v_before_id text        := COALESCE(list_sessions.before_id, '');
BEGIN
  PERFORM llm._require_range('max_rows', list_sessions.max_rows, 1, 1000);
  IF list_sessions.agent_role IS NOT NULL THEN
    PERFORM llm._require_id('agent_role', list_sessions.agent_role, 100);
  END IF;
  IF list_sessions.before_id IS NOT NULL AND list_sessions.before IS NULL THEN
    RAISE EXCEPTION 'before_id needs before' USING ERRCODE = '22023',
      HINT = 'Pass both values of the next_page object of the previous page.';
  END IF;

  -- Two statements rather than one with "agent_role IS NULL OR ...", so that
  -- each is a plain range of its own index.
  IF list_sessions.agent_role IS NULL THEN
    FOR v_session IN
      SELECT * FROM llm.sessions s
      WHERE (s.last_query_at, s.session_id) < (v_before, v_before_id)
      ORDER BY s.last_query_at DESC, s.session_id DESC
      LIMIT list_sessions.max_rows + 1
    LOOP
      IF cardinality(v_items) = list_sessions.max_rows THEN v_more := true; EXIT; END IF;
      v_items := array_append(v_items, llm._summary_json(v_session));
      v_last := v_session;
    END LOOP;
  ELSE
    FOR v_session IN
      SELECT * FROM llm.sessions s
      WHERE s.agent_role = list_sessions.agent_role
        AND (s.last_query_at, s.session_id) < (v_before, v_before_id)
      ORDER BY s.last_query_at DESC, s.session_id DESC
      LIMIT list_sessions.max_rows + 1
    LOOP
      IF cardinality(v_items) = list_sessions.max_rows THEN v_more := true; EXIT; END IF;
      v_items := array_append(v_items, llm._summary_json(v_session));
      v_last := v_session;
    END LOOP;
  END IF;

  RETURN jsonb_build_object(
    'sessions', to_jsonb(v_items),
    'next_page', CASE WHEN v_more THEN
      jsonb_build_object('before', v_last.last_query_at, 'before_id', v_last.session_id) END);
END;
$$;
COMMENT ON FUNCTION llm.list_sessions(text, integer, timestamptz, text) IS
'Returns {"sessions": [...], "next_page": {"before", "before_id"} | null}: summaries without history, most recently active first, at most max_rows (1..1000). Pass next_page''s values as before/before_id for the next page.';
