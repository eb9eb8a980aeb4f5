import Foundation
import Testing
@testable import LLMSessions

@Suite("Cleanup, its pg_cron schedule, and migrations")
struct MaintenanceTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    @Test("cleanupStale removes only sessions idle longer than maxIdle")
    func cleanupStale() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let role = TestDatabase.uniqueID("cleanup")
            let old = [created("\(role)-old-1"), created("\(role)-old-2"), created("\(role)-old-3")]
            let fresh = created("\(role)-fresh")
            for id in old + [fresh] { _ = try await store.createSession(agentRole: role, sessionID: id) }
            try await store.appendTurn(to: old[0], question: "q", response: "r")
            for id in old { try await TestDatabase.backdate(id, days: 30) }

            // batchSize 1 makes the server loop; 10 days leaves every other test's fresh sessions alone.
            let result = try await store.cleanupStale(maxIdle: .seconds(10 * 86_400), batchSize: 1)
            #expect(result.removed >= 3)
            #expect(result.maxIdle == .seconds(10 * 86_400))
            for id in old { #expect(try await store.session(id) == nil, "\(id) was removed") }
            #expect(try await store.session(fresh) != nil, "a fresh session stays")

        }
    }

    @Test("a Duration reaches the server as the same interval, to the microsecond", arguments: [
        (Duration.seconds(3600), "3600.000000 seconds", 3_600_000_000 as Int64),
        (.milliseconds(1500), "1.500000 seconds", 1_500_000),
        (.microseconds(7), "0.000007 seconds", 7),
        (.seconds(30 * 86_400) + .microseconds(250), "2592000.000250 seconds", 2_592_000_000_250),
        (.milliseconds(-2500), "-2.500000 seconds", -2_500_000),
    ])
    func intervalParameter(duration: Duration, text: String, microseconds: Int64) async throws {
        var bind = Bind()
        try bind.interval(duration, "maxIdle")
        #expect(bind.values == [text])
        let rows = try await TestDatabase.superuser(
            "SELECT (extract(epoch FROM $1::interval) * 1000000)::bigint::text", bind.values)
        #expect(rows.first?.first == String(microseconds))
    }

    @Test("cleanupStale rejects a non-positive maxIdle and a bad batch size", arguments: [
        (Duration.seconds(0), 1000), (.seconds(-5), 1000), (.seconds(3600), 0), (.seconds(3600), 100_001),
    ])
    func cleanupStaleInvalid(maxIdle: Duration, batchSize: Int) async throws {
        do {
            _ = try await store.cleanupStale(maxIdle: maxIdle, batchSize: batchSize)
            Issue.record("accepted maxIdle \(maxIdle), batchSize \(batchSize)")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message.contains(batchSize == 1000 ? "max_idle" : "batch_size"), "\(message)")
        }
    }

    @Test("runCleanup refuses a bad busyShare, maxIdle or batch size with invalidArgument, before any work", arguments: [
        (Duration.seconds(3600), 50, 0.0, "busy_share"), (.seconds(3600), 50, -0.5, "busy_share"),
        (.seconds(3600), 50, 0.005, "busy_share"),
        (.seconds(3600), 50, 1.5, "busy_share"), (.seconds(3600), 50, Double.nan, "busy_share"),
        (.seconds(3600), 50, Double.infinity, "busy_share"), (.seconds(0), 50, 0.5, "max_idle"),
        (.seconds(-5), 50, 0.5, "max_idle"), (.seconds(3600), 0, 0.5, "batch_size"), (.seconds(3600), 100_001, 0.5, "batch_size"),
    ] as [(Duration, Int, Double, String)])
    func runCleanupInvalid(maxIdle: Duration, batchSize: Int, busyShare: Double, named: String) async throws {
        do {
            _ = try await store.runCleanup(maxIdle: maxIdle, batchSize: batchSize, busyShare: busyShare)
            Issue.record("accepted maxIdle \(maxIdle), batchSize \(batchSize), busyShare \(busyShare)")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message.contains(named), "\(message)")
        }
    }

    @Test("run_cleanup's refusal of a policy (CleanupPolicy cannot spell a bad one) is an invalidArgument too")
    func runCleanupInvalidPolicy() async throws {
        var bind = Bind()
        try bind.interval(.seconds(3600), "maxIdle")
        bind.integer(50)
        try bind.text("keep", "policy")
        bind.double(0.5)
        do {
            _ = try await store.callInteger(
                "CALL llm.run_cleanup($1::interval, $2::integer, $3::text, $4::float8)", bind,
                retry: .never, context: CallContext(), field: "removed")
            Issue.record("accepted the policy keep")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message == "policy must be 'archive' or 'delete', not 'keep'")
        }
    }

    @Test("run_cleanup commits, so it must run outside a transaction block: inside one it is refused with 2D000")
    func runCleanupInTransactionBlock() async throws {
        // runCleanup itself never opens one (a call is one Bind/Execute/Sync); this is what it avoids.
        let sqlState = try await store.withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> String in
            try connection.ensureConnected()
            try connection.query("BEGIN")
            do throws(DatabaseFailure) {
                try connection.query("CALL llm.run_cleanup(interval '36500 days')")
                return "accepted"
            } catch .server(let error) {
                return error.sqlState
            }
        }
        #expect(sqlState == "2D000")
        // The connection went back to the pool clean, and the method works on it.
        #expect(try await store.runCleanup(maxIdle: .seconds(36_500 * 86_400), busyShare: 1).removed >= 0)
    }

    @Test("scheduleCleanup creates the pg_cron job and unscheduleCleanup removes it")
    func scheduleAndUnschedule() async throws {
        let hasCron = try await TestDatabase.superuser("SELECT count(*)::text FROM pg_extension WHERE extname = 'pg_cron'")
        guard hasCron.first?.first == "1" else {
            // Without pg_cron both calls fail with 0A000 and a hint.
            do {
                _ = try await store.scheduleCleanup()
                Issue.record("scheduled without pg_cron")
            } catch SessionStoreError.server(let error) {
                #expect(error.sqlState == "0A000")
                #expect(error.hint != nil)
            }
            return
        }
        // Keep whatever job the database had, and put it back afterwards.
        let previous = try await TestDatabase.superuser(
            "SELECT schedule, command FROM cron.job WHERE jobname = 'llm-sessions-cleanup'")
        var failure: (any Error)?
        do {
            let schedule = try await store.scheduleCleanup(schedule: "17 3 * * *", maxIdle: .seconds(2 * 3600))
            #expect(schedule.jobName == "llm-sessions-cleanup")
            #expect(schedule.schedule == "17 3 * * *")
            #expect(schedule.command.contains("llm.run_cleanup"), "the job runs beside live traffic: \(schedule.command)")
            #expect(schedule.command.contains("02:00:00"), "\(schedule.command)")
            let jobs = try await TestDatabase.superuser(
                "SELECT jobid::text, schedule FROM cron.job WHERE jobname = 'llm-sessions-cleanup'")
            #expect(jobs.count == 1)
            #expect(jobs.first?[0] == String(schedule.jobID))
            #expect(jobs.first?[1] == "17 3 * * *")

            #expect(try await store.unscheduleCleanup() == true)
            #expect(try await store.unscheduleCleanup() == false)
            let left = try await TestDatabase.superuser("SELECT 1 FROM cron.job WHERE jobname = 'llm-sessions-cleanup'")
            #expect(left.isEmpty)
        } catch {
            failure = error
        }
        if let job = previous.first {
            try await TestDatabase.superuser("SELECT cron.schedule('llm-sessions-cleanup', $1, $2)", [job[0], job[1]])
        }
        if let failure { throw failure }
    }

    @Test("migrate applies the repository's SQL and reports everything unchanged the second time")
    func migrateTwice() async throws {
        let first = try await store.migrate(sqlRoot: TestDatabase.repoRoot)
        let second = try await store.migrate(sqlRoot: TestDatabase.repoRoot)

        let migrationFiles = try FileManager.default.contentsOfDirectory(atPath: TestDatabase.repoRoot.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }.sorted()
        let apiFiles = try FileManager.default.contentsOfDirectory(atPath: TestDatabase.repoRoot.appendingPathComponent("sql/api").path)
            .filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }.sorted()
        #expect(!migrationFiles.isEmpty && !apiFiles.isEmpty)
        #expect(first.migrations.map(\.name) == migrationFiles)
        #expect(first.api.map(\.name) == apiFiles)
        #expect(second.migrations.map(\.name) == migrationFiles)

        #expect(second.migrations.allSatisfy { $0.status == "unchanged" }, "\(second.migrations)")
        #expect(second.api.allSatisfy { $0.status == "unchanged" }, "\(second.api)")
        #expect(second.applied.isEmpty)
        #expect(second.migrations.map(\.checksum) == first.migrations.map(\.checksum))
        #expect(second.migrations.allSatisfy { $0.checksum.count == 64 && $0.version != nil })
        #expect(second.migrations.first?.version == 1)

        // The bookkeeping is the same one scripts/migrate.sh keeps.
        let recorded = try await TestDatabase.superuser("SELECT name, checksum FROM llm.schema_migrations ORDER BY version")
        #expect(recorded.map { $0[0] ?? "" } == migrationFiles)
        #expect(recorded.map { $0[1] ?? "" } == second.migrations.map(\.checksum))
    }

    @Test("migrate refuses an edited applied migration with 55000 and applies nothing")
    func migrateRejectsEditedMigration() async throws {
        // A copy of the repository's SQL in which the first migration gained a line.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("llm-migrate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sql"), withIntermediateDirectories: true)
        for folder in ["Migrations", "sql/api"] {
            try FileManager.default.copyItem(at: TestDatabase.repoRoot.appendingPathComponent(folder), to: root.appendingPathComponent(folder))
        }
        try FileManager.default.copyItem(at: TestDatabase.repoRoot.appendingPathComponent("sql/migrator.sql"),
                                         to: root.appendingPathComponent("sql/migrator.sql"))
        let first = try #require(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.sorted().first)
        let edited = root.appendingPathComponent("Migrations").appendingPathComponent(first)
        try (String(contentsOf: edited, encoding: .utf8) + "\n-- edited after it was applied\nSELECT 1;\n")
            .write(to: edited, atomically: true, encoding: .utf8)

        do {
            _ = try await store.migrate(sqlRoot: root)
            Issue.record("an edited migration was accepted")
        } catch SessionStoreError.server(let error) {
            #expect(error.sqlState == "55000")
            #expect(error.message.contains(String(first.dropLast(4))), "\(error.message)")
        }
        // The store's connection is usable afterwards (the failed transaction was rolled back).
        #expect(try await store.migrate(sqlRoot: TestDatabase.repoRoot).applied.isEmpty)
    }

    @Test("migrate without sql/migrator.sql is an invalidArgument")
    func migrateWrongRoot() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("llm-empty-\(UUID().uuidString)")
        do {
            _ = try await store.migrate(sqlRoot: root)
            Issue.record("migrated from a folder without SQL")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message.contains("sql/migrator.sql"), "\(message)")
        }
    }
}
