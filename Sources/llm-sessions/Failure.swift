import ArgumentParser
import Foundation
import LLMSessions

/// How a failure leaves the process: a message on stderr and a documented exit code.
enum Failure {
    static let noSuchSession: Int32 = 3
    static let conflict: Int32 = 4
    static let invalidArgument: Int32 = 65   // EX_DATAERR
    static let noInput: Int32 = 66           // EX_NOINPUT
    static let unavailable: Int32 = 69       // EX_UNAVAILABLE
    static let software: Int32 = 70          // EX_SOFTWARE
    static let cannotCreate: Int32 = 73      // EX_CANTCREAT

    /// Prints `error` to stderr and returns the exit code to throw.
    /// Errors ArgumentParser already understands (ExitCode, CleanExit, ValidationError) pass through.
    static func report(_ error: Error, hint: String? = nil) -> Error {
        switch error {
        case is ExitCode, is CleanExit, is ValidationError:
            return error
        default:
            let (code, lines) = describe(error)
            printError(lines + (hint.map { ["hint: \($0)"] } ?? []))
            return ExitCode(code)
        }
    }

    /// The exit code and the message lines for an error.
    static func describe(_ error: Error) -> (Int32, [String]) {
        guard let error = error as? SessionStoreError else {
            return (software, ["\(error)"])
        }
        switch error {
        case .notFound(let sessionID):
            return (noSuchSession, ["no such session: \(sessionID)"])
        case .conflict(let sessionID, let expected, let actual):
            return (conflict, [
                "turn count conflict on session \(sessionID): expected \(expected), actual \(actual)",
                "hint: read the session again and retry with --expect-turn-count \(actual)",
            ])
        case .duplicateSession(let sessionID):
            return (conflict, ["session already exists: \(sessionID)"])
        case .invalidArgument(let message):
            return (invalidArgument, ["invalid argument: \(message)"])
        case .connectionLost(let message):
            return (unavailable, ["cannot reach the database server: \(message)"])
        case .server(let server):
            var lines = ["server error \(server.sqlState): \(server.message)"]
            if let detail = server.detail { lines.append("detail: \(detail)") }
            if let hint = server.hint { lines.append("hint: \(hint)") }
            return (software, lines)
        }
    }

    /// Writes lines to stderr, the first one prefixed with the tool's name.
    static func printError(_ lines: [String]) {
        guard let first = lines.first else { return }
        let text = (["llm-sessions: error: \(first)"] + lines.dropFirst()).joined(separator: "\n") + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
