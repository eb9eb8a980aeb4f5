-- The migrator's own bootstrap: schema llm, the bookkeeping tables and the two
-- functions through which every client (scripts/migrate.sh with psql, the Swift
-- `migrate` command) applies Migrations/*.sql and sql/api/*.sql. The checksum is
-- computed here, in one place, so psql and Swift record identical bookkeeping.
--
-- This file is executed as-is on every migrate, so it must stay idempotent.
BEGIN;
SET LOCAL client_min_messages = warning;

-- Serialises concurrent migrators (same key as llm._lock_migrations below).
SELECT pg_advisory_xact_lock(hashtext('llm-sessions:migrate'));

CREATE SCHEMA IF NOT EXISTS llm;
REVOKE ALL ON SCHEMA llm FROM PUBLIC;
COMMENT ON SCHEMA llm IS 'llm-sessions: durable conversation memory for LLM agents';

CREATE TABLE IF NOT EXISTS llm.schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL UNIQUE,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE llm.schema_migrations IS 'One row per applied file of Migrations/, with the sha256 of its text';

CREATE TABLE IF NOT EXISTS llm.schema_api (
  name       text        PRIMARY KEY,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE llm.schema_api IS 'The files of sql/api/ as last applied (they are re-applied on every migrate)';

CREATE OR REPLACE FUNCTION llm._lock_migrations() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('llm-sessions:migrate')) $$;

-- Trailing white space is ignored: psql's backquote substitution drops the final
-- newline of a file, Swift reads it whole, and both must agree on the checksum.
CREATE OR REPLACE FUNCTION llm._checksum(body text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT encode(sha256(convert_to(rtrim(body, E' \t\r\n'), 'UTF8')), 'hex') $$;

-- Applies one file of Migrations/ unless it was applied before.
-- file_name is the file name without .sql: NNNN_what_changes.
CREATE OR REPLACE FUNCTION llm._apply_migration(file_name text, body text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_version  integer;
  v_checksum text := llm._checksum(body);
  v_applied  llm.schema_migrations;
  v_latest   integer;
BEGIN
  IF file_name IS NULL OR file_name !~ '^[0-9]{4,}_[a-z0-9_]+$' THEN
    RAISE EXCEPTION 'migration file name % must look like 0001_what_changes.sql', quote_literal(file_name)
      USING ERRCODE = '22023';
  END IF;
  v_version := split_part(file_name, '_', 1)::integer;
  PERFORM llm._lock_migrations();

  SELECT * INTO v_applied FROM llm.schema_migrations m WHERE m.version = v_version;
  IF FOUND THEN
    IF v_applied.name <> file_name OR v_applied.checksum <> v_checksum THEN
      RAISE EXCEPTION 'migration % was changed after it was applied', file_name
        USING ERRCODE = '55000',
              DETAIL = format('applied as %s with checksum %s; the file now has checksum %s',
                              v_applied.name, v_applied.checksum, v_checksum),
              HINT = 'Applied migrations are history: restore the file and add a new migration instead.';
    END IF;
    RETURN jsonb_build_object('version', v_version, 'name', file_name, 'status', 'unchanged', 'checksum', v_checksum);
  END IF;

  SELECT max(m.version) INTO v_latest FROM llm.schema_migrations m;
  IF v_latest > v_version THEN
    RAISE EXCEPTION 'migration % is older than the latest applied migration (%)', file_name, v_latest
      USING ERRCODE = '55000', HINT = 'Migrations are forward-only: give the new file a higher number.';
  END IF;

  EXECUTE body;
  INSERT INTO llm.schema_migrations (version, name, checksum) VALUES (v_version, file_name, v_checksum);
  RETURN jsonb_build_object('version', v_version, 'name', file_name, 'status', 'applied', 'checksum', v_checksum);
END;
$fn$;

-- Applies one file of sql/api/ (function definitions, comments, grants).
-- These files are idempotent and re-applied on every migrate.
CREATE OR REPLACE FUNCTION llm._apply_api(file_name text, body text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_checksum text := llm._checksum(body);
  v_previous text;
BEGIN
  IF file_name IS NULL OR file_name !~ '^[0-9]{2,}_[a-z0-9_]+$' THEN
    RAISE EXCEPTION 'API file name % must look like 10_what_it_defines.sql', quote_literal(file_name)
      USING ERRCODE = '22023';
  END IF;
  PERFORM llm._lock_migrations();
  SELECT a.checksum INTO v_previous FROM llm.schema_api a WHERE a.name = file_name;
  EXECUTE body;
  INSERT INTO llm.schema_api AS a (name, checksum) VALUES (file_name, v_checksum)
    ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now();
  RETURN jsonb_build_object('name', file_name, 'checksum', v_checksum,
    'status', CASE WHEN v_previous IS NULL THEN 'applied'
                   WHEN v_previous = v_checksum THEN 'unchanged'
                   ELSE 'updated' END);
END;
$fn$;

REVOKE ALL ON FUNCTION llm._lock_migrations(), llm._checksum(text),
  llm._apply_migration(text, text), llm._apply_api(text, text) FROM PUBLIC;
REVOKE ALL ON llm.schema_migrations, llm.schema_api FROM PUBLIC;

COMMIT;
