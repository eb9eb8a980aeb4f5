import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions pop`: removes the newest turn (undo).
    struct Pop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the newest turn of a session and print it (undo).",
            discussion: """
                The counters are corrected in the same transaction. A session without turns \
                is not an error: the command says so and exits 0 (--json prints null, as \
                llm.pop_turn returns NULL). An unknown session exits 3.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        func validate() throws { try requireText(sessionID, "SESSION_ID") }

        func run() async throws {
            let popped = try await connection.withStore { try await $0.popTurn(from: sessionID) }
            if connection.json {
                if let popped { try Output.printJSON(popped) } else { print("null") }
                return
            }
            guard let popped else {
                print("session \(sessionID) has no turns: nothing removed")
                return
            }
            print(keyValueLines([
                ("session", popped.sessionID),
                ("removed seq", "\(popped.turn.seq)"),
                ("question", Output.excerpt(popped.turn.question, limit: 80)),
                ("response", Output.excerpt(popped.turn.response, limit: 80)),
                ("tokens", "\(popped.turn.tokens)"),
                ("turn count", "\(popped.turnCount)"),
                ("total tokens", "\(popped.totalTokens)"),
            ]))
        }
    }

    /// `llm-sessions fork`: a new session with a copy of the history up to a turn.
    struct Fork: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new session with a copy of a session's history up to --at (default: all of it).",
            discussion: """
                The fork takes the parent's role, startup context and metadata, and records its \
                parent and the seq it was forked at. Exit 3 when the parent does not exist, 4 \
                when --id is taken, 65 when --at is beyond the parent's turns.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The parent session id.")
        var sessionID: String

        @Option(help: ArgumentHelp("Copy turns 1...seq only (0: none).", valueName: "seq"))
        var at: Int?

        @Option(help: "Use this id for the new session instead of a generated one.")
        var id: String?

        func validate() throws {
            try requireText(sessionID, "SESSION_ID")
            if let at, !(0...Int(Int32.max)).contains(at) {
                throw ValidationError("--at must be between 0 and \(Int32.max), got \(at)")
            }
            try requireText(id, "--id")
        }

        func run() async throws {
            let fork = try await connection.withStore {
                try await $0.forkSession(sessionID, atSeq: at, newSessionID: id)
            }
            if connection.json {
                try Output.printJSON(fork)
                return
            }
            print(sessionHeader(fork))
        }
    }
}
