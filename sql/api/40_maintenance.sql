-- Maintenance, for llm_admin: cleanup of idle sessions, its pg_cron schedule, statistics.

-- The seed's cleanup_stale(max_idle, batch_size) grew a policy: drop the old
-- signature so that there is one function, not an overload family (quietly: on
-- every later migrate there is nothing to drop).
DO $drop$
BEGIN
  IF to_regprocedure('llm.cleanup_stale(interval, integer)') IS NOT NULL THEN
    DROP FUNCTION llm.cleanup_stale(interval, integer);
  END IF;
END
$drop$;

-- Raises 22023 unless the cleanup policy is 'archive' or 'delete' (cleanup_stale
-- and the job schedule_cleanup writes must agree on what they accept).
CREATE OR REPLACE FUNCTION llm._require_policy(policy text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF policy IS NULL OR policy NOT IN ('archive', 'delete') THEN
    RAISE EXCEPTION 'policy must be ''archive'' or ''delete'', not %', COALESCE(quote_literal(policy), 'NULL')
      USING ERRCODE = '22023';
  END IF;
END;
$$;

-- The next batch of cleanup candidates: at most batch_size unpinned sessions idle
-- since before cutoff, oldest first, after the keyset (after_time, after_id) of the
-- previous batch. The keyset matters: the batches of one cleanup run in one
-- transaction, and its own deleted rows stay in the index until it ends, so
-- starting every batch from the oldest made a large cleanup quadratic (100,000
-- stale sessions: each batch stepped over every session already removed).
DROP FUNCTION IF EXISTS llm._stale_candidates(timestamptz, integer);
CREATE OR REPLACE FUNCTION llm._stale_candidates(
  cutoff timestamptz, batch_size integer, after_time timestamptz, after_id text,
  OUT session_ids text[], OUT last_time timestamptz, OUT last_id text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT COALESCE(array_agg(c.session_id ORDER BY c.last_query_at, c.session_id), '{}'),
         (array_agg(c.last_query_at ORDER BY c.last_query_at DESC, c.session_id DESC))[1],
         (array_agg(c.session_id ORDER BY c.last_query_at DESC, c.session_id DESC))[1]
  FROM (SELECT s.session_id, s.last_query_at FROM llm.sessions s
        WHERE s.last_query_at < cutoff AND NOT s.pinned
          AND (s.last_query_at, s.session_id) > (after_time, after_id)
        ORDER BY s.last_query_at, s.session_id
        LIMIT batch_size) c
$$;

-- Archives or deletes the unpinned sessions idle for longer than max_idle, batch by batch; returns how many.
CREATE OR REPLACE FUNCTION llm.cleanup_stale(
  max_idle   interval DEFAULT '1 hour',
  batch_size integer  DEFAULT 1000,
  policy     text     DEFAULT 'delete'
) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff          timestamptz;
  v_batch           integer;
  v_removed         integer := 0;
  v_expected_turns  bigint;
  v_moved_turns     bigint;
  v_candidates      text[];
  -- The keyset of the last candidate so far: each batch starts after it.
  v_after_time      timestamptz := '-infinity';
  v_after_id        text := '';
BEGIN
  v_cutoff := llm._cutoff('max_idle', cleanup_stale.max_idle);
  PERFORM llm._require_range('batch_size', cleanup_stale.batch_size, 1, 100000);
  PERFORM llm._require_policy(cleanup_stale.policy);
  -- Periodic housekeeping of the event listeners too: a dead one costs every write a NOTIFY.
  PERFORM llm._prune_event_listeners();

  -- No FOR UPDATE / SKIP LOCKED over many sessions (it does not distribute, see
  -- SCALE.md): pick a bounded batch of candidates, then delete them with the
  -- staleness condition repeated, so a session that an append (or pin_session)
  -- touched in between is re-checked under its row lock and left alone. Live
  -- sessions are never locked. The loop ends when a batch of candidates comes back
  -- short, not when fewer sessions were removed: a session rescued by an append
  -- must not end the cleanup while stale ones remain. Pinned sessions are expected to be few: the
  -- candidate scan steps over the stale pinned ones rather than index them.
  --
  -- One event per batch, not per session: {"event": "archive"|"end",
  -- "session_id": null, "count": n}, so a large backlog cannot flood listeners;
  -- one that follows particular sessions reads them again.
  IF cleanup_stale.policy = 'delete' THEN
    LOOP
      SELECT c.session_ids, c.last_time, c.last_id INTO v_candidates, v_after_time, v_after_id
      FROM llm._stale_candidates(v_cutoff, cleanup_stale.batch_size, v_after_time, v_after_id) c;
      EXIT WHEN cardinality(v_candidates) = 0;
      DELETE FROM llm.sessions s
      WHERE s.session_id = ANY (v_candidates)
        AND s.last_query_at < v_cutoff AND NOT s.pinned;
      GET DIAGNOSTICS v_batch = ROW_COUNT;
      IF v_batch > 0 THEN
        PERFORM llm._notify('end', NULL, NULL, NULL, v_batch);
      END IF;
      v_removed := v_removed + v_batch;
      EXIT WHEN cardinality(v_candidates) < cleanup_stale.batch_size;
    END LOOP;
    RETURN v_removed;
  END IF;

  -- Archive: each batch moves sessions and their turns in ONE statement (pgmq's
  -- WITH moved AS (DELETE ... RETURNING) INSERT ... SELECT FROM moved). It has to
  -- be one: deleting a session cascades to its turns, so the turns must be read in
  -- the same statement, and only the sessions' DELETE re-checks staleness under
  -- the row lock. The turns come from the statement's snapshot; an append that
  -- committed after it and still left the session stale (a transaction open for
  -- longer than max_idle) would be missed, so the counts are compared and the
  -- whole cleanup is refused rather than lose a turn.
  LOOP
    SELECT c.session_ids, c.last_time, c.last_id INTO v_candidates, v_after_time, v_after_id
    FROM llm._stale_candidates(v_cutoff, cleanup_stale.batch_size, v_after_time, v_after_id) c;
    EXIT WHEN cardinality(v_candidates) = 0;
    WITH moved_sessions AS (
      DELETE FROM llm.sessions s
      WHERE s.session_id = ANY (v_candidates)
        AND s.last_query_at < v_cutoff AND NOT s.pinned
      RETURNING s.*
    ), stored_sessions AS (
      INSERT INTO llm.archived_sessions AS a
        (session_id, agent_role, startup_context, metadata, turn_count, total_tokens,
         created_at, last_query_at, pinned, parent_session_id, parent_seq, archived_at)
      SELECT m.session_id, m.agent_role, m.startup_context, m.metadata, m.turn_count, m.total_tokens,
             m.created_at, m.last_query_at, m.pinned, m.parent_session_id, m.parent_seq, now()
      FROM moved_sessions m
      RETURNING a.turn_count
    ), moved_turns AS (
      DELETE FROM llm.turns t
      WHERE t.session_id IN (SELECT m.session_id FROM moved_sessions m)
      RETURNING t.*
    ), stored_turns AS (
      INSERT INTO llm.archived_turns AS a
        (session_id, seq, question, response, tokens, metadata, request_id, created_at)
      SELECT m.session_id, m.seq, m.question, m.response, m.tokens, m.metadata, m.request_id, m.created_at
      FROM moved_turns m
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored_sessions),
           (SELECT COALESCE(sum(a.turn_count), 0) FROM stored_sessions a),
           (SELECT count(*) FROM stored_turns)
    INTO v_batch, v_expected_turns, v_moved_turns;
    IF v_moved_turns <> v_expected_turns THEN
      RAISE EXCEPTION 'a session changed while it was being archived: % turns moved, their sessions count %',
          v_moved_turns, v_expected_turns
        USING ERRCODE = '40001', HINT = 'Nothing was archived; run the cleanup again.';
    END IF;
    IF v_batch > 0 THEN
      PERFORM llm._notify('archive', NULL, NULL, NULL, v_batch);
    END IF;
    v_removed := v_removed + v_batch;
    EXIT WHEN cardinality(v_candidates) < cleanup_stale.batch_size;
  END LOOP;
  RETURN v_removed;
END;
$$;
COMMENT ON FUNCTION llm.cleanup_stale(interval, integer, text) IS
'Removes the sessions whose last_query_at is older than max_idle, except pinned ones, in batches of batch_size (1..100000). policy ''delete'' (the default here, as in the seed) deletes them with their turns; ''archive'' (the default of schedule_cleanup) moves them with their turns into llm.archived_sessions/llm.archived_turns, whence restore_session brings one back. Returns how many sessions it removed. Sessions in use are never locked. Sends one event "end" or "archive" per batch, with "count" and a null session_id.';

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
                || '*/15 * * * * psql "$DATABASE_URL" -c "SELECT llm.cleanup_stale(policy => ''archive'')"';
  END IF;
END;
$$;

-- schedule_cleanup grew a policy too; one function, not an overload family.
DO $drop$
BEGIN
  IF to_regprocedure('llm.schedule_cleanup(text, interval)') IS NOT NULL THEN
    DROP FUNCTION llm.schedule_cleanup(text, interval);
  END IF;
END
$drop$;

-- Schedules the maintenance jobs: cleanup_stale as llm-sessions-cleanup, and the
-- search indexer (index_turns) as llm-sessions-index every minute. Replaces both if present.
CREATE OR REPLACE FUNCTION llm.schedule_cleanup(
  schedule text     DEFAULT '*/15 * * * *',
  max_idle interval DEFAULT '1 hour',
  policy   text     DEFAULT 'archive'
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_command      text;
  v_job_id       bigint;
  v_index_job_id bigint;
BEGIN
  PERFORM llm._require_pg_cron();
  PERFORM llm._require_id('schedule', schedule_cleanup.schedule, 100);
  -- The same check as the job's cleanup_stale will make, so that no job is scheduled to fail every run.
  PERFORM llm._cutoff('max_idle', schedule_cleanup.max_idle);
  PERFORM llm._require_policy(schedule_cleanup.policy);
  v_command := format('SELECT llm.cleanup_stale(%L::interval, policy => %L)', schedule_cleanup.max_idle, schedule_cleanup.policy);
  -- cron.schedule with a job name replaces the job of that name: running this twice is harmless.
  v_job_id := cron.schedule('llm-sessions-cleanup', schedule_cleanup.schedule, v_command);
  v_index_job_id := cron.schedule('llm-sessions-index', '* * * * *', 'SELECT llm.index_turns()');
  RETURN jsonb_build_object('job_id', v_job_id, 'job_name', 'llm-sessions-cleanup',
                            'schedule', schedule_cleanup.schedule, 'command', v_command,
                            'index_job', jsonb_build_object('job_id', v_index_job_id, 'job_name', 'llm-sessions-index',
                                                            'schedule', '* * * * *', 'command', 'SELECT llm.index_turns()'));
END;
$$;
COMMENT ON FUNCTION llm.schedule_cleanup(text, interval, text) IS
'Schedules llm.cleanup_stale(max_idle, policy => policy) as the pg_cron job llm-sessions-cleanup (default every 15 minutes, policy ''archive'': scheduled cleanup keeps what it removes until purge_archive), replacing an earlier schedule; also schedules the search indexer llm.index_turns() every minute as llm-sessions-index (returned under "index_job"). Without pg_cron: feature_not_supported (0A000) with directions.';

-- Removes the pg_cron jobs llm-sessions-cleanup and llm-sessions-index; returns whether the cleanup job was there.
CREATE OR REPLACE FUNCTION llm.unschedule_cleanup()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM llm._require_pg_cron();
  IF EXISTS (SELECT FROM cron.job j WHERE j.jobname = 'llm-sessions-index') THEN
    PERFORM cron.unschedule('llm-sessions-index');
  END IF;
  IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = 'llm-sessions-cleanup') THEN
    RETURN false;
  END IF;
  RETURN cron.unschedule('llm-sessions-cleanup');
END;
$$;
COMMENT ON FUNCTION llm.unschedule_cleanup() IS
'Removes the pg_cron jobs llm-sessions-cleanup and llm-sessions-index. Returns false when no cleanup job was scheduled. Without pg_cron: feature_not_supported (0A000).';

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
