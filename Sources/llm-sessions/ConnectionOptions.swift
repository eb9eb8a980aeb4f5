import ArgumentParser
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
            throw Failure.report(error)
        }
    }
}
