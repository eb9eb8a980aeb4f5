import ArgumentParser

/// The `llm-sessions` command: a thin layer over ``SessionStore`` for people and scripts.
@main
struct LLMSessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm-sessions",
        abstract: "Durable conversation memory for LLM agents, kept in PostgreSQL.",
        discussion: """
            Sessions, turns and cleanup live in PL/pgSQL functions (schema llm); \
            this tool calls them.

            CONNECTION
              --database-url takes a postgresql:// URL or a libpq keyword string;
              without it DATABASE_URL is used, else the PG* variables (PGHOST, ...).

            OUTPUT
              Aligned tables for people; --json prints stable JSON on stdout with
              snake_case keys and timestamps like 2026-11-24T21:30:47.123456+00:00.
              Errors go to stderr.

            EXIT STATUS
               0  success (also pop of a session without turns, and an
                  interrupted watch)
               3  no such session (show, append, end, context, pop, fork,
                  pin, unpin; restore: not in the archive)
               4  conflict: stale --expect-turn-count, or the session id exists
                  (create, fork --id, restore of a live session)
              64  usage error: unknown flag, missing or bad argument value
              65  the server rejected an argument as invalid (SQLSTATE 22xxx);
                  import: at least one line was rejected
              66  migrate: no Migrations/ and sql/ found (pass --sql-root);
                  import: FILE cannot be opened
              69  the database server is unreachable or the connection was lost
              70  any other server error (permission denied, pg_cron missing, ...)
              73  export: --output FILE cannot be created
            """,
        subcommands: [
            Migrate.self,
            Create.self, Append.self, Show.self, List.self, End.self,
            Context.self, Pop.self, Fork.self, Search.self, Pin.self, Unpin.self,
            Export.self, Import.self, Watch.self,
            Cleanup.self, Schedule.self, Unschedule.self, Restore.self, Purge.self, Stats.self,
            Demo.self,
        ]
    )
}
