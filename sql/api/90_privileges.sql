-- Who may call what. Applied last, on every migrate, so a new function is
-- covered as soon as it is listed here. PostgreSQL grants EXECUTE to PUBLIC on
-- every new function, and ALTER DEFAULT PRIVILEGES IN SCHEMA cannot take that
-- away: so every function of the schema is revoked from PUBLIC explicitly.
DO $grants$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'llm'::regnamespace LOOP
    -- ON ROUTINE: functions and procedures alike.
    EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
  END LOOP;
END
$grants$;

-- Clients: the session API.
GRANT EXECUTE ON FUNCTION
  llm.create_session(text, text, text, jsonb),
  llm.append_turn(text, text, text, integer, jsonb, integer, text),
  llm.get_session(text, integer),
  llm.end_session(text),
  llm.list_sessions(text, integer, timestamptz, text),
  llm.listen_events(),
  llm.unlisten_events(),
  llm.pin_session(text, boolean),
  llm.get_context(text, integer, boolean),
  llm.pop_turn(text),
  llm.fork_session(text, integer, text),
  llm.export_session(text),
  llm.search_turns(text, text, integer)
TO llm_app;

-- Operators: the client API (llm_admin is a member of llm_app) and maintenance.
GRANT EXECUTE ON FUNCTION
  llm.cleanup_stale(interval, integer, text),
  llm.schedule_cleanup(text, interval, text),
  llm.unschedule_cleanup(),
  llm.stats(),
  llm.restore_session(text),
  llm.purge_archive(interval, integer),
  llm.import_session(jsonb, text),
  llm.index_turns(integer),
  -- run_cleanup runs with its caller's rights (a procedure that commits cannot be
  -- SECURITY DEFINER): it needs its batch function and its pacing.
  llm._cleanup_batch(interval, integer, text, timestamptz, timestamptz, text),
  llm._cleanup_pace(float8, integer, integer, timestamptz)
TO llm_admin;
GRANT EXECUTE ON PROCEDURE llm.run_cleanup(interval, integer, text, float8, integer) TO llm_admin;
-- Views and tables, the usage views included, are for operators only: a view
-- runs with its owner's rights, so granting it to llm_app would expose every session.
GRANT SELECT ON ALL TABLES IN SCHEMA llm TO llm_admin;
