import Foundation

/// What `importSession` does when the document's session id exists already (live or archived).
public enum ImportConflictPolicy: String, Sendable, Codable, Hashable, CaseIterable {
    /// Refuse the import: `SessionStoreError.duplicateSession`.
    case error
    /// Keep the existing session and change nothing.
    case skip
    /// Overwrite the existing session (and its turns) with the document.
    case replace
}

/// The outcome of `importSession`.
public struct ImportResult: Sendable, Codable, Hashable {
    /// What happened to the document's session.
    public enum Status: String, Sendable, Codable, Hashable, CaseIterable {
        /// The id was free; the session was created.
        case imported
        /// The id was taken and the policy was `.skip`; nothing changed.
        case skipped
        /// The id was taken and the policy was `.replace`; the session was overwritten.
        case replaced
    }

    /// The imported session's id (from the document).
    public var sessionID: String
    /// What happened.
    public var status: Status
    /// How many turns were written (0 when skipped).
    public var turns: Int

    /// Creates an import result.
    public init(sessionID: String, status: Status, turns: Int) {
        self.sessionID = sessionID
        self.status = status
        self.turns = turns
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case status, turns
    }
}
