import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions context`: the newest turns that fit a token budget, as chat messages.
    struct Context: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The newest turns that fit --max-tokens, as chat messages (exit 3 if there is no such session).",
            discussion: """
                Oldest first, each turn as a user and an assistant message, after the startup \
                context as a system message (unless --no-system-prompt; its tokens are not \
                counted, the session does not store them). A turn that does not fit ends the \
                window. --json prints the server's shape, whose "messages" array an OpenAI-style \
                chat API takes as it is.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        @Option(name: .customLong("max-tokens"), help: ArgumentHelp(
            "The token budget for the turns, 0...\(Int32.max).", valueName: "n"))
        var maxTokens: Int

        @Flag(name: .customLong("no-system-prompt"), help: "Leave out the startup context (the system message).")
        var noSystemPrompt = false

        func validate() throws {
            try requireText(sessionID, "SESSION_ID")
            guard (0...Int(Int32.max)).contains(maxTokens) else {
                throw ValidationError("--max-tokens must be between 0 and \(Int32.max), got \(maxTokens)")
            }
        }

        func run() async throws {
            let window = try await connection.withStore { store -> ContextWindow in
                guard let window = try await store.context(
                    for: sessionID, maxTokens: maxTokens, systemPrompt: !noSystemPrompt) else {
                    throw SessionStoreError.notFound(sessionID: sessionID)
                }
                return window
            }
            if connection.json {
                try Output.printJSON(window)
                return
            }
            print(keyValueLines([
                ("session", window.sessionID),
                ("included", "\(plural(window.turnsIncluded, "turn")), \(window.tokensIncluded) tokens (budget \(maxTokens))"),
                ("left out", window.turnsOmitted == 0
                    ? "nothing"
                    : "\(plural(window.turnsOmitted, "older turn")), \(window.tokensOmitted) tokens"),
            ]))
            print()
            if window.messages.isEmpty {
                print("no messages")
                return
            }
            var table = Table(.init(header: "ROLE"), .init(header: "CONTENT"))
            for message in window.messages {
                table.append(message.role.rawValue, Output.excerpt(message.content, limit: 80))
            }
            print(table.render())
        }
    }
}
