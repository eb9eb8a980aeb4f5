-- Maintenance, for llm_admin: cleanup of idle sessions, its pg_cron schedule, statistics.

-- Removes sessions idle for longer than max_idle, batch by batch; returns how many.
CREATE OR REPLACE FUNCTION llm.cleanup_stale(max_idle interval DEFAULT '1 hour', batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff  timestamptz;
  v_batch   integer;
  v_removed integer := 0;
BEGIN
  IF cleanup_stale.max_idle IS NULL OR cleanup_stale.max_idle <= interval '0' THEN
    RAISE EXCEPTION 'max_idle must be a positive interval, not %', COALESCE(cleanup_stale.max_idle::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  PERFORM llm._require_range('batch_size', cleanup_stale.batch_size, 1, 100000);
  v_cutoff := now() - cleanup_stale.max_idle;

  -- No FOR UPDATE / SKIP LOCKED over many sessions (it does not distribute, see
  -- SCALE.md): pick a bounded batch of candidates, then delete them with the
  -- staleness condition repeated, so a session that an append touched in between
  -- is re-checked under its row lock and left alone. Live sessions are never locked.
  LOOP
    DELETE FROM llm.sessions s
    WHERE s.session_id IN (
        SELECT c.session_id FROM llm.sessions c
        WHERE c.last_query_at < v_cutoff
        ORDER BY c.last_query_at
        LIMIT cleanup_stale.batch_size)
      AND s.last_query_at < v_cutoff;
    GET DIAGNOSTICS v_batch = ROW_COUNT;
    v_removed := v_removed + v_batch;
    EXIT WHEN v_batch < cleanup_stale.batch_size;
  END LOOP;
  RETURN v_removed;
END;
$$;
COMMENT ON FUNCTION llm.cleanup_stale(interval, integer) IS
'Deletes the sessions (and their turns) whose last_query_at is older than max_idle, in batches of batch_size (1..100000). Returns how many sessions it removed. Sessions in use are never locked.';

-- Raises feature_not_supported with directions when pg_cron is not in this database.
CREATE OR REPLACE FUNCTION llm._require_pg_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
      USING ERRCODE = '0A000',
            HINT = 'Install it (Debian: apt-get install postgresql-15-cron; in postgresql.conf: '
                || 'shared_preload_libraries = ''pg_cron'', cron.database_name = ''' || current_database()
                || '''; restart; CREATE EXTENSION pg_cron), or run cleanup from system cron instead: '
                || '*/15 * * * * psql "$DATABASE_URL" -c "SELECT llm.cleanup_stale()"';
  END IF;
END;
$$;

-- Schedules cleanup_stale as the pg_cron job llm-sessions-cleanup (replacing it if present).
CREATE OR REPLACE FUNCTION llm.schedule_cleanup(schedule text DEFAULT '*/15 * * * *', max_idle interval DEFAULT '1 hour')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_command text;
  v_job_id  bigint;
BEGIN
  PERFORM llm._require_pg_cron();
  PERFORM llm._require_id('schedule', schedule_cleanup.schedule, 100);
  IF schedule_cleanup.max_idle IS NULL OR schedule_cleanup.max_idle <= interval '0' THEN
    RAISE EXCEPTION 'max_idle must be a positive interval, not %', COALESCE(schedule_cleanup.max_idle::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  v_command := format('SELECT llm.cleanup_stale(%L::interval)', schedule_cleanup.max_idle);
  -- cron.schedule with a job name replaces the job of that name: running this twice is harmless.
  v_job_id := cron.schedule('llm-sessions-cleanup', schedule_cleanup.schedule, v_command);
  RETURN jsonb_build_object('job_id', v_job_id, 'job_name', 'llm-sessions-cleanup',
                            'schedule', schedule_cleanup.schedule, 'command', v_command);
END;
$$;
COMMENT ON FUNCTION llm.schedule_cleanup(text, interval) IS
'Schedules llm.cleanup_stale(max_idle) as the pg_cron job llm-sessions-cleanup (default every 15 minutes), replacing an earlier schedule. Without pg_cron: feature_not_supported (0A000) with directions.';

-- Removes the pg_cron job llm-sessions-cleanup; returns whether there was one.
CREATE OR REPLACE FUNCTION llm.unschedule_cleanup()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM llm._require_pg_cron();
  IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = 'llm-sessions-cleanup') THEN
    RETURN false;
  END IF;
  RETURN cron.unschedule('llm-sessions-cleanup');
END;
$$;
COMMENT ON FUNCTION llm.unschedule_cleanup() IS
'Removes the pg_cron job llm-sessions-cleanup. Returns false when none was scheduled. Without pg_cron: feature_not_supported (0A000).';

-- Sessions, turns and tokens per agent role.
CREATE OR REPLACE FUNCTION llm.stats()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'agent_role', r.agent_role, 'sessions', r.sessions, 'turns', r.turns, 'tokens', r.tokens)
         ORDER BY r.agent_role), '[]'::jsonb)
  FROM (SELECT s.agent_role, count(*) AS sessions, sum(s.turn_count) AS turns, sum(s.total_tokens) AS tokens
        FROM llm.sessions s GROUP BY s.agent_role) r
$$;
COMMENT ON FUNCTION llm.stats() IS
'Returns [{"agent_role", "sessions", "turns", "tokens"}, ...] over all live sessions, ordered by agent_role.';
