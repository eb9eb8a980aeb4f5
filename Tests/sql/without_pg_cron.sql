-- Without pg_cron, schedule_cleanup and unschedule_cleanup refuse with 0A000 and say what to do instead.
BEGIN;
\ir support/helpers.psql
SELECT plan(12);

-- Dropped inside this transaction only (if it is there): the ROLLBACK at the end brings it back.
DROP EXTENSION IF EXISTS pg_cron;
SELECT hasnt_extension('pg_cron', 'pg_cron is gone for this test');

SELECT throws_ok($$SELECT llm.schedule_cleanup()$$, '0A000', 'pg_cron is not installed in database ' || current_database(),
  'schedule_cleanup without pg_cron');
SELECT throws_ok($$SELECT llm.unschedule_cleanup()$$, '0A000', 'pg_cron is not installed in database ' || current_database(),
  'unschedule_cleanup without pg_cron');
SELECT throws_ok($$SELECT llm.schedule_cleanup('not a cron', interval '-1 hour')$$, '0A000', NULL,
  'the missing extension is reported before the arguments');

CREATE TEMP TABLE err AS SELECT pg_temp.error_of($$SELECT llm.schedule_cleanup('*/5 * * * *')$$) AS e;
SELECT matches(e->>'hint', 'system cron', 'the hint offers system cron instead') FROM err;
SELECT matches(e->>'hint', 'psql "\$DATABASE_URL" -c "CALL llm\.run_cleanup\(\)"', 'with the statement to run: the paced cleanup, in autocommit') FROM err;
SELECT matches(e->>'hint', '\*/15 \* \* \* \*', 'and a crontab schedule') FROM err;
SELECT matches(e->>'hint', 'shared_preload_libraries = ''pg_cron''', 'the hint says how to install pg_cron') FROM err;
SELECT matches(e->>'hint', 'cron\.database_name = ''' || current_database() || '''', 'for this database') FROM err;
SELECT is(pg_temp.error_of($$SELECT llm.unschedule_cleanup()$$)->>'hint', e->>'hint', 'unschedule_cleanup gives the same hint') FROM err;

-- Cleanup itself does not need pg_cron.
SELECT lives_ok($$SELECT llm.cleanup_stale(interval '100 years')$$, 'cleanup_stale works without pg_cron');
SELECT lives_ok($$SELECT llm.stats()$$, 'so does stats');

SELECT * FROM finish();
ROLLBACK;
