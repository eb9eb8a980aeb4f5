-- Full-text search over the questions and responses of the live sessions.

-- The turns that best match a web-search-style query, ranked, with a highlighted snippet of each.
CREATE OR REPLACE FUNCTION llm.search_turns(query text, agent_role text DEFAULT NULL, max_rows integer DEFAULT 20)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_query tsquery;
  v_hits  jsonb;
BEGIN
  IF search_turns.query IS NULL OR llm._is_blank(search_turns.query) THEN
    RAISE EXCEPTION 'query must not be %', CASE WHEN search_turns.query IS NULL THEN 'NULL' ELSE 'blank' END
      USING ERRCODE = '22023';
  END IF;
  PERFORM llm._require_text('query', search_turns.query);
  IF search_turns.agent_role IS NOT NULL THEN
    PERFORM llm._require_id('agent_role', search_turns.agent_role, 100);
  END IF;
  PERFORM llm._require_range('max_rows', search_turns.max_rows, 1, 100);
  v_query := websearch_to_tsquery('english'::regconfig, search_turns.query);

  -- A cross-session read: it fans out to every shard on Citus, so it is bounded
  -- (max_rows) and never on the append path. The GIN index finds the indexed
  -- matches; the turns that index_turns has not reached yet (found through the
  -- partial index on search_vector IS NULL) are parsed here, so a search sees
  -- every turn. Only the max_rows best get a snippet. A query of stop words only
  -- ("the") matches nothing.
  SELECT jsonb_agg(jsonb_build_object(
           'session_id', h.session_id,
           'seq', h.seq,
           'agent_role', h.agent_role,
           'rank', h.rank,
           'snippet', ts_headline('english'::regconfig,
                                  left(h.question, 50000) || ' ' || left(h.response, 50000), v_query,
                                  'MaxFragments=2, MaxWords=20, MinWords=5'))
         ORDER BY h.rank DESC, h.session_id, h.seq)
  INTO v_hits
  FROM (
    SELECT t.session_id, t.seq, s.agent_role, t.question, t.response,
           ts_rank(COALESCE(t.search_vector, llm._turn_vector(t.question, t.response)), v_query) AS rank
    FROM llm.turns t
    JOIN llm.sessions s ON s.session_id = t.session_id
    WHERE (t.search_vector @@ v_query
           OR (t.search_vector IS NULL AND llm._turn_vector(t.question, t.response) @@ v_query))
      AND (search_turns.agent_role IS NULL OR s.agent_role = search_turns.agent_role)
    ORDER BY rank DESC, t.session_id, t.seq
    LIMIT search_turns.max_rows
  ) h;
  RETURN jsonb_build_object('hits', COALESCE(v_hits, '[]'::jsonb));
END;
$$;
COMMENT ON FUNCTION llm.search_turns(text, text, integer) IS
'For clients (llm_app). Full-text search (English, websearch_to_tsquery syntax: words, "a phrase", or, -not) over the questions and responses of the live sessions, optionally of one agent_role. Returns {"hits": [{"session_id", "seq", "agent_role", "rank", "snippet"}, ...]}, best first, at most max_rows (1..100); the snippet marks matches with <b></b>. Only the first 50,000 characters of each text are indexed. A NULL or blank query: 22023.';

-- Stores the search vectors of up to batch_size turns that have none yet; returns how many.
CREATE OR REPLACE FUNCTION llm.index_turns(batch_size integer DEFAULT 5000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_indexed integer;
BEGIN
  PERFORM llm._require_range('batch_size', index_turns.batch_size, 1, 100000);
  -- Not beside a cleanup batch, which deletes turns in an order of its own.
  PERFORM llm._lock_turn_maintenance();
  -- Cross-session maintenance without row locks taken up front (SCALE.md): a
  -- bounded batch from the partial index, the condition repeated in the UPDATE.
  -- A turn popped or archived meanwhile is simply gone.
  UPDATE llm.turns t
  SET search_vector = llm._turn_vector(t.question, t.response)
  WHERE (t.session_id, t.seq) IN (
      SELECT p.session_id, p.seq FROM llm.turns p
      WHERE p.search_vector IS NULL
      LIMIT index_turns.batch_size)
    AND t.search_vector IS NULL;
  GET DIAGNOSTICS v_indexed = ROW_COUNT;
  RETURN v_indexed;
END;
$$;
COMMENT ON FUNCTION llm.index_turns(integer) IS
'For operators (llm_admin). Stores the full-text vectors of up to batch_size (1..100000) turns not yet indexed and returns how many. Appends leave the vector NULL so that they stay cheap; schedule_cleanup runs this every minute through pg_cron (or run it from system cron). search_turns finds unindexed turns too, only more slowly.';
