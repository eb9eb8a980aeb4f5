import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions cleanup`: deletes or archives sessions idle for longer than a duration.
    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete (or archive) sessions idle for longer than --max-idle (needs llm_admin).",
            discussion: """
                Pinned sessions are kept. --policy delete (the default, as llm.cleanup_stale's) \
                deletes them with their turns; --policy archive moves them into the archive, \
                whence `restore` brings one back and `purge` deletes them for good.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("max-idle"), help: ArgumentHelp(
            "Idle time after which a session is stale: 90s, 15m, 1h, 7d, 1h30m.", valueName: "duration"))
        var maxIdle = IdleDuration(seconds: 3600)

        @Option(name: .customLong("batch-size"), help: ArgumentHelp(
            "Sessions removed per statement, 1...100000.", valueName: "n"))
        var batchSize = 1000

        @Option(help: ArgumentHelp("What to do with a stale session: delete or archive.", valueName: "delete|archive"))
        var policy = CleanupPolicy.delete.rawValue

        func validate() throws {
            guard (1...100_000).contains(batchSize) else {
                throw ValidationError("--batch-size must be between 1 and 100000, got \(batchSize)")
            }
            _ = try parsePolicy(policy)
        }

        func run() async throws {
            let policy = try parsePolicy(policy)
            let result = try await connection.withStore {
                try await $0.cleanupStale(maxIdle: maxIdle.duration, batchSize: batchSize, policy: policy)
            }
            if connection.json {
                try Output.printJSON(CleanupReport(removed: result.removed, maxIdleSeconds: maxIdle.seconds, policy: policy.rawValue))
            } else {
                let verb = policy == .archive ? "archived" : "removed"
                print("\(verb) \(plural(result.removed, "stale session")) idle longer than \(maxIdle)")
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

        @Option(help: ArgumentHelp(
            "What the job does with a stale session: archive (the default: kept until purge) or delete.",
            valueName: "archive|delete"))
        var policy = CleanupPolicy.archive.rawValue

        func validate() throws {
            try requireText(cron, "--cron")
            _ = try parsePolicy(policy)
        }

        func run() async throws {
            let policy = try parsePolicy(policy)
            let schedule = try await connection.withStore {
                try await $0.scheduleCleanup(schedule: cron, maxIdle: maxIdle.duration, policy: policy)
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

/// The `--policy` of `cleanup` and `schedule`, or a usage error.
func parsePolicy(_ text: String) throws -> CleanupPolicy {
    guard let policy = CleanupPolicy(rawValue: text) else {
        throw ValidationError("--policy must be delete or archive, got \(text)")
    }
    return policy
}

/// What `cleanup --json` prints.
struct CleanupReport: Encodable {
    var removed: Int
    var maxIdleSeconds: Int64
    var policy: String

    enum CodingKeys: String, CodingKey {
        case removed, policy
        case maxIdleSeconds = "max_idle_seconds"
    }
}
