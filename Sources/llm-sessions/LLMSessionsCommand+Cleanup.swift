import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions cleanup`: deletes sessions idle for longer than a duration.
    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete sessions idle for longer than --max-idle (needs llm_admin).")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("max-idle"), help: ArgumentHelp(
            "Idle time after which a session is stale: 90s, 15m, 1h, 7d, 1h30m.", valueName: "duration"))
        var maxIdle = IdleDuration(seconds: 3600)

        @Option(name: .customLong("batch-size"), help: ArgumentHelp(
            "Sessions deleted per statement, 1...100000.", valueName: "n"))
        var batchSize = 1000

        func validate() throws {
            guard (1...100_000).contains(batchSize) else {
                throw ValidationError("--batch-size must be between 1 and 100000, got \(batchSize)")
            }
        }

        func run() async throws {
            let result = try await connection.withStore {
                try await $0.cleanupStale(maxIdle: maxIdle.duration, batchSize: batchSize)
            }
            if connection.json {
                try Output.printJSON(CleanupReport(removed: result.removed, maxIdleSeconds: maxIdle.seconds))
            } else {
                print("removed \(plural(result.removed, "stale session")) idle longer than \(maxIdle)")
            }
        }
    }

    /// `llm-sessions schedule`: runs cleanup periodically inside PostgreSQL with pg_cron.
    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Schedule cleanup inside PostgreSQL with pg_cron (replaces an earlier schedule).")

        @OptionGroup var connection: ConnectionOptions

        @Option(help: ArgumentHelp("A pg_cron schedule.", valueName: "cron"))
        var cron = "*/15 * * * *"

        @Option(name: .customLong("max-idle"), help: ArgumentHelp(
            "Idle time after which a session is stale: 90s, 15m, 1h, 7d.", valueName: "duration"))
        var maxIdle = IdleDuration(seconds: 3600)

        func validate() throws { try requireText(cron, "--cron") }

        func run() async throws {
            let schedule = try await connection.withStore {
                try await $0.scheduleCleanup(schedule: cron, maxIdle: maxIdle.duration)
            }
            if connection.json {
                try Output.printJSON(schedule)
            } else {
                print(keyValueLines([
                    ("job id", "\(schedule.jobID)"),
                    ("job name", schedule.jobName),
                    ("schedule", schedule.schedule),
                    ("command", schedule.command),
                ]))
            }
        }
    }

    /// `llm-sessions unschedule`: removes the pg_cron cleanup job.
    struct Unschedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the scheduled cleanup job, if there is one.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let removed = try await connection.withStore { try await $0.unscheduleCleanup() }
            if connection.json {
                try Output.printJSON(["removed": removed])
            } else {
                print(removed ? "removed the scheduled cleanup job" : "no cleanup job was scheduled")
            }
        }
    }
}

/// What `cleanup --json` prints.
struct CleanupReport: Encodable {
    var removed: Int
    var maxIdleSeconds: Int64

    enum CodingKeys: String, CodingKey {
        case removed
        case maxIdleSeconds = "max_idle_seconds"
    }
}
