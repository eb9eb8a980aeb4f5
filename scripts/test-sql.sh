#!/usr/bin/env bash
# Runs the pgTAP suite (Tests/sql) and the concurrency checks (Tests/concurrency)
# against the server scripts/db.sh names, as a superuser. Every pgTAP file runs
# in a transaction that it rolls back, so the database is left as it was.
# Usage: scripts/test-sql.sh [pg_prove args...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LLM_ROOT"

# pgTAP lives in its own schema so that it never mixes with llm or public.
llm_psql -q <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS tap;
CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA tap;
GRANT USAGE ON SCHEMA tap TO PUBLIC;
SQL

# pg_prove splits its --dbname on '=' and so cannot take a keyword connection
# string: it runs psql through a wrapper that passes ours instead.
psql_wrapper=$(mktemp); trap 'rm -f "$psql_wrapper"' EXIT
printf '#!/bin/sh\nexec psql -d "$LLM_CONNINFO" "$@"\n' > "$psql_wrapper"
chmod +x "$psql_wrapper"

# pg_prove finds nothing in a directory without --ext .sql -r, and then still exits 0.
PGOPTIONS='-c search_path=tap,public -c client_min_messages=warning' \
  pg_prove --psql-bin "$psql_wrapper" --ext .sql -r --failures "${@:-Tests/sql}"

for t in Tests/concurrency/*.sh; do
  [ -e "$t" ] || continue
  bash "$t"
done
