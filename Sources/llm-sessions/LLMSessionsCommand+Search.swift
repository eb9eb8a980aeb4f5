import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions search`: ranked full-text search over the turns of live sessions.
    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search the questions and responses of live sessions, best match first.",
            discussion: """
                QUERY uses web-search syntax: words, "a phrase", or, -word. The table marks \
                matches in the snippet as *word*; --json prints {"hits": [...]} as \
                llm.search_turns returns it, with the server's <b></b> marks.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "What to search for.")
        var query: String

        @Option(help: "Only sessions of this agent role.")
        var role: String?

        @Option(help: "At most this many hits, 1...100.")
        var limit = 20

        func validate() throws {
            try requireText(query, "QUERY")
            try requireText(role, "--role")
            guard (1...100).contains(limit) else {
                throw ValidationError("--limit must be between 1 and 100, got \(limit)")
            }
        }

        func run() async throws {
            let hits = try await connection.withStore {
                try await $0.searchTurns(query, agentRole: role, limit: limit)
            }
            if connection.json {
                try Output.printJSON(["hits": hits])
                return
            }
            guard !hits.isEmpty else {
                print("no matches")
                return
            }
            var table = Table(
                .init(header: "SESSION"), .init(header: "SEQ", alignment: .right), .init(header: "ROLE"),
                .init(header: "RANK", alignment: .right), .init(header: "SNIPPET"))
            for hit in hits {
                table.append(
                    hit.sessionID, "\(hit.seq)", hit.agentRole, String(format: "%.4f", hit.rank),
                    Output.excerpt(Self.markedForTerminal(hit.snippet), limit: 100))
            }
            print(table.render())
        }

        /// The server's `<b>word</b>` marks as `*word*`.
        static func markedForTerminal(_ snippet: String) -> String {
            snippet.replacingOccurrences(of: "<b>", with: "*").replacingOccurrences(of: "</b>", with: "*")
        }
    }
}
