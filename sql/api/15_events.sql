-- Live events: listening on channel llm_sessions. Appends and the other writes
-- notify only while some connection listens through listen_events().

-- Forgets listeners whose backend has ended (or whose pid was reused by another backend).
CREATE OR REPLACE FUNCTION llm._prune_event_listeners()
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  DELETE FROM llm.event_listeners l
  WHERE NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = l.pid AND a.backend_start = l.backend_start)
$$;

-- LISTENs on llm_sessions in the calling connection and registers it, so that writes send events.
CREATE OR REPLACE FUNCTION llm.listen_events()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_listeners bigint;
BEGIN
  LISTEN llm_sessions;
  PERFORM llm._prune_event_listeners();
  INSERT INTO llm.event_listeners AS l (pid, backend_start)
  SELECT a.pid, a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()
  ON CONFLICT ON CONSTRAINT event_listeners_pkey
    DO UPDATE SET backend_start = excluded.backend_start, listening_since = now();
  SELECT count(*) INTO v_listeners FROM llm.event_listeners;
  RETURN jsonb_build_object('channel', 'llm_sessions', 'listeners', v_listeners);
END;
$$;
COMMENT ON FUNCTION llm.listen_events() IS
'For clients (llm_app). Runs LISTEN llm_sessions in the calling connection and registers it: from the commit on, every create, append, pop, end, fork, import, archive and restore sends a NOTIFY with {"event", "session_id", "agent_role", "seq"} (plus "count" for cleanup batches). While no connection is registered nothing notifies, because a NOTIFY serialises the commits of the whole database. A plain LISTEN without this call receives nothing unless another connection is registered. Returns {"channel", "listeners"}.';

-- Stops listening in the calling connection and unregisters it.
CREATE OR REPLACE FUNCTION llm.unlisten_events()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UNLISTEN llm_sessions;
  DELETE FROM llm.event_listeners l WHERE l.pid = pg_backend_pid();
  RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION llm.unlisten_events() IS
'For clients (llm_app). UNLISTEN llm_sessions in the calling connection and unregisters it; returns whether it was registered. A connection that closes is unregistered by the next listen_events() or cleanup_stale().';
