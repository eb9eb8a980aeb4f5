-- Turns: the append path. One call, one transaction, a fixed number of index
-- operations whatever the length of the history. This is the hot path: every
-- statement here is paid on every turn of every agent.

-- Appends one question/response turn to a session, atomically.
CREATE OR REPLACE FUNCTION llm.append_turn(
  session_id          text,
  question            text,
  response            text,
  tokens              integer DEFAULT 0,
  metadata            jsonb   DEFAULT '{}',
  expected_turn_count integer DEFAULT NULL,
  request_id          text    DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_turn_count integer;
  v_turn       llm.turns;
  v_session    llm.sessions;
BEGIN
  -- Every argument checked in one expression, evaluated without a query; only
  -- when it fails do the _require_ helpers run, to raise the precise error.
  IF (NOT llm._is_blank(append_turn.session_id) AND length(append_turn.session_id) <= 200
      AND octet_length(append_turn.question) <= 16777216
      AND octet_length(append_turn.response) <= 16777216
      AND append_turn.tokens >= 0
      AND jsonb_typeof(append_turn.metadata) = 'object'
      AND (append_turn.metadata = '{}'::jsonb OR octet_length(append_turn.metadata::text) <= 1048576)
      AND COALESCE(append_turn.expected_turn_count >= 0, true)
      AND COALESCE(NOT llm._is_blank(append_turn.request_id) AND length(append_turn.request_id) <= 200, true)
     ) IS NOT TRUE THEN
    PERFORM llm._require_id('session_id', append_turn.session_id);
    PERFORM llm._require_text('question', append_turn.question);
    PERFORM llm._require_text('response', append_turn.response);
    PERFORM llm._require_range('tokens', append_turn.tokens, 0, 2147483647);
    PERFORM llm._require_metadata(append_turn.metadata);
    IF append_turn.expected_turn_count IS NOT NULL THEN
      PERFORM llm._require_range('expected_turn_count', append_turn.expected_turn_count, 0, 2147483647);
    END IF;
    IF append_turn.request_id IS NOT NULL THEN
      PERFORM llm._require_id('request_id', append_turn.request_id);
    END IF;
  END IF;

  -- A retried request returns the turn it stored the first time. Checked under
  -- the session's row lock, so two concurrent retries cannot both insert; and
  -- before the expected count, since a retry of a stored append carries a stale
  -- count. Whatever the retry carries, the stored turn wins.
  IF append_turn.request_id IS NOT NULL THEN
    SELECT s.turn_count INTO v_turn_count
    FROM llm.sessions s
    WHERE s.session_id = append_turn.session_id
    FOR UPDATE;
    IF FOUND THEN
      SELECT * INTO v_turn FROM llm.turns t
      WHERE t.session_id = append_turn.session_id AND t.request_id = append_turn.request_id;
      IF FOUND THEN
        SELECT * INTO v_session FROM llm.sessions s WHERE s.session_id = append_turn.session_id;
        RETURN llm._appended_json(v_turn, v_session, true);
      END IF;
    END IF;
  END IF;

  -- The UPDATE takes the session's row lock (and only that one), which serialises
  -- appends to one session: the next seq is read under it, so seq stays gapless and
  -- no turn is lost. The clock is read under the lock too, not now() (the start of
  -- the transaction): appends that queued for the lock get timestamps in seq order.
  UPDATE llm.sessions s
  SET turn_count = s.turn_count + 1,
      total_tokens = s.total_tokens + append_turn.tokens,
      last_query_at = clock_timestamp()
  WHERE s.session_id = append_turn.session_id
    AND (append_turn.expected_turn_count IS NULL OR s.turn_count = append_turn.expected_turn_count)
  RETURNING * INTO v_session;

  IF NOT FOUND THEN
    SELECT s.turn_count INTO v_turn_count FROM llm.sessions s WHERE s.session_id = append_turn.session_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'session % does not exist', quote_ident(append_turn.session_id)
        USING ERRCODE = 'P0002', HINT = 'Create it with llm.create_session first.';
    END IF;
    RAISE EXCEPTION 'turn count conflict on session %: expected %, actual %',
        quote_ident(append_turn.session_id), append_turn.expected_turn_count, v_turn_count
      USING ERRCODE = '40001',
            DETAIL = format('expected_turn_count=%s actual_turn_count=%s',
                            append_turn.expected_turn_count, v_turn_count),
            HINT = 'Another writer appended first: read the session again and retry.';
  END IF;

  INSERT INTO llm.turns AS t (session_id, seq, question, response, tokens, metadata, request_id, created_at)
  VALUES (append_turn.session_id, v_session.turn_count, append_turn.question, append_turn.response,
          append_turn.tokens, append_turn.metadata, append_turn.request_id, v_session.last_query_at)
  RETURNING * INTO v_turn;

  -- _notify checks the same thing; checking here first spares the hot path a
  -- function call while nobody listens, which is most of the time.
  IF EXISTS (SELECT FROM llm.event_listeners) THEN
    PERFORM llm._notify('append', v_session.session_id, v_session.agent_role, v_turn.seq);
  END IF;
  RETURN llm._appended_json(v_turn, v_session, false);
END;
$$;
COMMENT ON FUNCTION llm.append_turn(text, text, text, integer, jsonb, integer, text) IS
'Appends a turn atomically: next gapless seq, turn_count, total_tokens, last_query_at. Returns the stored turn with the session''s new counters. Unknown session: P0002. expected_turn_count differing from the current count: 40001. A request_id seen before returns the stored turn ("replayed": true) and adds nothing (whatever the retry carries: the stored turn wins). Sends the event "append" (not for a replay) while someone listens (llm.listen_events).';
