-- llm.schedule_cleanup's policy: scheduled cleanup archives by default; the job's command says so.
BEGIN;
\ir support/helpers.psql
SELECT plan(5);

SELECT is(llm.schedule_cleanup()->>'command', 'CALL llm.run_cleanup(''01:00:00''::interval, policy => ''archive'')',
  'by default the scheduled cleanup archives');
SELECT is((SELECT command FROM cron.job WHERE jobname = 'llm-sessions-cleanup'), 'CALL llm.run_cleanup(''01:00:00''::interval, policy => ''archive'')',
  'and that is the job''s command');
SELECT is(llm.schedule_cleanup('*/5 * * * *', interval '2 hours', 'delete')->>'command',
  'CALL llm.run_cleanup(''02:00:00''::interval, policy => ''delete'')', 'policy delete is passed on');
SELECT throws_ok($$SELECT llm.schedule_cleanup('*/5 * * * *', interval '2 hours', 'keep')$$, '22023',
  'policy must be ''archive'' or ''delete'', not ''keep''', 'an unknown policy');
SELECT throws_ok($$SELECT llm.schedule_cleanup('*/5 * * * *', interval '2 hours', NULL)$$, '22023',
  'policy must be ''archive'' or ''delete'', not NULL', 'a NULL policy');

SELECT * FROM finish();
ROLLBACK;
