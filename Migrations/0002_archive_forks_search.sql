-- 0002: pinned sessions, fork links, the archive, and full-text search over turns.
-- On a large database, building the two new indexes on llm.turns takes a while
-- (the table itself is not rewritten: the new columns are NULL or constant).
--
-- Scale-out (shared/SCALE.md): the archive tables are keyed by session_id first,
-- like the live ones, so they distribute by session_id and colocate with them.

ALTER TABLE llm.sessions
  -- A pinned session is never touched by cleanup, whatever its age.
  ADD COLUMN pinned            boolean NOT NULL DEFAULT false,
  -- A fork remembers where it came from. Deliberately no foreign key: on Citus a
  -- foreign key must include the distribution column with the same value, and the
  -- parent lives on another shard; and a parent may be ended, archived or purged
  -- while its forks live on, so the link is history, not a dependency.
  ADD COLUMN parent_session_id text,
  ADD COLUMN parent_seq        integer,
  ADD CONSTRAINT parent_session_and_parent_seq_go_together
    CHECK ((parent_session_id IS NULL) = (parent_seq IS NULL)),
  ADD CONSTRAINT parent_seq_is_not_negative CHECK (parent_seq >= 0),
  ADD CONSTRAINT session_is_not_its_own_parent CHECK (parent_session_id <> session_id);
COMMENT ON COLUMN llm.sessions.pinned IS 'A pinned session is never archived or deleted by cleanup';
COMMENT ON COLUMN llm.sessions.parent_session_id IS 'The session this one was forked from (no foreign key: the parent may be gone)';
COMMENT ON COLUMN llm.sessions.parent_seq IS 'The parent''s last turn copied into this fork (0: none)';

-- The archive: stale sessions moved out of the live tables by cleanup_stale(policy
-- => 'archive'), until restore_session brings one back or purge_archive ends it.
-- The same columns as the live tables, so a session comes back exactly as it left,
-- plus archived_at. The functions keep every session id in at most one of the two.
CREATE TABLE llm.archived_sessions (
  -- 8-byte columns, then 4-byte, then the rest: no padding between them.
  total_tokens      bigint      NOT NULL,
  created_at        timestamptz NOT NULL,
  last_query_at     timestamptz NOT NULL,
  archived_at       timestamptz NOT NULL DEFAULT now(),
  turn_count        integer     NOT NULL,
  parent_seq        integer,
  pinned            boolean     NOT NULL DEFAULT false,
  session_id        text        NOT NULL,
  agent_role        text        NOT NULL,
  startup_context   text,
  metadata          jsonb       NOT NULL,
  parent_session_id text,
  CONSTRAINT archived_sessions_pkey PRIMARY KEY (session_id)
);
COMMENT ON TABLE llm.archived_sessions IS 'Sessions moved out of llm.sessions by cleanup; invisible to the live API until restored';
-- purge_archive takes the oldest archived sessions first.
CREATE INDEX archived_sessions_archived_at_idx ON llm.archived_sessions (archived_at, session_id);

-- No search_vector and no request_id index here: the archive is only read back
-- whole, and restoring into llm.turns checks request_id uniqueness again.
CREATE TABLE llm.archived_turns (
  seq          integer     NOT NULL,
  tokens       integer     NOT NULL,
  created_at   timestamptz NOT NULL,
  session_id   text        NOT NULL,
  question     text        NOT NULL,
  response     text        NOT NULL,
  request_id   text,
  metadata     jsonb       NOT NULL,
  CONSTRAINT archived_turns_pkey PRIMARY KEY (session_id, seq),
  CONSTRAINT archived_turns_session_fkey FOREIGN KEY (session_id)
    REFERENCES llm.archived_sessions (session_id) ON DELETE CASCADE
);
COMMENT ON TABLE llm.archived_turns IS 'The turns of the archived sessions, exactly as they were in llm.turns';

-- Full-text search (llm.search_turns), indexed off the append path. Parsing a
-- turn's text and inserting its lexemes into a GIN index cost an append about 0.2 to
-- 0.5 ms of CPU (measured with pgbench on 1.2 to 2.6 kB turns: 0.37 -> 0.55 ms),
-- which would make every append pay for a search that few callers run. So a turn
-- is stored with search_vector NULL, llm.index_turns() fills the vectors in batches
-- (scheduled every minute beside cleanup), and search_turns parses the few turns
-- not yet indexed on the fly, found through a small partial index: a search still
-- sees every turn, an append pays only one small b-tree insert.
-- Only the first 50,000 characters of each text are indexed: a tsvector is limited
-- to 1 MB, and indexing must never fail because a text is long.
ALTER TABLE llm.turns ADD COLUMN search_vector tsvector;
COMMENT ON COLUMN llm.turns.search_vector IS 'English full-text vector of the first 50,000 characters of question and response; NULL until llm.index_turns() has run';
CREATE INDEX turns_search_vector_idx ON llm.turns USING gin (search_vector);
CREATE INDEX turns_search_pending_idx ON llm.turns (session_id, seq) WHERE search_vector IS NULL;

REVOKE ALL ON llm.archived_sessions, llm.archived_turns FROM PUBLIC;
GRANT SELECT ON llm.archived_sessions, llm.archived_turns TO llm_admin;
