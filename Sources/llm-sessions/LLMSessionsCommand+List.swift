import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions list`: sessions, most recently used first, a page at a time.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List sessions, most recently used first, a page at a time.",
            discussion: """
                Pages are keyset pages: when more sessions follow, the output ends with the \
                command for the next page (--before and --before-id, from the last row shown).
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "Only sessions of this agent role.")
        var role: String?

        @Option(help: "Rows per page, 1...1000.")
        var limit: Int = 100

        @Option(help: ArgumentHelp(
            "Continue after this last_query_at (from the previous page's hint).", valueName: "timestamp"))
        var before: String?

        @Option(name: .customLong("before-id"), help: ArgumentHelp(
            "Continue after this session id (with --before).", valueName: "id"))
        var beforeID: String?

        func validate() throws {
            try requireText(role, "--role")
            guard (1...1000).contains(limit) else {
                throw ValidationError("--limit must be between 1 and 1000, got \(limit)")
            }
            guard (before == nil) == (beforeID == nil) else {
                throw ValidationError("--before and --before-id go together")
            }
            if let before, PostgresTimestamp.parse(before) == nil {
                throw ValidationError("--before is not a timestamp like 2026-11-24T21:30:47.123456+00:00: \(before)")
            }
            try requireText(beforeID, "--before-id")
        }

        func run() async throws {
            var cursor: SessionPage.Cursor?
            if let before, let beforeID, let date = PostgresTimestamp.parse(before) {
                cursor = SessionPage.Cursor(before: date, beforeID: beforeID)
            }
            let page = try await connection.withStore {
                try await $0.listSessions(agentRole: role, limit: limit, after: cursor)
            }
            if connection.json {
                try Output.printJSON(page)
                return
            }
            if page.sessions.isEmpty {
                print("no sessions")
            } else {
                var table = Table(
                    .init(header: "SESSION"), .init(header: "ROLE"),
                    .init(header: "TURNS", alignment: .right), .init(header: "TOKENS", alignment: .right),
                    .init(header: "CREATED"), .init(header: "LAST QUERY"))
                for session in page.sessions {
                    table.append(
                        session.sessionID, session.agentRole, "\(session.turnCount)", "\(session.totalTokens)",
                        Output.human(session.createdAt), Output.human(session.lastQueryAt))
                }
                print(table.render())
            }
            if let next = page.next {
                var command = ["llm-sessions", "list"]
                if let role { command += ["--role", shellQuoted(role)] }
                if limit != 100 { command += ["--limit", "\(limit)"] }
                command += ["--before", shellQuoted(PostgresTimestamp.format(next.before)), "--before-id", shellQuoted(next.beforeID)]
                print("\nnext page: \(command.joined(separator: " "))")
            }
        }
    }
}

/// A word as a POSIX shell reads it back unchanged.
func shellQuoted(_ word: String) -> String {
    let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.:/@%+=,"))
    if !word.isEmpty, word.unicodeScalars.allSatisfy({ $0.isASCII && safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}
