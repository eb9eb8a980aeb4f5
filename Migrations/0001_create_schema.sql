-- 0001: sessions and their turns, the two roles, and nothing granted to PUBLIC.
--
-- Scale-out: both tables are keyed by session_id first, so that on Citus they can
-- be distributed by session_id and colocated (see shared/SCALE.md): every unique
-- key and the foreign key include session_id.

DO $roles$
BEGIN
  -- Roles are cluster-wide: another database of the same cluster may have made them.
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'llm_app') THEN
    CREATE ROLE llm_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'llm_admin') THEN
    CREATE ROLE llm_admin NOLOGIN;
  END IF;
END
$roles$;
COMMENT ON ROLE llm_app IS 'llm-sessions clients: may execute the session API functions, nothing else';
COMMENT ON ROLE llm_admin IS 'llm-sessions operators: the client API, cleanup and scheduling, and reading the tables';
GRANT llm_app TO llm_admin;

REVOKE ALL ON SCHEMA llm FROM PUBLIC;
GRANT USAGE ON SCHEMA llm TO llm_app, llm_admin;

CREATE TABLE llm.sessions (
  -- Fixed-width columns first, so no padding is wasted between them.
  turn_count      integer     NOT NULL DEFAULT 0,
  total_tokens    bigint      NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_query_at   timestamptz NOT NULL DEFAULT now(),
  session_id      text        NOT NULL,
  agent_role      text        NOT NULL,
  startup_context text,
  metadata        jsonb       NOT NULL DEFAULT '{}',
  CONSTRAINT sessions_pkey PRIMARY KEY (session_id),
  CONSTRAINT session_id_is_not_blank CHECK (btrim(session_id) <> ''),
  CONSTRAINT session_id_is_at_most_200_chars CHECK (length(session_id) <= 200),
  CONSTRAINT agent_role_is_not_blank CHECK (btrim(agent_role) <> ''),
  CONSTRAINT agent_role_is_at_most_100_chars CHECK (length(agent_role) <= 100),
  CONSTRAINT startup_context_is_at_most_16_mib CHECK (octet_length(startup_context) <= 16777216),
  CONSTRAINT turn_count_is_not_negative CHECK (turn_count >= 0),
  CONSTRAINT total_tokens_is_not_negative CHECK (total_tokens >= 0),
  CONSTRAINT metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE llm.sessions IS 'One row per conversation; turn_count and total_tokens always equal what llm.turns holds for it';

-- The seed indexed agent_role, last_query_at and created_at. Ours end in the keys
-- that list_sessions pages by (last_query_at, session_id), so a page is an index range.
CREATE INDEX sessions_last_query_at_idx ON llm.sessions (last_query_at, session_id);
CREATE INDEX sessions_agent_role_idx ON llm.sessions (agent_role, last_query_at, session_id);
CREATE INDEX sessions_created_at_idx ON llm.sessions (created_at);

CREATE TABLE llm.turns (
  seq          integer     NOT NULL,
  tokens       integer     NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  session_id   text        NOT NULL,
  question     text        NOT NULL,
  response     text        NOT NULL,
  request_id   text,
  metadata     jsonb       NOT NULL DEFAULT '{}',
  -- (session_id, seq) is both the identity of a turn and the order of a history:
  -- reading the newest N turns is one index range.
  CONSTRAINT turns_pkey PRIMARY KEY (session_id, seq),
  CONSTRAINT turns_session_fkey FOREIGN KEY (session_id)
    REFERENCES llm.sessions (session_id) ON DELETE CASCADE,
  CONSTRAINT seq_is_positive CHECK (seq >= 1),
  CONSTRAINT tokens_is_not_negative CHECK (tokens >= 0),
  CONSTRAINT question_is_at_most_16_mib CHECK (octet_length(question) <= 16777216),
  CONSTRAINT response_is_at_most_16_mib CHECK (octet_length(response) <= 16777216),
  CONSTRAINT request_id_is_not_blank CHECK (btrim(request_id) <> ''),
  CONSTRAINT request_id_is_at_most_200_chars CHECK (length(request_id) <= 200),
  CONSTRAINT turn_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);
-- Idempotent appends look a request_id up within its session. Partial: most turns
-- carry none, and an index that also held every NULL would both cost every append
-- and look to the planner like a second way to read a session's history.
CREATE UNIQUE INDEX turns_request_id_is_unique_per_session
  ON llm.turns (session_id, request_id) WHERE request_id IS NOT NULL;
COMMENT ON TABLE llm.turns IS 'One row per question/response exchange; seq is gapless from 1 within a session';

REVOKE ALL ON llm.sessions, llm.turns FROM PUBLIC;
GRANT SELECT ON llm.sessions, llm.turns, llm.schema_migrations, llm.schema_api TO llm_admin;
