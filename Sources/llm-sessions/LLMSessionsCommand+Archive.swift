import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions pin`: keeps a session out of every cleanup.
    struct Pin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin a session: cleanup never archives or deletes it (exit 3 if there is no such live session).")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        func validate() throws { try requireText(sessionID, "SESSION_ID") }

        func run() async throws {
            try await setPinned(true, sessionID: sessionID, connection: connection)
        }
    }

    /// `llm-sessions unpin`: lets cleanup remove a session again.
    struct Unpin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unpin a session: cleanup may remove it again once it is idle (exit 3 if there is no such live session).")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        func validate() throws { try requireText(sessionID, "SESSION_ID") }

        func run() async throws {
            try await setPinned(false, sessionID: sessionID, connection: connection)
        }
    }

    /// `llm-sessions restore`: brings an archived session back.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an archived session and its turns back, exactly as they were (needs llm_admin).",
            discussion: "Exit 3 when the session is not in the archive, 4 when it is live already.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The session id.")
        var sessionID: String

        func validate() throws { try requireText(sessionID, "SESSION_ID") }

        func run() async throws {
            let summary: SessionSummary
            do {
                summary = try await connection.withStore { try await $0.restoreSession(sessionID) }
            } catch let exit as ExitCode where exit.rawValue == Failure.noSuchSession {
                writeToStandardError("hint: only archived sessions can be restored (cleanup --policy archive archives)\n")
                throw exit
            }
            if connection.json {
                try Output.printJSON(summary)
                return
            }
            print("restored session \(summary.sessionID): \(plural(summary.turnCount, "turn")), \(summary.totalTokens) tokens")
        }
    }

    /// `llm-sessions purge`: deletes archived sessions for good.
    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete for good the sessions archived longer ago than --older-than (needs llm_admin).",
            discussion: "Only the archive is touched; live sessions are never purged.")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("older-than"), help: ArgumentHelp(
            "Purge sessions archived at least this long ago: 90s, 15m, 1h, 30d.", valueName: "duration"))
        var olderThan: IdleDuration

        @Option(name: .customLong("batch-size"), help: ArgumentHelp(
            "Sessions deleted per statement, 1...100000.", valueName: "n"))
        var batchSize = 1000

        func validate() throws {
            guard (1...100_000).contains(batchSize) else {
                throw ValidationError("--batch-size must be between 1 and 100000, got \(batchSize)")
            }
        }

        func run() async throws {
            let purged = try await connection.withStore {
                try await $0.purgeArchive(olderThan: olderThan.duration, batchSize: batchSize)
            }
            if connection.json {
                try Output.printJSON(PurgeReport(purged: purged, olderThanSeconds: olderThan.seconds))
            } else {
                print("purged \(plural(purged, "archived session")) archived longer than \(olderThan) ago")
            }
        }
    }
}

/// Pins or unpins, and prints the outcome (`pin`, `unpin`).
private func setPinned(_ pinned: Bool, sessionID: String, connection: ConnectionOptions) async throws {
    let summary = try await connection.withStore { try await $0.pinSession(sessionID, pinned: pinned) }
    if connection.json {
        try Output.printJSON(summary)
    } else {
        print(pinned
            ? "pinned session \(summary.sessionID): cleanup keeps it"
            : "unpinned session \(summary.sessionID): cleanup may remove it once idle")
    }
}

/// What `purge --json` prints.
struct PurgeReport: Encodable {
    var purged: Int
    var olderThanSeconds: Int64

    enum CodingKeys: String, CodingKey {
        case purged
        case olderThanSeconds = "older_than_seconds"
    }
}
