-- Turns: the append path. One call, one transaction, a fixed number of index
-- operations whatever the length of the history.

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
  v_now        timestamptz;
  v_turn       llm.turns;
  v_session    llm.sessions;
BEGIN
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

  -- The session row lock serialises appends to one session (and only to that
  -- one): the next seq is read under it, so seq stays gapless and no turn is lost.
  SELECT s.turn_count INTO v_turn_count
  FROM llm.sessions s
  WHERE s.session_id = append_turn.session_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session % does not exist', quote_ident(append_turn.session_id)
      USING ERRCODE = 'P0002', HINT = 'Create it with llm.create_session first.';
  END IF;

  -- A retried request returns the turn it stored the first time. Checked under
  -- the lock, so two concurrent retries cannot both insert; and before the
  -- expected count, since a retry of a stored append carries a stale count.
  IF append_turn.request_id IS NOT NULL THEN
    SELECT * INTO v_turn FROM llm.turns t
    WHERE t.session_id = append_turn.session_id AND t.request_id = append_turn.request_id;
    IF FOUND THEN
      SELECT * INTO v_session FROM llm.sessions s WHERE s.session_id = append_turn.session_id;
      RETURN llm._turn_json(v_turn) || jsonb_build_object(
        'session_id', v_session.session_id, 'turn_count', v_session.turn_count,
        'total_tokens', v_session.total_tokens, 'replayed', true);
    END IF;
  END IF;

  IF append_turn.expected_turn_count IS NOT NULL
     AND append_turn.expected_turn_count <> v_turn_count THEN
    RAISE EXCEPTION 'turn count conflict on session %: expected %, actual %',
        quote_ident(append_turn.session_id), append_turn.expected_turn_count, v_turn_count
      USING ERRCODE = '40001',
            DETAIL = format('expected_turn_count=%s actual_turn_count=%s',
                            append_turn.expected_turn_count, v_turn_count),
            HINT = 'Another writer appended first: read the session again and retry.';
  END IF;

  -- Read the clock under the lock, not now() (the transaction's start): appends
  -- that queued for the lock then get timestamps in seq order.
  v_now := clock_timestamp();
  UPDATE llm.sessions s
  SET turn_count = s.turn_count + 1,
      total_tokens = s.total_tokens + append_turn.tokens,
      last_query_at = v_now
  WHERE s.session_id = append_turn.session_id
  RETURNING * INTO v_session;

  INSERT INTO llm.turns AS t (session_id, seq, question, response, tokens, metadata, request_id, created_at)
  VALUES (append_turn.session_id, v_session.turn_count, append_turn.question, append_turn.response,
          append_turn.tokens, append_turn.metadata, append_turn.request_id, v_now)
  RETURNING * INTO v_turn;

  PERFORM llm._notify('append', v_session.session_id, v_session.agent_role, v_turn.seq);
  RETURN llm._turn_json(v_turn) || jsonb_build_object(
    'session_id', v_session.session_id, 'turn_count', v_session.turn_count,
    'total_tokens', v_session.total_tokens, 'replayed', false);
END;
$$;
COMMENT ON FUNCTION llm.append_turn(text, text, text, integer, jsonb, integer, text) IS
'Appends a turn atomically: next gapless seq, turn_count, total_tokens, last_query_at. Returns the stored turn with the session''s new counters. Unknown session: P0002. expected_turn_count differing from the current count: 40001. A request_id seen before returns the stored turn ("replayed": true) and adds nothing (whatever the retry carries: the stored turn wins). Sends the event "append" (not for a replay).';
