-- llm.schedule_cleanup and llm.unschedule_cleanup with pg_cron: one job named llm-sessions-cleanup.
-- (pg_cron can only be installed in the database named by cron.database_name: elsewhere this file is skipped.)
BEGIN;
\ir support/helpers.psql
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') AS no_pg_cron \gset
\if :no_pg_cron
SELECT plan(1);
SELECT skip('pg_cron is not installed in this database', 1);
\else
SELECT plan(36);

SELECT has_extension('pg_cron', 'pg_cron is installed in this database');
-- Start from no job, whatever the database had (the ROLLBACK restores it).
SELECT llm.unschedule_cleanup() IS NOT NULL AS cleared \gset

CREATE TEMP TABLE scheduled AS SELECT llm.schedule_cleanup('*/5 * * * *', interval '2 hours') AS j;
SELECT is(pg_temp.keys_of(j), ARRAY['command', 'index_job', 'job_id', 'job_name', 'schedule'], 'the result has the keys of the contract') FROM scheduled;
SELECT is((SELECT jsonb_build_object('schedule', schedule, 'command', command) FROM cron.job WHERE jobname = 'llm-sessions-index'),
  '{"schedule": "* * * * *", "command": "SELECT llm.index_turns()"}'::jsonb,
  'the search indexer is scheduled beside it, every minute') FROM scheduled;
SELECT is(j->>'job_name', 'llm-sessions-cleanup', 'the job is named llm-sessions-cleanup') FROM scheduled;
SELECT is(j->>'schedule', '*/5 * * * *', 'with the schedule given') FROM scheduled;
SELECT is(j->>'command', 'CALL llm.run_cleanup(''02:00:00''::interval, policy => ''archive'')', 'and a command that cleans up with the max_idle given') FROM scheduled;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 1::bigint, 'cron.job has one such job');
SELECT is(
  (SELECT jsonb_build_object('jobid', jobid, 'schedule', schedule, 'command', command, 'database', database, 'active', active)
   FROM cron.job WHERE jobname = 'llm-sessions-cleanup'),
  jsonb_build_object('jobid', (j->>'job_id')::bigint, 'schedule', '*/5 * * * *',
    'command', 'CALL llm.run_cleanup(''02:00:00''::interval, policy => ''archive'')', 'database', current_database(), 'active', true),
  'the job row: the id returned, schedule, command, this database, active') FROM scheduled;
-- The command is a CALL of run_cleanup, which commits after every batch: inside this test's
-- transaction it can only get as far as its first COMMIT, and that it does: the procedure
-- exists, takes these arguments and accepts them. (Tests/concurrency/run_cleanup.sh has
-- pg_cron run it for real.)
SELECT throws_ok((SELECT j->>'command' FROM scheduled), '2D000', 'invalid transaction termination',
  'the job''s command calls run_cleanup with arguments it accepts (it stops at its COMMIT only inside a transaction block)');

-- Scheduling again replaces the job: still one.
CREATE TEMP TABLE rescheduled AS SELECT llm.schedule_cleanup() AS j;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 1::bigint, 'scheduling twice leaves one job');
SELECT is((SELECT schedule FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), '*/15 * * * *',
  'with the new schedule: every 15 minutes by default');
SELECT is((SELECT command FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 'CALL llm.run_cleanup(''01:00:00''::interval, policy => ''archive'')',
  'and the new command: max_idle one hour by default');
SELECT is(j->>'job_id', (SELECT jobid::text FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 'the result names the job that exists')
FROM rescheduled;
SELECT is(llm.schedule_cleanup('0 3 * * *', interval '1 day 30 minutes')->>'command', 'CALL llm.run_cleanup(''1 day 00:30:00''::interval, policy => ''archive'')',
  'a max_idle with days is written as an interval literal');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 1::bigint, 'still one job');

-- Refused schedules leave the existing job as it was.
SELECT md5(j::text) AS job_row FROM cron.job j WHERE jobname = 'llm-sessions-cleanup' \gset
SELECT throws_ok($$SELECT llm.schedule_cleanup('not a cron')$$, '22023', 'invalid schedule: not a cron', 'an invalid cron expression');
SELECT throws_ok($$SELECT llm.schedule_cleanup('61 * * * *')$$, '22023', 'invalid schedule: 61 * * * *', 'a minute out of range');
SELECT throws_ok($$SELECT llm.schedule_cleanup(NULL)$$, '22023', 'schedule must not be NULL', 'a NULL schedule');
SELECT throws_ok($$SELECT llm.schedule_cleanup('  ')$$, '22023', 'schedule must not be blank', 'a blank schedule');
SELECT throws_ok($$SELECT llm.schedule_cleanup('*/5 * * * *', interval '0')$$, '22023',
  'max_idle must be a positive interval, not 00:00:00', 'max_idle zero');
SELECT throws_ok($$SELECT llm.schedule_cleanup('*/5 * * * *', NULL)$$, '22023',
  'max_idle must be a positive interval, not NULL', 'a NULL max_idle');
SELECT is((SELECT md5(j::text) FROM cron.job j WHERE jobname = 'llm-sessions-cleanup'), :'job_row',
  'after the refusals the job is unchanged');

-- Unscheduling: true once, then false.
SELECT is(llm.unschedule_cleanup(), true, 'unschedule_cleanup removes the job: true');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname IN ('llm-sessions-cleanup', 'llm-sessions-index')), 0::bigint,
  'no job is left: neither cleanup nor the indexer');
SELECT is(llm.unschedule_cleanup(), false, 'a second unschedule_cleanup returns false');

-- An invalid expression when there is no job leaves no job.
SELECT throws_ok($$SELECT llm.schedule_cleanup('every day')$$, '22023', 'invalid schedule: every day', 'an invalid cron expression, no job before');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 0::bigint, 'leaves no job');

-- Other jobs are not ours to touch.
SELECT lives_ok($$SELECT cron.schedule('tap-other-job', '0 0 * * *', 'SELECT 1')$$, 'someone else''s job');
SELECT lives_ok($$SELECT llm.schedule_cleanup(), llm.unschedule_cleanup()$$, 'scheduling and unscheduling ours');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'tap-other-job'), 1::bigint, 'leaves the other job in place');
SELECT is(llm.unschedule_cleanup(), false, 'and unschedule_cleanup does not count it as ours');

-- Privileges: llm_admin schedules through the function, which runs as its owner; llm_app cannot.
SET LOCAL ROLE llm_admin;
SELECT lives_ok($$SELECT llm.schedule_cleanup('*/30 * * * *')$$, 'llm_admin schedules the cleanup');
RESET ROLE;
SELECT is((SELECT username::text FROM cron.job WHERE jobname = 'llm-sessions-cleanup'),
  (SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'run_cleanup' AND pronamespace = 'llm'::regnamespace),
  'the job runs as the owner of the functions (a role that can log in), not as llm_admin');
SELECT ok((SELECT has_function_privilege(username, 'llm.run_cleanup(interval, integer, text, float8, integer)', 'EXECUTE')
           FROM cron.job WHERE jobname = 'llm-sessions-cleanup'),
  'and that role may execute run_cleanup, which runs with its caller''s rights');
SET LOCAL ROLE llm_app;
SELECT throws_ok($$SELECT llm.unschedule_cleanup()$$, '42501', 'permission denied for function unschedule_cleanup',
  'llm_app cannot unschedule it');
SELECT throws_ok($$SELECT cron.schedule('tap-app-job', '* * * * *', 'DELETE FROM llm.turns')$$, '42501', NULL,
  'nor schedule a pg_cron job of its own');
RESET ROLE;
\endif

SELECT * FROM finish();
ROLLBACK;
