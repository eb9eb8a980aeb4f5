import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions stats`: usage per agent role, or per day with --daily.
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Usage per agent role, or per day with --daily (needs llm_admin).",
            discussion: """
                Per role (the view llm.role_usage): live sessions, their turns and tokens, \
                average turns per session, idle (unused for an hour or more), active and pinned \
                live sessions, and archived sessions. With --daily (the view llm.daily_usage): \
                per UTC day of creation and role, the sessions that still exist, live or \
                archived, with their turns and tokens, newest day first.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Per day of creation and role instead of per role.")
        var daily = false

        @Option(help: ArgumentHelp("With --daily: this many days back, today included (default 30).", valueName: "n"))
        var days: Int?

        func validate() throws {
            if let days {
                guard daily else { throw ValidationError("--days goes with --daily") }
                guard (1...36_600).contains(days) else {
                    throw ValidationError("--days must be between 1 and 36600, got \(days)")
                }
            }
        }

        func run() async throws {
            if daily {
                try await printDaily()
            } else {
                try await printPerRole()
            }
        }

        private func printPerRole() async throws {
            let usage = try await connection.withStore { try await $0.roleUsage() }
            if connection.json {
                try Output.printJSON(usage)
                return
            }
            guard !usage.isEmpty else {
                print("no sessions")
                return
            }
            var table = Table(
                .init(header: "ROLE"), .init(header: "SESSIONS", alignment: .right),
                .init(header: "TURNS", alignment: .right), .init(header: "TOKENS", alignment: .right),
                .init(header: "AVG TURNS", alignment: .right), .init(header: "IDLE", alignment: .right),
                .init(header: "ACTIVE", alignment: .right), .init(header: "PINNED", alignment: .right),
                .init(header: "ARCHIVED", alignment: .right))
            for row in usage {
                table.append(
                    row.agentRole, "\(row.sessions)", "\(row.turns)", "\(row.tokens)",
                    String(format: "%.2f", Double(row.avgTurnsPerSession)), "\(row.idleSessions)",
                    "\(row.activeSessions)", "\(row.pinnedSessions)", "\(row.archivedSessions)")
            }
            if usage.count > 1 {
                let sessions = usage.map { Int64($0.sessions) }.reduce(0, +)
                let turns = usage.map { Int64($0.turns) }.reduce(0, +)
                table.append(
                    "(all)", "\(sessions)", "\(turns)", "\(usage.map { Int64($0.tokens) }.reduce(0, +))",
                    String(format: "%.2f", sessions == 0 ? 0 : Double(turns) / Double(sessions)),
                    "\(usage.map { Int64($0.idleSessions) }.reduce(0, +))",
                    "\(usage.map { Int64($0.activeSessions) }.reduce(0, +))",
                    "\(usage.map { Int64($0.pinnedSessions) }.reduce(0, +))",
                    "\(usage.map { Int64($0.archivedSessions) }.reduce(0, +))")
            }
            print(table.render())
        }

        private func printDaily() async throws {
            let usage = try await connection.withStore { try await $0.dailyUsage(days: days ?? 30) }
            if connection.json {
                try Output.printJSON(usage)
                return
            }
            guard !usage.isEmpty else {
                print("no sessions created in the last \(plural(days ?? 30, "day"))")
                return
            }
            var table = Table(
                .init(header: "DAY"), .init(header: "ROLE"), .init(header: "SESSIONS", alignment: .right),
                .init(header: "TURNS", alignment: .right), .init(header: "TOKENS", alignment: .right))
            for row in usage {
                table.append(row.day, row.agentRole, "\(row.sessions)", "\(row.turns)", "\(row.tokens)")
            }
            print(table.render())
        }
    }
}
