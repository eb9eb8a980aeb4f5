import ArgumentParser
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions stats`: sessions, turns and tokens per agent role.
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sessions, turns and tokens per agent role (needs llm_admin).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let stats = try await connection.withStore { try await $0.stats() }
            if connection.json {
                try Output.printJSON(stats)
                return
            }
            guard !stats.isEmpty else {
                print("no sessions")
                return
            }
            var table = Table(
                .init(header: "ROLE"), .init(header: "SESSIONS", alignment: .right),
                .init(header: "TURNS", alignment: .right), .init(header: "TOKENS", alignment: .right))
            for row in stats {
                table.append(row.agentRole, "\(row.sessions)", "\(row.turns)", "\(row.tokens)")
            }
            if stats.count > 1 {
                table.append(
                    "(all)", "\(stats.map(\.sessions).reduce(0, +))", "\(stats.map(\.turns).reduce(0, +))",
                    "\(stats.map(\.tokens).reduce(0, +))")
            }
            print(table.render())
        }
    }
}
