-- The archive: what scheduled cleanup keeps (cleanup_stale with policy 'archive'),
-- restoring and purging it, and pinning a session so that no cleanup touches it.
-- An archived session is invisible to the live API: get_session returns NULL,
-- append_turn raises P0002, list_sessions and search_turns skip it. Its id stays
-- taken: create_session, fork_session and import_session refuse it (23505).

-- Moves one archived session with its turns back into the live tables, exactly as it was.
CREATE OR REPLACE FUNCTION llm.restore_session(session_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session        llm.sessions;
  v_restored       bigint;
  v_restored_turns bigint;
BEGIN
  PERFORM llm._require_id('session_id', restore_session.session_id);
  IF EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = restore_session.session_id) THEN
    RAISE EXCEPTION 'session % is live already', quote_ident(restore_session.session_id)
      USING ERRCODE = '23505', CONSTRAINT = 'sessions_pkey',
            HINT = CASE WHEN EXISTS (SELECT FROM llm.archived_sessions a
                                     WHERE a.session_id = restore_session.session_id)
                   THEN 'It is in the archive as well, which should never happen: report it.'
                   ELSE 'Only archived sessions can be restored.' END;
  END IF;

  -- One statement, like the archiving: deleting the archived session cascades to
  -- its archived turns, so they are moved in the same statement. Should a live
  -- session of that id appear meanwhile, sessions_pkey refuses the insert (23505)
  -- and the statement, deletes included, is undone.
  WITH moved_session AS (
    DELETE FROM llm.archived_sessions a WHERE a.session_id = restore_session.session_id
    RETURNING a.*
  ), stored_session AS (
    INSERT INTO llm.sessions AS s
      (session_id, agent_role, startup_context, metadata, turn_count, total_tokens,
       created_at, last_query_at, pinned, parent_session_id, parent_seq)
    SELECT m.session_id, m.agent_role, m.startup_context, m.metadata, m.turn_count, m.total_tokens,
           m.created_at, m.last_query_at, m.pinned, m.parent_session_id, m.parent_seq
    FROM moved_session m
    RETURNING 1
  ), moved_turns AS (
    DELETE FROM llm.archived_turns a
    WHERE a.session_id = restore_session.session_id AND EXISTS (SELECT FROM moved_session)
    RETURNING a.*
  ), stored_turns AS (
    INSERT INTO llm.turns AS t (session_id, seq, question, response, tokens, metadata, request_id, created_at)
    SELECT m.session_id, m.seq, m.question, m.response, m.tokens, m.metadata, m.request_id, m.created_at
    FROM moved_turns m
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM stored_session), (SELECT count(*) FROM stored_turns)
  INTO v_restored, v_restored_turns;
  IF v_restored = 0 THEN
    RAISE EXCEPTION 'session % is not in the archive', quote_ident(restore_session.session_id)
      USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO v_session FROM llm.sessions s WHERE s.session_id = restore_session.session_id;
  IF v_restored_turns <> v_session.turn_count THEN
    RAISE EXCEPTION 'archived session % has % turns but counts %', quote_ident(restore_session.session_id),
        v_restored_turns, v_session.turn_count
      USING ERRCODE = 'XX001', HINT = 'Nothing was restored.';
  END IF;
  PERFORM llm._notify('restore', v_session.session_id, v_session.agent_role);
  RETURN llm._summary_json(v_session);
END;
$$;
COMMENT ON FUNCTION llm.restore_session(text) IS
'For operators (llm_admin). Moves an archived session and its turns back into the live tables exactly as they were (counters, timestamps, request_ids, pinned, parent) and returns its summary (list_sessions'' shape). Not archived: P0002. Live already: unique_violation (23505). Sends the event "restore".';

-- Deletes for good the sessions archived longer ago than older_than, batch by batch; returns how many.
CREATE OR REPLACE FUNCTION llm.purge_archive(older_than interval, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff timestamptz;
  v_batch  integer;
  v_purged integer := 0;
BEGIN
  v_cutoff := llm._cutoff('older_than', purge_archive.older_than, allow_zero => true);
  PERFORM llm._require_range('batch_size', purge_archive.batch_size, 1, 100000);

  -- As in cleanup_stale: a bounded batch of candidates, the condition repeated,
  -- no row locks over many sessions. The turns go by cascade.
  LOOP
    DELETE FROM llm.archived_sessions a
    WHERE a.session_id IN (
        SELECT c.session_id FROM llm.archived_sessions c
        WHERE c.archived_at <= v_cutoff
        ORDER BY c.archived_at
        LIMIT purge_archive.batch_size)
      AND a.archived_at <= v_cutoff;
    GET DIAGNOSTICS v_batch = ROW_COUNT;
    v_purged := v_purged + v_batch;
    EXIT WHEN v_batch < purge_archive.batch_size;
  END LOOP;
  RETURN v_purged;
END;
$$;
COMMENT ON FUNCTION llm.purge_archive(interval, integer) IS
'For operators (llm_admin). Deletes for good the archived sessions (with their turns) archived at least older_than ago (interval ''0'': the whole archive), in batches of batch_size (1..100000). Returns how many. older_than NULL or negative: 22023.';

-- Pins a session so that no cleanup archives or deletes it (or unpins it); returns its summary.
CREATE OR REPLACE FUNCTION llm.pin_session(session_id text, pinned boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session llm.sessions;
BEGIN
  PERFORM llm._require_id('session_id', pin_session.session_id);
  IF pin_session.pinned IS NULL THEN
    RAISE EXCEPTION 'pinned must not be NULL' USING ERRCODE = '22023';
  END IF;
  -- Takes the session row lock: a cleanup deciding about this session waits and
  -- re-checks "NOT pinned". last_query_at is left alone: pinning is not activity.
  UPDATE llm.sessions s SET pinned = pin_session.pinned
  WHERE s.session_id = pin_session.session_id
  RETURNING * INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session % does not exist', quote_ident(pin_session.session_id)
      USING ERRCODE = 'P0002';
  END IF;
  RETURN llm._summary_json(v_session);
END;
$$;
COMMENT ON FUNCTION llm.pin_session(text, boolean) IS
'For clients (llm_app): pins (pinned true, the default) or unpins a live session. A pinned session is never archived or deleted by cleanup_stale; end_session still ends it. Returns the session summary (list_sessions'' shape). Unknown or archived session: P0002.';
