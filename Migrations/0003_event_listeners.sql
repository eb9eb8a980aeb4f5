-- 0003: who is listening for live events.
--
-- PostgreSQL serialises the commits of all transactions that send a NOTIFY on one
-- database-wide lock held through the WAL flush: measured here, appends with 8
-- clients fell from ~4,800 to ~2,000 per second when every append notified. So an
-- append notifies only while some connection listens through llm.listen_events(),
-- which records its backend here. A row whose backend is gone costs only that
-- extra NOTIFY until the next listen_events() or cleanup prunes it.
CREATE TABLE llm.event_listeners (
  pid           integer     NOT NULL,
  backend_start timestamptz NOT NULL,
  listening_since timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_listeners_pkey PRIMARY KEY (pid)
);
COMMENT ON TABLE llm.event_listeners IS 'Backends listening on channel llm_sessions through llm.listen_events(); while it is empty, nothing notifies';

REVOKE ALL ON llm.event_listeners FROM PUBLIC;
GRANT SELECT ON llm.event_listeners TO llm_admin;
