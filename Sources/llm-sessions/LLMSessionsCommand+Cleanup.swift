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

                Without --paced, every batch runs in one transaction (llm.cleanup_stale): all or \
                nothing, and quickest. With --paced (llm.run_cleanup), each batch is committed on \
                its own, sized to work about 1 ms (at most --batch-size sessions) and followed by \
                a pause, so that the cleanup works at most --busy-share of the time, in bursts \
                too short to keep live calls waiting: slower, but made to run beside live \
                traffic, whose appends a long cleanup transaction slows down. An error in a paced \
                cleanup leaves the batches before it done.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("max-idle"), help: ArgumentHelp(
            "Idle time after which a session is stale: 90s, 15m, 1h, 7d, 1h30m.", valueName: "duration"))
        var maxIdle = IdleDuration(seconds: 3600)

        @Option(name: .customLong("batch-size"), help: ArgumentHelp(
            "Sessions removed per statement (with --paced: at most, per committed batch), 1...100000 (default: 1000).",
            valueName: "n"))
        var batchSize: Int?

        @Option(help: ArgumentHelp("What to do with a stale session: delete or archive.", valueName: "delete|archive"))
        var policy = CleanupPolicy.delete.rawValue

        @Flag(help: "Commit every batch and pause between them, for use beside live traffic (default: one transaction).")
        var paced = false

        @Option(name: .customLong("busy-share"), help: ArgumentHelp(
            "With --paced: the share of the time spent working, 0.01 to 1 (default: 0.5, pausing as long as each batch took).",
            valueName: "x"))
        var busyShare: Double?

        /// The batch size used: the option, else the default of the SQL that runs (the same for both).
        var effectiveBatchSize: Int { batchSize ?? 1000 }

        func validate() throws {
            guard (1...100_000).contains(effectiveBatchSize) else {
                throw ValidationError("--batch-size must be between 1 and 100000, got \(effectiveBatchSize)")
            }
            _ = try parsePolicy(policy)
            if let busyShare {
                guard paced else { throw ValidationError("--busy-share applies only with --paced") }
                // Written so that NaN fails too.
                guard busyShare >= 0.01, busyShare <= 1 else {
                    throw ValidationError("--busy-share must be between 0.01 and 1, got \(busyShare)")
                }
            }
        }

        func run() async throws {
            let policy = try parsePolicy(policy)
            let busyShare = paced ? (busyShare ?? 0.5) : nil
            let result = try await connection.withStore { store in
                if let busyShare {
                    return try await store.runCleanup(
                        maxIdle: maxIdle.duration, batchSize: effectiveBatchSize, policy: policy, busyShare: busyShare)
                }
                return try await store.cleanupStale(maxIdle: maxIdle.duration, batchSize: effectiveBatchSize, policy: policy)
            }
            if connection.json {
                try Output.printJSON(CleanupReport(
                    removed: result.removed, maxIdleSeconds: maxIdle.seconds, policy: policy.rawValue,
                    paced: paced, busyShare: busyShare))
            } else {
                let verb = policy == .archive ? "archived" : "removed"
                let pacing = busyShare.map { ", paced (batches of at most \(effectiveBatchSize), busy share \($0))" } ?? ""
                print("\(verb) \(plural(result.removed, "stale session")) idle longer than \(maxIdle)\(pacing)")
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

/// What `cleanup --json` prints; `busy_share` only with `--paced`.
struct CleanupReport: Encodable {
    var removed: Int
    var maxIdleSeconds: Int64
    var policy: String
    var paced: Bool
    var busyShare: Double?

    enum CodingKeys: String, CodingKey {
        case removed, policy, paced
        case maxIdleSeconds = "max_idle_seconds"
        case busyShare = "busy_share"
    }
}
