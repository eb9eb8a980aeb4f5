import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions create`: starts a session for an agent role.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a session for an agent role and print its id.")

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "The agent role, e.g. ceo.")
        var role: String

        @Option(help: "The startup context (system prompt) the agent begins with.")
        var context: String?

        @Option(help: "Use this session id instead of a generated <role>_<unix seconds>_<6 digits>.")
        var id: String?

        @Option(help: ArgumentHelp("Metadata as a JSON object.", valueName: "json"))
        var metadata: String?

        func validate() throws {
            try requireText(role, "--role")
            try requireText(id, "--id")
            _ = try parseMetadata(metadata)
        }

        func run() async throws {
            let metadata = try parseMetadata(metadata)
            let session = try await connection.withStore {
                try await $0.createSession(agentRole: role, startupContext: context, sessionID: id, metadata: metadata)
            }
            if connection.json {
                try Output.printJSON(session)
            } else {
                print(sessionHeader(session))
            }
        }
    }

    /// `llm-sessions append`: stores one question/response turn.
    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a question/response turn to a session.",
            discussion: """
                With --expect-turn-count the turn is stored only if the session has exactly \
                that many turns (exit 4 otherwise). With --request-id a retried call returns \
                the stored turn instead of adding one.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        @Option(help: "The question asked.")
        var question: String

        @Option(help: "The response given.")
        var response: String

        @Option(help: "Tokens the exchange used.")
        var tokens: Int = 0

        @Option(help: ArgumentHelp("Metadata for the turn as a JSON object.", valueName: "json"))
        var metadata: String?

        @Option(name: .customLong("expect-turn-count"), help: ArgumentHelp(
            "Store the turn only if the session has exactly this many turns.", valueName: "n"))
        var expectedTurnCount: Int?

        @Option(name: .customLong("request-id"), help: ArgumentHelp(
            "Idempotency key: a retry with the same id stores nothing new.", valueName: "id"))
        var requestID: String?

        func validate() throws {
            try requireText(sessionID, "SESSION_ID")
            guard (0...Int(Int32.max)).contains(tokens) else {
                throw ValidationError("--tokens must be between 0 and \(Int32.max), got \(tokens)")
            }
            if let expectedTurnCount, expectedTurnCount < 0 {
                throw ValidationError("--expect-turn-count must not be negative, got \(expectedTurnCount)")
            }
            try requireText(requestID, "--request-id")
            _ = try parseMetadata(metadata)
        }

        func run() async throws {
            let metadata = try parseMetadata(metadata)
            let appended = try await connection.withStore {
                try await $0.appendTurn(
                    to: sessionID, question: question, response: response, tokens: tokens,
                    metadata: metadata, expectedTurnCount: expectedTurnCount, requestID: requestID)
            }
            if connection.json {
                try Output.printJSON(appended)
                return
            }
            print(keyValueLines([
                ("session", appended.sessionID),
                ("seq", "\(appended.turn.seq)" + (appended.replayed ? " (replayed: already stored, nothing added)" : "")),
                ("tokens", "\(appended.turn.tokens)"),
                ("turn count", "\(appended.turnCount)"),
                ("total tokens", "\(appended.totalTokens)"),
                ("timestamp", Output.human(appended.turn.timestamp)),
            ]))
        }
    }

    /// `llm-sessions show`: a session's header and conversation history.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a session and its conversation history (exit 3 if there is none).")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        @Option(help: ArgumentHelp("Show only the newest n turns.", valueName: "n"))
        var last: Int?

        func validate() throws {
            try requireText(sessionID, "SESSION_ID")
            if let last, last < 0 { throw ValidationError("--last must not be negative, got \(last)") }
        }

        func run() async throws {
            let session = try await connection.withStore { store -> Session in
                guard let session = try await store.session(sessionID, lastN: last) else {
                    throw SessionStoreError.notFound(sessionID: sessionID)
                }
                return session
            }
            if connection.json {
                try Output.printJSON(session)
                return
            }
            print(sessionHeader(session))
            print()
            let shown = session.conversationHistory.count
            if session.turnCount == 0 {
                print("no turns yet")
            } else if shown > 0 {
                print(historyTable(session.conversationHistory))
            }
            if shown < session.turnCount {
                print("(newest \(shown) of \(session.turnCount) turns shown)")
            }
        }
    }

    /// `llm-sessions end`: deletes a session and its turns.
    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a session: delete it with its history (exit 3 if there is none).")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        func validate() throws { try requireText(sessionID, "SESSION_ID") }

        func run() async throws {
            let existed = try await connection.withStore { try await $0.endSession(sessionID) }
            if connection.json {
                try Output.printJSON(EndReport(sessionID: sessionID, ended: existed))
            }
            guard existed else {
                Failure.printError(["no such session: \(sessionID)"])
                throw ExitCode(Failure.noSuchSession)
            }
            if !connection.json { print("ended session \(sessionID)") }
        }
    }
}

/// What `end --json` prints.
struct EndReport: Encodable {
    var sessionID: String
    var ended: Bool

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case ended
    }
}

/// The key/value header of a session.
func sessionHeader(_ session: Session) -> String {
    var pairs: [(String, String)] = [
        ("session", session.sessionID),
        ("role", session.agentRole),
    ]
    if let context = session.startupContext {
        pairs.append(("context", Output.excerpt(context, limit: 100)))
    }
    pairs += [
        ("turns", "\(session.turnCount)"),
        ("total tokens", "\(session.totalTokens)"),
        ("metadata", Output.compact(session.metadata)),
        ("created", Output.human(session.createdAt)),
        ("last query", Output.human(session.lastQueryAt)),
    ]
    if session.pinned { pairs.append(("pinned", "yes: cleanup keeps it")) }
    if let parent = session.parentSessionID {
        pairs.append(("forked from", parent + (session.parentSeq.map { " at seq \($0)" } ?? "")))
    }
    return keyValueLines(pairs)
}

/// The conversation as a table, oldest turn first.
func historyTable(_ turns: [Turn], excerpt: Int = 40) -> String {
    var table = Table(
        .init(header: "SEQ", alignment: .right), .init(header: "TIMESTAMP"),
        .init(header: "TOKENS", alignment: .right), .init(header: "QUESTION"), .init(header: "RESPONSE"))
    for turn in turns {
        table.append(
            "\(turn.seq)", Output.human(turn.timestamp), "\(turn.tokens)",
            Output.excerpt(turn.question, limit: excerpt), Output.excerpt(turn.response, limit: excerpt))
    }
    return table.render()
}
