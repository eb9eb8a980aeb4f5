import Foundation
import Testing
@testable import LLMSessions

/// The real PostgreSQL the library tests run against, set up once per test process.
///
/// With `DATABASE_URL` set, that server is used as is. Otherwise the project-local cluster is
/// started and migrated with `scripts/db.sh start` and `scripts/migrate.sh`, and reached through
/// the conninfo `scripts/db.sh conninfo` prints. Tests use unique ids and roles, so they can run
/// in parallel with each other and with the CLI tests on the same database.
enum TestDatabase {
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The repository root: this file is Tests/LLMSessionsTests/TestDatabase.swift.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The server's connection string, or why there is none.
    static let setup: Result<String, SetupError> = {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            return .success(url)
        }
        let scripts = repoRoot.appendingPathComponent("scripts")
        for step in [["db.sh", "start"], ["migrate.sh", "-q"]] {
            let (status, output) = run(scripts.appendingPathComponent(step[0]), Array(step.dropFirst()))
            guard status == 0 else {
                return .failure(SetupError(description: "scripts/\(step.joined(separator: " ")) failed (\(status)): \(output)"))
            }
        }
        let (status, output) = run(scripts.appendingPathComponent("db.sh"), ["conninfo"])
        let conninfo = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, !conninfo.isEmpty else {
            return .failure(SetupError(description: "scripts/db.sh conninfo failed (\(status)): \(output)"))
        }
        return .success(conninfo)
    }()

    /// The configuration for the test server, optionally tagged with an `application_name`
    /// so a test can find its own backends in `pg_stat_activity`.
    static func configuration(applicationName: String? = nil) throws -> ConnectionConfiguration {
        var conninfo = try setup.get()
        if let applicationName {
            if conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://") {
                conninfo += (conninfo.contains("?") ? "&" : "?") + "application_name=\(applicationName)"
            } else {
                conninfo += " application_name=\(applicationName)"
            }
        }
        return ConnectionConfiguration(connectionString: conninfo)
    }

    /// A store on the test server.
    static func makeStore(poolSize: Int = 4, applicationName: String? = nil) throws -> SessionStore {
        SessionStore(configuration: try configuration(applicationName: applicationName), poolSize: poolSize)
    }

    /// The store the helpers below use for superuser SQL (the test login is the superuser `postgres`).
    static let admin: SessionStore? = try? makeStore(poolSize: 2, applicationName: "llm-sessions-tests-admin")

    /// Runs raw SQL as the superuser, with bind parameters, and returns the rows. For test setup and inspection only.
    @discardableResult
    static func superuser(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        let admin = try #require(admin, "no test database: \(setup)")
        return try await admin.withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> [[String?]] in
            try connection.ensureConnected()
            return try connection.query(sql, parameters).rows
        }
    }

    /// Builds a statement with `format()` on the server (so identifiers are quoted there) and runs it as the superuser.
    static func superuser(_ builder: String, _ parameters: [String?], thenExecute: Bool) async throws {
        let rows = try await superuser(builder, parameters)
        let statement = try #require(rows.first?.first ?? nil, "format() returned nothing")
        try await superuser(statement)
    }

    /// Moves a session's activity (and creation) `days` into the past.
    static func backdate(_ sessionID: String, days: Int) async throws {
        try await superuser(
            "UPDATE llm.sessions SET last_query_at = now() - make_interval(days => $2::integer), created_at = now() - make_interval(days => $2::integer) WHERE session_id = $1",
            [sessionID, String(days)]
        )
    }

    /// Waits until `condition` holds, checking every 20 ms for at most `seconds`; returns whether it held.
    static func eventually(within seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// The server pids of the connections whose `application_name` is `name`.
    static func backends(named name: String, waitingOnLock: Bool = false) async throws -> [String] {
        let rows = try await superuser(
            "SELECT pid::text FROM pg_stat_activity WHERE application_name = $1 AND (NOT $2::boolean OR wait_event_type = 'Lock') ORDER BY pid",
            [name, waitingOnLock ? "true" : "false"]
        )
        return rows.compactMap { $0.first ?? nil }
    }

    /// Session ids a test created, to be ended when it finishes.
    final class Created: @unchecked Sendable {
        private let lock = NSLock()
        private var ids: [String] = []

        /// Registers `id` for removal and returns it.
        @discardableResult
        func callAsFunction(_ id: String) -> String {
            lock.withLock { ids.append(id) }
            return id
        }

        var all: [String] { lock.withLock { ids } }
    }

    /// Runs `body`, then ends every session it registered with the tracker, whether or not it threw.
    static func withCleanup(_ store: SessionStore, _ body: (Created) async throws -> Void) async throws {
        let created = Created()
        do {
            try await body(created)
        } catch {
            for id in created.all { _ = try? await store.endSession(id) }
            throw error
        }
        for id in created.all { try await store.endSession(id) }
    }

    /// An id no other test (or test run) uses.
    static func uniqueID(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())"
    }

    private static func run(_ program: URL, _ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("llm-tests-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        do {
            let handle = try FileHandle(forWritingTo: output)
            defer { try? handle.close() }
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
        } catch {
            return (-1, "could not run \(program.path): \(error)")
        }
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
