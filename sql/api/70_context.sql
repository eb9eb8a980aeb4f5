-- Context windows: the newest turns that fit a token budget, as chat messages.

-- The newest turns whose tokens fit max_tokens, oldest first, as OpenAI chat messages; NULL for an unknown session.
CREATE OR REPLACE FUNCTION llm.get_context(session_id text, max_tokens integer, system_prompt boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session  llm.sessions;
  v_turns    refcursor;
  v_seq      integer;
  v_tokens   integer;
  v_included bigint := 0;
  v_first    integer;
  v_question text;
  v_response text;
  v_pairs    jsonb[] := '{}';
  v_messages jsonb;
BEGIN
  PERFORM llm._require_id('session_id', get_context.session_id);
  PERFORM llm._require_range('max_tokens', get_context.max_tokens, 0, 2147483647);
  IF get_context.system_prompt IS NULL THEN
    RAISE EXCEPTION 'system_prompt must not be NULL' USING ERRCODE = '22023';
  END IF;

  SELECT * INTO v_session FROM llm.sessions s WHERE s.session_id = get_context.session_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;

  -- Walk back from the newest turn, one row at a time (FETCH, not a FOR loop,
  -- which would prefetch rows it may not need), and stop at the first turn that
  -- does not fit: the cost follows what is returned, not the length of the
  -- history. Only seq and tokens are read here; the texts only for what fits.
  v_first := v_session.turn_count + 1;
  OPEN v_turns FOR
    SELECT t.seq, t.tokens FROM llm.turns t
    WHERE t.session_id = get_context.session_id
    ORDER BY t.seq DESC;
  LOOP
    FETCH v_turns INTO v_seq, v_tokens;
    EXIT WHEN NOT FOUND OR v_included + v_tokens > get_context.max_tokens;
    v_included := v_included + v_tokens;
    v_first := v_seq;
  END LOOP;
  CLOSE v_turns;

  -- Then the texts of the turns that fit, newest first again, through the same
  -- cursor shape: ORDER BY seq DESC fetched row by row keeps the plan on
  -- turns_pkey (measured: a plain "seq >= n" statement, on a session the
  -- statistics believe small, took the (session_id, request_id) index and read
  -- the whole history to filter it).
  OPEN v_turns FOR
    SELECT t.seq, t.question, t.response FROM llm.turns t
    WHERE t.session_id = get_context.session_id
    ORDER BY t.seq DESC;
  FOR i IN 1 .. v_session.turn_count - v_first + 1 LOOP
    FETCH v_turns INTO v_seq, v_question, v_response;
    v_pairs := array_append(v_pairs, jsonb_build_array(
      jsonb_build_object('role', 'user', 'content', v_question),
      jsonb_build_object('role', 'assistant', 'content', v_response)));
  END LOOP;
  CLOSE v_turns;
  SELECT jsonb_agg(m.message ORDER BY p.n DESC, m.position) INTO v_messages
  FROM unnest(v_pairs) WITH ORDINALITY AS p(pair, n)
  CROSS JOIN LATERAL jsonb_array_elements(p.pair) WITH ORDINALITY AS m(message, position);
  v_messages := COALESCE(v_messages, '[]'::jsonb);
  IF get_context.system_prompt AND v_session.startup_context IS NOT NULL THEN
    v_messages := jsonb_build_array(jsonb_build_object('role', 'system', 'content', v_session.startup_context))
                  || v_messages;
  END IF;

  RETURN jsonb_build_object(
    'session_id', v_session.session_id,
    'messages', v_messages,
    'turns_included', v_session.turn_count - v_first + 1,
    'tokens_included', v_included,
    'turns_omitted', v_first - 1,
    'tokens_omitted', v_session.total_tokens - v_included);
END;
$$;
COMMENT ON FUNCTION llm.get_context(text, integer, boolean) IS
'For clients (llm_app). Returns {"session_id", "messages": [{"role": "system"|"user"|"assistant", "content"}, ...], "turns_included", "tokens_included", "turns_omitted", "tokens_omitted"}: the newest turns whose tokens add up to at most max_tokens (0..2147483647), oldest first, each as a user and an assistant message, after the startup_context as a system message when system_prompt is true and there is one. The system message''s tokens are not counted in the budget (the session does not store them). A turn that does not fit ends the window, even if an older one would fit. NULL for an unknown or archived session.';
