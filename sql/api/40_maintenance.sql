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

-- The candidates are read by _cleanup_batch itself: a LANGUAGE sql helper with a SET
-- clause is parsed and planned anew on every call (a quarter of a small batch's time).
DO $drop$
BEGIN
  IF to_regprocedure('llm._stale_candidates(timestamptz, integer, timestamptz, text)') IS NOT NULL THEN
    DROP FUNCTION llm._stale_candidates(timestamptz, integer, timestamptz, text);
  END IF;
END
$drop$;

-- One batch of cleanup, the unit that cleanup_stale repeats in one transaction
-- and run_cleanup commits one by one: removes (policy 'delete') or archives
-- (policy 'archive') at most batch_size unpinned sessions idle since before
-- started - max_idle, taking the candidates after the keyset (after_time,
-- after_id) and returning the keyset of its last candidate for the next batch.
-- candidates < batch_size means that there is nothing left to do.
--
-- No FOR UPDATE / SKIP LOCKED over many sessions (it does not distribute, see
-- SCALE.md): pick a bounded batch of candidates, then delete them with the
-- staleness condition repeated, so a session that an append (or pin_session)
-- touched in between is re-checked under its row lock and left alone. Live
-- sessions are never locked. The caller stops when a batch of candidates comes
-- back short, not when fewer sessions were removed: a session rescued by an
-- append must not end the cleanup while stale ones remain. Pinned sessions are
-- expected to be few: the candidate scan steps over the stale pinned ones.
--
-- enable_seqscan is off because every row a batch touches is reached by a key:
-- with a batch's ids known, the planner priced `session_id = ANY (ids)` for 1,000
-- ids as a sequential scan of the whole sessions table, in every batch (100,000
-- stale sessions among 100,000 live ones: 100 scans of the table, most of a
-- cleanup's time). Off, it uses the primary key whatever the table's statistics.
-- And its plans are generic, made once per connection: a custom plan per batch
-- cost a small batch more time than its work (batches of 1 session: 0.9 ms each,
-- most of it in the planner), and the paced cleanup runs many small batches.
--
-- One event per batch, not per session: {"event": "archive"|"end",
-- "session_id": null, "count": n}, so a large backlog cannot flood listeners;
-- one that follows particular sessions reads them again.
CREATE OR REPLACE FUNCTION llm._cleanup_batch(
  max_idle   interval,
  batch_size integer,
  policy     text,
  started    timestamptz,
  INOUT after_time timestamptz,
  INOUT after_id   text,
  OUT removed      integer,
  OUT candidates   integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_cutoff          timestamptz;
  v_expected_turns  bigint;
  v_moved_turns     bigint;
  v_candidates      text[];
BEGIN
  -- The checks every caller needs, repeated per batch because they are cheap and
  -- llm_admin may call this directly. The cutoff is fixed by the run's start (never
  -- later than now), so a long run does not chase sessions going stale meanwhile.
  PERFORM llm._cutoff('max_idle', _cleanup_batch.max_idle);
  PERFORM llm._require_range('batch_size', _cleanup_batch.batch_size, 1, 100000);
  PERFORM llm._require_policy(_cleanup_batch.policy);
  v_cutoff := LEAST(COALESCE(_cleanup_batch.started, now()), now()) - _cleanup_batch.max_idle;
  IF _cleanup_batch.after_time IS NULL OR _cleanup_batch.after_time = '-infinity' THEN
    -- First batch of a run: periodic housekeeping of the event listeners too (a
    -- dead one costs every write a NOTIFY).
    PERFORM llm._prune_event_listeners();
    _cleanup_batch.after_time := '-infinity';
    _cleanup_batch.after_id := '';
  END IF;

  -- The next candidates: at most batch_size unpinned sessions idle since before the
  -- cutoff, oldest first, after the keyset (after_time, after_id) of the previous
  -- batch. The keyset matters: cleanup_stale runs its batches in one transaction, and
  -- its own deleted rows stay in the index until it ends, so starting every batch
  -- from the oldest made a large cleanup quadratic (100,000 stale sessions: each
  -- batch stepped over every session already removed).
  SELECT COALESCE(array_agg(c.session_id ORDER BY c.last_query_at, c.session_id), '{}'),
         (array_agg(c.last_query_at ORDER BY c.last_query_at DESC, c.session_id DESC))[1],
         (array_agg(c.session_id ORDER BY c.last_query_at DESC, c.session_id DESC))[1]
  INTO v_candidates, _cleanup_batch.after_time, _cleanup_batch.after_id
  FROM (SELECT s.session_id, s.last_query_at FROM llm.sessions s
        WHERE s.last_query_at < v_cutoff AND NOT s.pinned
          AND (s.last_query_at, s.session_id) > (_cleanup_batch.after_time, COALESCE(_cleanup_batch.after_id, ''))
        ORDER BY s.last_query_at, s.session_id
        LIMIT _cleanup_batch.batch_size) c;
  candidates := cardinality(v_candidates);
  removed := 0;
  IF candidates = 0 THEN
    RETURN;
  END IF;
  PERFORM llm._lock_turn_maintenance();

  IF _cleanup_batch.policy = 'delete' THEN
    DELETE FROM llm.sessions s
    WHERE s.session_id = ANY (v_candidates)
      AND s.last_query_at < v_cutoff AND NOT s.pinned;
    GET DIAGNOSTICS removed = ROW_COUNT;
    IF removed > 0 THEN
      PERFORM llm._notify('end', NULL, NULL, NULL, removed);
    END IF;
    RETURN;
  END IF;

  -- Archive: the batch moves sessions and their turns in ONE statement (pgmq's
  -- WITH moved AS (DELETE ... RETURNING) INSERT ... SELECT FROM moved). It has to
  -- be one: deleting a session cascades to its turns, so the turns must be read in
  -- the same statement, and only the sessions' DELETE re-checks staleness under
  -- the row lock. The turns come from the statement's snapshot; an append that
  -- committed after it and still left the session stale (a transaction open for
  -- longer than max_idle) would be missed, so the counts are compared and the
  -- batch is refused rather than lose a turn.
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
  INTO removed, v_expected_turns, v_moved_turns;
  IF v_moved_turns <> v_expected_turns THEN
    RAISE EXCEPTION 'a session changed while it was being archived: % turns moved, their sessions count %',
        v_moved_turns, v_expected_turns
      USING ERRCODE = '40001', HINT = 'Nothing was archived; run the cleanup again.';
  END IF;
  IF removed > 0 THEN
    PERFORM llm._notify('archive', NULL, NULL, NULL, removed);
  END IF;
END;
$$;
COMMENT ON FUNCTION llm._cleanup_batch(interval, integer, text, timestamptz, timestamptz, text) IS
'Internal, for cleanup_stale and run_cleanup: one batch of cleanup after the keyset (after_time, after_id); returns the next keyset, how many sessions it removed and how many candidates it found (fewer than batch_size: done).';

-- Archives or deletes the unpinned sessions idle for longer than max_idle, batch by batch, in one transaction; returns how many.
CREATE OR REPLACE FUNCTION llm.cleanup_stale(
  max_idle   interval DEFAULT '1 hour',
  batch_size integer  DEFAULT 1000,
  policy     text     DEFAULT 'delete'
) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_removed integer := 0;
  v_batch   record;
  -- The keyset of the last candidate so far: each batch starts after it. It
  -- matters: the batches run in one transaction, and its own deleted rows stay in
  -- the index until it ends, so starting every batch from the oldest made a large
  -- cleanup quadratic (100,000 stale sessions: each batch stepped over every
  -- session already removed).
  v_after_time timestamptz := '-infinity';
  v_after_id   text := '';
BEGIN
  LOOP
    SELECT b.after_time, b.after_id, b.removed, b.candidates INTO v_batch
    FROM llm._cleanup_batch(cleanup_stale.max_idle, cleanup_stale.batch_size, cleanup_stale.policy,
                            now(), v_after_time, v_after_id) b;
    v_removed := v_removed + v_batch.removed;
    EXIT WHEN v_batch.candidates < cleanup_stale.batch_size;
    v_after_time := v_batch.after_time;
    v_after_id := v_batch.after_id;
  END LOOP;
  RETURN v_removed;
END;
$$;
COMMENT ON FUNCTION llm.cleanup_stale(interval, integer, text) IS
'Removes the sessions whose last_query_at is older than max_idle, except pinned ones, in batches of batch_size (1..100000), all in one transaction. policy ''delete'' (the default here, as in the seed) deletes them with their turns; ''archive'' (the default of schedule_cleanup) moves them with their turns into llm.archived_sessions/llm.archived_turns, whence restore_session brings one back. Returns how many sessions it removed. Sessions in use are never locked. Sends one event "end" or "archive" per batch, with "count" and a null session_id. Beside live traffic, CALL llm.run_cleanup instead: it commits every batch and paces itself.';

-- The pacing of run_cleanup. Raises 22023 unless busy_share is within 0.01..1 and
-- batch_size within 1..100000. Before the first batch (size NULL): next_size 1,
-- pause 0. After a batch of `size` sessions that began at batch_started (and has
-- committed): the size of the next batch, so that it works about 1 ms, and the pause
-- first, (1 / busy_share - 1) times as long as the batch took.
--
-- Why 1 ms, measured (2 clients appending flat out on 2 cores, their p99 0.7-0.8 ms
-- alone; 100,000 one-turn sessions archived at busy_share 0.5): what costs the
-- appends' p99 is how long each burst of the cleanup holds a core, more than how
-- much of the time it works. An append that wakes while both cores are taken waits
-- for the burst to end or for the scheduler's slice. A plain CPU burner working half
-- the time in bursts of 0.5 / 2 / 5 ms raised the appends' p99 1.6 / 2.1 / 3.9
-- times; fixed batches of 10 / 50 sessions, 1.7 / 3.2 times. Batches sized to work
-- 2 ms: p99 2.2-2.3 ms, 15-17 s in all; 1 ms: p99 1.6-1.7 ms, 47-59 s (smaller
-- batches pay the per-batch cost more often). A batch cannot be cut short (it is
-- one statement), so its size is what bounds it: sized by time, not by a count of
-- sessions, because a session's cost grows with its turns (50 sessions of 100 turns
-- would hold a core for over 100 ms). The size grows at most twofold per batch, from
-- 1, and shrinks at once: on a busy server, where batches take longer, they get
-- smaller.
CREATE OR REPLACE FUNCTION llm._cleanup_pace(
  busy_share    float8,
  batch_size    integer,
  size          integer,
  batch_started timestamptz,
  OUT next_size integer,
  OUT pause     float8)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER  -- for run_cleanup's caller: it calls llm._require_range
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c_batch_seconds CONSTANT float8 := 0.001;  -- see above
  v_took          float8;
BEGIN
  -- NOT (... AND ...) refuses NaN too: it sorts above 1.
  IF busy_share IS NULL OR NOT (busy_share >= 0.01 AND busy_share <= 1) THEN
    RAISE EXCEPTION 'busy_share must be between 0.01 and 1, not %', COALESCE(busy_share::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'It is the share of the time the cleanup works: 0.5 pauses as long as each batch took.';
  END IF;
  PERFORM llm._require_range('batch_size', _cleanup_pace.batch_size, 1, 100000);
  IF size IS NULL THEN
    next_size := 1;
    pause := 0;
    RETURN;
  END IF;
  v_took := GREATEST(date_part('epoch', clock_timestamp() - batch_started), 1e-6);
  next_size := LEAST(_cleanup_pace.batch_size, 2 * size,
                     GREATEST(1, floor(size * c_batch_seconds / v_took))::integer);
  pause := v_took * (1 / busy_share - 1);
END;
$$;
COMMENT ON FUNCTION llm._cleanup_pace(float8, integer, integer, timestamptz) IS
'Internal, for run_cleanup: validates busy_share (0.01..1) and batch_size; returns the size of the next batch (about 1 ms of work, at most batch_size) and the pause before it.';

-- The cleanup that runs beside live traffic (the pg_cron job calls it): the same
-- batches as cleanup_stale, but each committed on its own, sized to work about 1 ms
-- and followed by a pause, so that the cleanup works at most busy_share of the time
-- in bursts too short to keep live calls waiting (see _cleanup_pace).
--
-- Why commit every batch, measured (make bench: 100,000 stale sessions archived
-- while 2 clients append): in one transaction the appends' p99 went from 1.2 to
-- 13 ms and their p50 from 0.5 to 1.4 ms. The long transaction holds back the xmin
-- horizon, so every update of a live session leaves a dead version that no one can
-- prune and the next append steps over; committed batches end that.
--
-- A procedure, not a function: only a procedure can COMMIT. Hence also SECURITY
-- INVOKER and no SET clause (PostgreSQL forbids transaction control in either):
-- each batch is the SECURITY DEFINER llm._cleanup_batch, the arithmetic is in
-- llm._cleanup_pace (search_path pinned), and what little is left here names
-- pg_catalog's functions and operators, so the caller's search_path changes
-- nothing (it runs with its caller's rights only in any case).
-- CALL it outside an explicit transaction block (psql's autocommit, pg_cron).
-- Inside one, the first batch's COMMIT fails (2D000) and the batch rolls back with
-- the caller's transaction; bad arguments fail first, with 22023, either way.
CREATE OR REPLACE PROCEDURE llm.run_cleanup(
  max_idle   interval DEFAULT '1 hour',
  batch_size integer  DEFAULT 1000,
  policy     text     DEFAULT 'archive',
  busy_share float8   DEFAULT 0.5,
  INOUT removed integer DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
DECLARE
  v_started       timestamptz := pg_catalog.now();
  v_batch_started timestamptz;
  v_batch         record;
  v_size          integer;
  v_pause         float8;
  v_after_time    timestamptz := '-infinity';
  v_after_id      text := '';
BEGIN
  SELECT p.next_size INTO v_size FROM llm._cleanup_pace(busy_share, batch_size, NULL, NULL) p;
  removed := 0;
  LOOP
    v_batch_started := pg_catalog.clock_timestamp();
    SELECT b.after_time, b.after_id, b.removed, b.candidates INTO v_batch
    FROM llm._cleanup_batch(max_idle, v_size, policy, v_started, v_after_time, v_after_id) b;
    removed := removed OPERATOR(pg_catalog.+) v_batch.removed;
    COMMIT;
    EXIT WHEN v_batch.candidates OPERATOR(pg_catalog.<) v_size;
    v_after_time := v_batch.after_time;
    v_after_id := v_batch.after_id;
    SELECT p.next_size, p.pause INTO v_size, v_pause
    FROM llm._cleanup_pace(busy_share, batch_size, v_size, v_batch_started) p;
    -- The pause runs in a transaction of its own, whose snapshot holds back the xmin
    -- horizon for its few milliseconds (it reads nothing).
    PERFORM pg_catalog.pg_sleep(v_pause);
  END LOOP;
END;
$$;
COMMENT ON PROCEDURE llm.run_cleanup(interval, integer, text, float8, integer) IS
'For operators (llm_admin) and the pg_cron job: CALL llm.run_cleanup(max_idle, batch_size, policy, busy_share) removes what cleanup_stale would (policy ''archive'' by default here), committing every batch on its own: batches are sized to work about 1 ms each (from 1 session, at most batch_size, default 1000), and after each it pauses so that it works at most busy_share (0.01..1, default 0.5) of the time: made to run beside live traffic. Returns removed, the number of sessions removed. Must be called outside an explicit transaction block (psql in autocommit, pg_cron); an error in a batch leaves the batches before it done.';

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
                || '*/15 * * * * psql "$DATABASE_URL" -c "CALL llm.run_cleanup()"';
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
  -- run_cleanup, not cleanup_stale: the job runs beside live traffic (see run_cleanup).
  v_command := format('CALL llm.run_cleanup(%L::interval, policy => %L)', schedule_cleanup.max_idle, schedule_cleanup.policy);
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
'Schedules CALL llm.run_cleanup(max_idle, policy => policy) as the pg_cron job llm-sessions-cleanup (default every 15 minutes, policy ''archive'': scheduled cleanup keeps what it removes until purge_archive), replacing an earlier schedule; also schedules the search indexer llm.index_turns() every minute as llm-sessions-index (returned under "index_job"). Without pg_cron: feature_not_supported (0A000) with directions.';

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
