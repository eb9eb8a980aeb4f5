-- Context windows: the newest turns that fit a token budget, as chat messages.

-- The newest turns whose tokens fit max_tokens, oldest first, as OpenAI chat messages; NULL for an unknown session.
CREATE OR REPLACE FUNCTION llm.get_context(session_id text, max_tokens integer, system_prompt boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session  llm.sessions;
  v_seq      integer;
  v_tokens   integer;
  v_included bigint := 0;
  v_first    integer;
  v_hi       integer;
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
  -- Walk back from the newest turn until one does not fit. The walk reads one
  -- bounded range of seqs at a time (seq is gapless, so a range is exactly that
  -- many turns): whatever plan the statistics lead to, at most one range more than
  -- the window is read, never the whole history.
  v_first := v_session.turn_count + 1;
  v_hi := v_session.turn_count;
  <<walk>>
  WHILE v_hi >= 1 LOOP
    FOR v_seq, v_tokens IN
      SELECT t.seq, t.tokens FROM llm.turns t
      WHERE t.session_id = get_context.session_id
        AND t.seq BETWEEN greatest(v_hi - 63, 1) AND v_hi
      ORDER BY t.seq DESC
    LOOP
      EXIT walk WHEN v_included + v_tokens > get_context.max_tokens;
      v_included := v_included + v_tokens;
      v_first := v_seq;
    END LOOP;
    v_hi := v_hi - 64;
  END LOOP;

  -- Then the texts of exactly the turns that fit, oldest first, user before assistant.
  SELECT COALESCE(jsonb_agg(m.message ORDER BY t.seq, m.k), '[]'::jsonb) INTO v_messages
  FROM llm.turns t
  CROSS JOIN LATERAL (VALUES (1, jsonb_build_object('role', 'user', 'content', t.question)),
                             (2, jsonb_build_object('role', 'assistant', 'content', t.response))) AS m(k, message)
  WHERE t.session_id = get_context.session_id AND t.seq >= v_first;
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
