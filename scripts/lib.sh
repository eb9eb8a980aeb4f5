# Shared by every script: where the database is and how to reach it.
# Sourced, not executed.
#
# Which server:
#   DATABASE_URL set             -> that server (external mode)
#   PGHOST/PGDATABASE/PGPORT/PGSERVICE set -> that server, libpq reads the PG* variables (external mode)
#   otherwise                    -> the project-local cluster that scripts/db.sh runs (local mode)

LLM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LLM_DBNAME=${LLM_DBNAME:-llm_sessions}
LLM_PGPORT=${LLM_PGPORT:-54329}
LLM_PGBIN=${LLM_PGBIN:-/usr/lib/postgresql/15/bin}

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# The local cluster lives in .pgdata/ inside the checkout. The server runs as the
# `postgres` OS user when we are root (PostgreSQL refuses to run as root), and that
# user must be able to reach the folder: a checkout inside a private folder (mktemp -d
# makes 0700 folders) is not reachable, so the cluster then lives under /var/tmp.
llm_state_dir() {
  local dir="$LLM_ROOT/.pgdata"
  if [ -n "${LLM_STATE_DIR:-}" ]; then dir=$LLM_STATE_DIR
  elif [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$LLM_ROOT" 2>/dev/null; then
    dir="/var/tmp/llm-sessions-$(printf '%s' "$LLM_ROOT" | sha256sum | cut -c1-12)"
  fi
  printf '%s\n' "$dir"
}

if [ -n "${DATABASE_URL:-}" ]; then
  LLM_DB_MODE=external
  LLM_CONNINFO=$DATABASE_URL
elif [ -n "${PGHOST:-}${PGDATABASE:-}${PGPORT:-}${PGSERVICE:-}" ]; then
  LLM_DB_MODE=external
  LLM_CONNINFO=""
else
  LLM_DB_MODE=local
  LLM_STATE=$(llm_state_dir)
  LLM_PGDATA=$LLM_STATE/data
  LLM_SOCKET=$LLM_STATE/socket
  LLM_CONNINFO="host=$LLM_SOCKET port=$LLM_PGPORT user=postgres dbname=$LLM_DBNAME"
  export PGHOST=$LLM_SOCKET PGPORT=$LLM_PGPORT PGUSER=postgres PGDATABASE=$LLM_DBNAME
fi
export LLM_DB_MODE LLM_CONNINFO

# psql that stops at the first error and reads no ~/.psqlrc.
llm_psql() { psql -X -v ON_ERROR_STOP=1 -d "$LLM_CONNINFO" "$@"; }

# Run a command as the server's OS user (only root needs the switch).
# From /, since the checkout may be a folder the postgres user cannot enter.
as_pg_user() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
