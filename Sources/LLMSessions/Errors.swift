import Foundation

/// An error reported by the PostgreSQL server, with the fields libpq exposes for it.
public struct ServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The five-character SQLSTATE code, e.g. `22023`.
    public var sqlState: String
    /// The primary, human-readable message.
    public var message: String
    /// The optional detail line (DETAIL).
    public var detail: String?
    /// The optional hint on what to do about it (HINT).
    public var hint: String?
    /// The name of the constraint involved, if any.
    public var constraint: String?

    /// Creates a server error from its fields.
    public init(sqlState: String, message: String, detail: String? = nil, hint: String? = nil, constraint: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    /// `SQLSTATE: message`, followed by detail and hint lines when present.
    public var description: String {
        var text = "\(sqlState): \(message)"
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        return text
    }
}

/// The errors `SessionStore` throws, one case for each situation a caller can act on.
public enum SessionStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No session with this id exists (SQLSTATE P0002).
    case notFound(sessionID: String)
    /// `expectedTurnCount` did not match the stored turn count (SQLSTATE 40001).
    case conflict(sessionID: String, expected: Int, actual: Int)
    /// An argument was rejected, by the client (e.g. a NUL character) or the server (22xxx, 23514).
    case invalidArgument(String)
    /// A session with this id already exists, live or archived (SQLSTATE 23505 from `createSession`,
    /// `forkSession`, `importSession` or `restoreSession`).
    case duplicateSession(sessionID: String)
    /// The server could not be reached or the connection dropped mid-call.
    case connectionLost(String)
    /// Any other server error, with everything the server said.
    case server(ServerError)

    /// A one-line explanation suitable for a log or a terminal.
    public var description: String {
        switch self {
        case .notFound(let sessionID):
            return "session \"\(sessionID)\" not found"
        case .conflict(let sessionID, let expected, let actual):
            return "turn count conflict on session \"\(sessionID)\": expected \(expected), actual \(actual)"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .duplicateSession(let sessionID):
            return "session \"\(sessionID)\" already exists"
        case .connectionLost(let message):
            return "connection lost: \(message)"
        case .server(let error):
            return "server error \(error)"
        }
    }
}

/// The server answered with something the client could not decode into the expected model.
///
/// Names the model type and the path of the field that failed, e.g.
/// `Session.conversation_history[2].timestamp`.
public struct ResponseDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The Swift type being decoded, e.g. `Session`.
    public var type: String
    /// The JSON path of the offending field, empty for the top level.
    public var field: String
    /// What went wrong.
    public var reason: String

    /// Creates a decoding error for `type` at `field`.
    public init(type: String, field: String, reason: String) {
        self.type = type
        self.field = field
        self.reason = reason
    }

    /// `cannot decode Session at conversation_history[0].timestamp: ...`.
    public var description: String {
        let location = field.isEmpty ? "" : " at \(field)"
        return "cannot decode \(type)\(location): \(reason)"
    }
}

// MARK: - Mapping server errors (internal)

/// What a store call was doing, so an error can be mapped to the case a caller expects.
struct CallContext: Sendable {
    /// The session the call is about, if any.
    var sessionID: String?
    /// For calls that put a session under an id (create, fork, import, restore): where that id
    /// is, so that 23505 (the id is taken) becomes `duplicateSession`.
    var newSession: NewSession?

    /// Where the id of the session a call makes can be found.
    enum NewSession: Sendable {
        /// The id is known; `nil` when the server generates it.
        case id(String?)
        /// The id is `session.session_id` of this export document; read only when needed.
        case document(String)

        /// The session id, or `nil` when it is generated or the document has none.
        var sessionID: String? {
            switch self {
            case .id(let id):
                return id
            case .document(let text):
                struct Document: Decodable {
                    struct Session: Decodable {
                        var sessionID: String
                        enum CodingKeys: String, CodingKey { case sessionID = "session_id" }
                    }
                    var session: Session
                }
                return (try? SessionJSON.decode(Document.self, from: text))?.session.sessionID
            }
        }
    }
}

extension SessionStoreError {
    /// Maps a low-level database failure to the case a caller can switch on. The only place this happens.
    init(_ failure: DatabaseFailure, context: CallContext) {
        switch failure {
        case .connection(let message):
            self = .connectionLost(message)
        case .protocolViolation(let message):
            self = .server(ServerError(sqlState: "XX000", message: message))
        case .server(let error):
            self = Self.map(error, context: context)
        }
    }

    private static func map(_ error: ServerError, context: CallContext) -> SessionStoreError {
        let state = error.sqlState
        switch state {
        case "P0002":
            return .notFound(sessionID: context.sessionID ?? "")
        case "40001":
            if let (expected, actual) = parseConflictDetail(error.detail) {
                return .conflict(sessionID: context.sessionID ?? "", expected: expected, actual: actual)
            }
            return .server(error)
        case "23505":
            if let sessionID = context.newSession?.sessionID { return .duplicateSession(sessionID: sessionID) }
            return .server(error)
        case "23514":
            return .invalidArgument(error.message)
        default:
            if state.hasPrefix("22") { return .invalidArgument(error.message) }
            if state.hasPrefix("08") { return .connectionLost(error.message) }
            return .server(error)
        }
    }

    /// Reads `expected_turn_count=3 actual_turn_count=5` from a conflict's DETAIL.
    static func parseConflictDetail(_ detail: String?) -> (expected: Int, actual: Int)? {
        guard let detail else { return nil }
        var values: [String: Int] = [:]
        for word in detail.split(whereSeparator: { $0.isWhitespace }) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let number = Int(parts[1]) { values[String(parts[0])] = number }
        }
        guard let expected = values["expected_turn_count"], let actual = values["actual_turn_count"] else {
            return nil
        }
        return (expected, actual)
    }
}
