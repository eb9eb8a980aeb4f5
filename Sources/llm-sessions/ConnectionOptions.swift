import ArgumentParser
import Foundation
import LLMSessions

/// The options every subcommand shares: where the database is and how to print.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "postgresql:// URL or libpq keyword string (default: DATABASE_URL, else PG* variables).",
            valueName: "url"))
    var databaseURL: String?

    @Flag(help: "Print JSON on stdout instead of tables.")
    var json = false

    /// The connection the options name: the flag, else the environment.
    var configuration: ConnectionConfiguration {
        if let databaseURL { return ConnectionConfiguration(connectionString: databaseURL) }
        return .fromEnvironment()
    }

    /// Runs `body` with a one-connection store, closes it, and turns every failure into
    /// a message on stderr and the documented exit code.
    func withStore<T>(_ body: (SessionStore) async throws -> T) async throws -> T {
        let store = SessionStore(configuration: configuration, poolSize: 1)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            if case SessionStoreError.connectionLost = error, !isConfigured {
                throw Failure.report(error, hint: """
                    no server was named: pass --database-url or set DATABASE_URL \
                    (for the project's local server: export DATABASE_URL="$(scripts/db.sh conninfo)")
                    """)
            }
            throw Failure.report(error)
        }
    }

    /// Whether the flag or the environment names a server (else libpq's built-in defaults apply).
    private var isConfigured: Bool {
        if databaseURL != nil { return true }
        let environment = ProcessInfo.processInfo.environment
        return ["DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE"]
            .contains { !(environment[$0] ?? "").isEmpty }
    }
}
