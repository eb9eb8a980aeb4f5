-- Undo and forks: take back the newest turn; start a new session from a prefix of one.

-- Removes the newest turn of a session and returns it with the session's new counters; NULL when it has none.
CREATE OR REPLACE FUNCTION llm.pop_turn(session_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_turn_count integer;
  v_turn       llm.turns;
  v_session    llm.sessions;
BEGIN
  PERFORM llm._require_id('session_id', pop_turn.session_id);

  -- The same session row lock as append_turn: pops and appends to one session
  -- run one after the other, so seq stays gapless and the counters exact.
  SELECT s.turn_count INTO v_turn_count
  FROM llm.sessions s
  WHERE s.session_id = pop_turn.session_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session % does not exist', quote_ident(pop_turn.session_id)
      USING ERRCODE = 'P0002';
  END IF;
  IF v_turn_count = 0 THEN
    RETURN NULL;
  END IF;

  DELETE FROM llm.turns t
  WHERE t.session_id = pop_turn.session_id AND t.seq = v_turn_count
  RETURNING * INTO v_turn;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session % counts % turns but has no turn %', quote_ident(pop_turn.session_id),
        v_turn_count, v_turn_count
      USING ERRCODE = 'XX001';
  END IF;

  -- Taking a turn back is activity: the session is in use, not idle.
  UPDATE llm.sessions s
  SET turn_count = s.turn_count - 1,
      total_tokens = s.total_tokens - v_turn.tokens,
      last_query_at = clock_timestamp()
  WHERE s.session_id = pop_turn.session_id
  RETURNING * INTO v_session;

  PERFORM llm._notify('pop', v_session.session_id, v_session.agent_role, v_turn.seq);
  RETURN llm._appended_json(v_turn, v_session, false);
END;
$$;
COMMENT ON FUNCTION llm.pop_turn(text) IS
'For clients (llm_app). Removes the newest turn of the session and returns it in append_turn''s shape, with the session''s counters after the removal ("replayed" is always false). Returns NULL when the session has no turns. Unknown session: P0002. Serialised with append_turn by the session row lock. A request_id of the removed turn may be used again. Sends the event "pop" with the removed seq.';

-- Starts a new session whose history is a copy of a session's first at_seq turns.
CREATE OR REPLACE FUNCTION llm.fork_session(session_id text, at_seq integer DEFAULT NULL, new_session_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_parent  llm.sessions;
  v_at_seq  integer;
  v_fork_id text;
  v_copied  integer;
  v_tokens  bigint;
  v_fork    llm.sessions;
BEGIN
  PERFORM llm._require_id('session_id', fork_session.session_id);
  IF fork_session.at_seq IS NOT NULL THEN
    PERFORM llm._require_range('at_seq', fork_session.at_seq, 0, 2147483647);
  END IF;
  IF fork_session.new_session_id IS NOT NULL THEN
    PERFORM llm._require_id('new_session_id', fork_session.new_session_id);
  END IF;

  -- FOR SHARE holds off appends and pops to the parent (they take FOR UPDATE)
  -- while its prefix is copied, and lets other forks of it run at once.
  SELECT * INTO v_parent FROM llm.sessions s WHERE s.session_id = fork_session.session_id FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session % does not exist', quote_ident(fork_session.session_id)
      USING ERRCODE = 'P0002';
  END IF;
  v_at_seq := COALESCE(fork_session.at_seq, v_parent.turn_count);
  IF v_at_seq > v_parent.turn_count THEN
    RAISE EXCEPTION 'at_seq % is beyond the % turns of session %', v_at_seq, v_parent.turn_count,
        quote_ident(fork_session.session_id)
      USING ERRCODE = '22023';
  END IF;

  -- create_session makes the row: one place generates ids, refuses taken ones
  -- (live or archived: 23505) and sends "create"; "fork" follows.
  v_fork_id := llm.create_session(v_parent.agent_role, v_parent.startup_context,
                                  fork_session.new_session_id, v_parent.metadata) ->> 'session_id';

  -- A copy, not a shared prefix: every session keeps owning all its turns, so
  -- the Citus rules hold (one session, one shard) and the parent can be popped,
  -- ended or archived without touching its forks. Turns keep their timestamps and
  -- request_ids (a retried append on the fork replays the copied turn).
  INSERT INTO llm.turns (session_id, seq, question, response, tokens, metadata, request_id, created_at)
  SELECT v_fork_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at
  FROM llm.turns t
  WHERE t.session_id = fork_session.session_id AND t.seq <= v_at_seq;
  GET DIAGNOSTICS v_copied = ROW_COUNT;
  SELECT COALESCE(sum(t.tokens), 0) INTO v_tokens FROM llm.turns t WHERE t.session_id = v_fork_id;

  UPDATE llm.sessions s
  SET turn_count = v_copied, total_tokens = v_tokens,
      parent_session_id = fork_session.session_id, parent_seq = v_at_seq
  WHERE s.session_id = v_fork_id
  RETURNING * INTO v_fork;
  IF v_copied <> v_at_seq THEN
    RAISE EXCEPTION 'session % counts % turns but only % were found', quote_ident(fork_session.session_id),
        v_at_seq, v_copied
      USING ERRCODE = 'XX001';
  END IF;

  PERFORM llm._notify('fork', v_fork.session_id, v_fork.agent_role);
  RETURN llm.get_session(v_fork_id);
END;
$$;
COMMENT ON FUNCTION llm.fork_session(text, integer, text) IS
'For clients (llm_app). Creates a new session (id new_session_id, or generated like create_session''s) with the parent''s agent_role, startup_context and metadata and a copy of its turns 1..at_seq (default: all), and returns it as get_session does, with parent_session_id and parent_seq set. Unknown parent: P0002. at_seq beyond the parent''s turns: 22023. new_session_id taken (live or archived): 23505. Sends the events "create" and "fork".';
