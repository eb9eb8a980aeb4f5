#!/usr/bin/env bash
# The project-local PostgreSQL (the embedded default).
#   scripts/db.sh start     init the cluster if needed, start it, create the database and pg_cron
#   scripts/db.sh stop      stop it (data kept)
#   scripts/db.sh reset     stop it and delete all its data
#   scripts/db.sh status    say which server is used and whether it is up
#   scripts/db.sh conninfo  print the libpq connection string everything uses
#   scripts/db.sh psql ...  psql on that server
# With DATABASE_URL (or PGHOST/PGDATABASE/...) set, everything uses that server;
# start/stop/reset then leave it alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

pg_ctl_local() { as_pg_user "$LLM_PGBIN/pg_ctl" -D "$LLM_PGDATA" "$@"; }

is_running() { [ -f "$LLM_PGDATA/postmaster.pid" ] && pg_ctl_local status >/dev/null 2>&1; }

init_cluster() {
  say "creating a local PostgreSQL cluster in $LLM_PGDATA"
  mkdir -p "$LLM_STATE" "$LLM_SOCKET"
  [ "$(id -u)" = 0 ] && chown postgres: "$LLM_STATE" "$LLM_SOCKET"
  chmod 700 "$LLM_STATE"
  # The superuser `postgres` may connect over the unix socket without a password
  # (only processes on this machine that can reach the socket folder); every
  # other role must give its password (scram-sha-256). No TCP listener at all.
  as_pg_user "$LLM_PGBIN/initdb" -D "$LLM_PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=scram-sha-256 --auth-host=reject >/dev/null
  as_pg_user sh -c "cat > '$LLM_PGDATA/pg_hba.conf'" <<HBA
# TYPE  DATABASE  USER      METHOD
local   all       postgres  trust
local   all       all       scram-sha-256
HBA
  as_pg_user sh -c "cat >> '$LLM_PGDATA/postgresql.conf'" <<CONF

# --- llm-sessions local cluster (scripts/db.sh) ---
listen_addresses = ''
port = $LLM_PGPORT
unix_socket_directories = '$LLM_SOCKET'
unix_socket_permissions = 0777
shared_preload_libraries = 'pg_cron'
cron.database_name = '$LLM_DBNAME'
# Without background workers every job connects over TCP to localhost, which this cluster does not listen on.
cron.use_background_workers = on
max_worker_processes = 16
# Durability stays on: the benchmarks and the crash tests measure the real thing.
fsync = on
synchronous_commit = on
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
CONF
}

start() {
  if [ "$LLM_DB_MODE" = external ]; then
    llm_psql -qAt -c 'SELECT 1' >/dev/null || die "cannot reach the server given by DATABASE_URL/PG* variables"
    return 0
  fi
  [ -x "$LLM_PGBIN/postgres" ] || die "PostgreSQL 15 is not installed: run scripts/setup.sh"
  [ -f /usr/share/postgresql/15/extension/pg_cron.control ] || die "pg_cron is not installed: run scripts/setup.sh"
  [ -f "$LLM_PGDATA/PG_VERSION" ] || init_cluster
  if ! is_running; then
    say "starting PostgreSQL (socket $LLM_SOCKET, port $LLM_PGPORT)"
    pg_ctl_local -l "$LLM_STATE/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$LLM_STATE/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  if [ "$(psql -X -d "host=$LLM_SOCKET port=$LLM_PGPORT user=postgres dbname=postgres" -qAt \
          -c "SELECT count(*) FROM pg_database WHERE datname = '$LLM_DBNAME'")" = 0 ]; then
    psql -X -q -d "host=$LLM_SOCKET port=$LLM_PGPORT user=postgres dbname=postgres" \
      -c "CREATE DATABASE $LLM_DBNAME" 2>/dev/null || true   # a parallel start may have won
  fi
  llm_psql -q -c 'CREATE EXTENSION IF NOT EXISTS pg_cron' 2>/dev/null \
    || llm_psql -qAt -c "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'" | grep -q 1 \
    || die "could not create extension pg_cron"
}

stop() {
  [ "$LLM_DB_MODE" = external ] && { say "external server: nothing to stop"; return 0; }
  if is_running; then say "stopping PostgreSQL"; pg_ctl_local -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset)
    [ "$LLM_DB_MODE" = external ] && die "reset only applies to the local cluster; unset DATABASE_URL/PG* first"
    stop; rm -rf "$LLM_STATE"; say "local cluster removed" ;;
  status)
    if [ "$LLM_DB_MODE" = external ]; then echo "external server"; llm_psql -qAt -c 'SELECT version()'
    elif is_running; then echo "local cluster running: $LLM_PGDATA (socket $LLM_SOCKET, port $LLM_PGPORT)"
    else echo "local cluster stopped: $LLM_PGDATA"; exit 3; fi ;;
  conninfo) printf '%s\n' "$LLM_CONNINFO" ;;
  psql) shift; exec psql -X -d "$LLM_CONNINFO" "$@" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
esac
