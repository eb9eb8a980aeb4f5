-- Usage analytics for operators (llm_admin only; see 90_privileges.sql). Views, so
-- that any SQL tool can filter and chart them. Both read every session: run them
-- for reports, not on a request path.

-- Per agent role: the live sessions, their turns and tokens, how many are idle or
-- active, and how many sessions of the role are archived.
CREATE OR REPLACE VIEW llm.role_usage AS
SELECT
  COALESCE(l.agent_role, a.agent_role)              AS agent_role,
  COALESCE(l.sessions, 0)                           AS sessions,
  COALESCE(l.turns, 0)                              AS turns,
  COALESCE(l.tokens, 0)                             AS tokens,
  COALESCE(round(l.turns::numeric / NULLIF(l.sessions, 0), 2), 0) AS avg_turns_per_session,
  COALESCE(l.idle_sessions, 0)                      AS idle_sessions,
  COALESCE(l.active_sessions, 0)                    AS active_sessions,
  COALESCE(l.pinned_sessions, 0)                    AS pinned_sessions,
  COALESCE(a.archived_sessions, 0)                  AS archived_sessions
FROM (
  SELECT s.agent_role,
         count(*)                                                       AS sessions,
         sum(s.turn_count)                                              AS turns,
         sum(s.total_tokens)                                            AS tokens,
         count(*) FILTER (WHERE s.last_query_at <  now() - interval '1 hour') AS idle_sessions,
         count(*) FILTER (WHERE s.last_query_at >= now() - interval '1 hour') AS active_sessions,
         count(*) FILTER (WHERE s.pinned)                               AS pinned_sessions
  FROM llm.sessions s
  GROUP BY s.agent_role
) l
FULL JOIN (
  SELECT a.agent_role, count(*) AS archived_sessions
  FROM llm.archived_sessions a
  GROUP BY a.agent_role
) a ON a.agent_role = l.agent_role;
COMMENT ON VIEW llm.role_usage IS
'Per agent role: live sessions, their turns and tokens, average turns per live session, idle (no activity for an hour or more) and active live sessions, pinned live sessions, and archived sessions. Roles with only archived sessions appear with zeros.';

-- Per UTC day of creation and agent role: the sessions that still exist (live or
-- archived: archiving does not rewrite history), their turns and tokens.
CREATE OR REPLACE VIEW llm.daily_usage AS
SELECT
  (u.created_at AT TIME ZONE 'UTC')::date AS day,
  u.agent_role,
  count(*)                                AS sessions,
  sum(u.turn_count)                       AS turns,
  sum(u.total_tokens)                     AS tokens
FROM (
  SELECT s.created_at, s.agent_role, s.turn_count, s.total_tokens FROM llm.sessions s
  UNION ALL
  SELECT a.created_at, a.agent_role, a.turn_count, a.total_tokens FROM llm.archived_sessions a
) u
GROUP BY 1, 2;
COMMENT ON VIEW llm.daily_usage IS
'Per day of created_at (UTC) and agent role: sessions created that day that still exist, live or archived, with their turns and tokens. Ended and purged sessions are gone from it.';

REVOKE ALL ON llm.role_usage, llm.daily_usage FROM PUBLIC;
