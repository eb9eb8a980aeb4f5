import Foundation

/// A change to the sessions, as sent on channel `llm_sessions` when its transaction commits.
///
/// The payload is `{"event", "session_id", "agent_role", "seq"}`; the one event per cleanup batch
/// (`archive` or `end`) has no session id nor role, but a `count`. Read them with
/// `SessionStore.events(agentRole:)`.
public struct SessionEvent: Sendable, Codable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        /// A session was created (also by `forkSession`).
        case create
        /// A turn was appended; `seq` is the new turn's.
        case append
        /// The newest turn was taken back; `seq` is the removed turn's.
        case pop
        /// A session was ended, or a cleanup batch deleted `count` sessions.
        case end
        /// A session was forked; the event names the new session.
        case fork
        /// A session was imported from an export document.
        case `import`
        /// A cleanup batch archived `count` sessions.
        case archive
        /// An archived session was restored.
        case restore
    }

    /// What happened.
    public var kind: Kind
    /// The session concerned; `nil` for a cleanup batch.
    public var sessionID: String?
    /// The session's agent role; `nil` for a cleanup batch.
    public var agentRole: String?
    /// The turn concerned, for `append` and `pop`.
    public var seq: Int?
    /// How many sessions a cleanup batch removed.
    public var count: Int?

    /// Creates an event from its fields.
    public init(kind: Kind, sessionID: String? = nil, agentRole: String? = nil, seq: Int? = nil, count: Int? = nil) {
        self.kind = kind
        self.sessionID = sessionID
        self.agentRole = agentRole
        self.seq = seq
        self.count = count
    }

    enum CodingKeys: String, CodingKey {
        case kind = "event"
        case sessionID = "session_id"
        case agentRole = "agent_role"
        case seq, count
    }
}
