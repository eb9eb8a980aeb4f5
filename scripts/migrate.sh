#!/usr/bin/env bash
# Applies the schema with psql alone, so an administrator needs nothing else:
#   1. sql/migrator.sql        bootstrap (schema llm, bookkeeping, the apply functions)
#   2. Migrations/*.sql        in order, each in its own transaction, recorded with a checksum
#   3. sql/api/*.sql           the API functions, re-applied together in one transaction
# The Swift `llm-sessions migrate` follows the same steps through the same functions.
# Usage: scripts/migrate.sh [-q]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LLM_ROOT"

quiet=""
[ "${1:-}" = "-q" ] && quiet=1

script=$(mktemp); trap 'rm -f "$script"' EXIT
{
  echo '\set QUIET on'
  echo '\pset tuples_only on'
  echo '\pset format unaligned'
  echo '\set SHOW_CONTEXT never'
  echo '\i sql/migrator.sql'
  # Each file's text travels as one psql variable and reaches the server as a
  # quoted literal (:'body'), never spliced into SQL.
  for f in Migrations/[0-9]*.sql; do
    [ -e "$f" ] || continue
    printf '\\set body `cat %q`\n' "$f"
    printf "SELECT llm._apply_migration('%s', :'body')->>'status' || ': ' || '%s';\n" \
      "$(basename "$f" .sql)" "$f"
  done
  echo 'BEGIN;'
  for f in sql/api/[0-9]*.sql; do
    [ -e "$f" ] || continue
    printf '\\set body `cat %q`\n' "$f"
    printf "SELECT llm._apply_api('%s', :'body')->>'status' || ': ' || '%s';\n" \
      "$(basename "$f" .sql)" "$f"
  done
  echo 'COMMIT;'
} > "$script"

out=$(llm_psql -f "$script" 2>&1) || { echo "$out" >&2; die "migration failed; nothing after the failing step was applied"; }
[ -n "$quiet" ] || printf '%s\n' "$out" | grep -v '^$' | sed 's/^/  /' >&2
