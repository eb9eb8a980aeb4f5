import Foundation

/// A conversation: its identity, totals, and (the newest part of) its history.
public struct Session: Sendable, Codable, Hashable {
    /// The session's id, e.g. `ceo_1762844141_407770`.
    public var sessionID: String
    /// The agent role the session belongs to.
    public var agentRole: String
    /// The context the agent started with, if any.
    public var startupContext: String?
    /// How many turns the session has in total (not only those in `conversationHistory`).
    public var turnCount: Int
    /// The sum of all turns' tokens.
    public var totalTokens: Int64
    /// Free-form metadata stored with the session (a JSON object).
    public var metadata: JSONValue
    /// When the session was created.
    public var createdAt: Date
    /// When the session was last created, appended to or read.
    public var lastQueryAt: Date
    /// The returned turns, oldest first; all of them, or the newest `lastN` when asked.
    public var conversationHistory: [Turn]
    /// Whether the session is pinned: no cleanup archives or deletes it (see `pinSession`).
    public var pinned: Bool
    /// The session this one was forked from, if it is a fork (see `forkSession`).
    public var parentSessionID: String?
    /// How many of the parent's turns the fork copied; set exactly when `parentSessionID` is.
    public var parentSeq: Int?

    /// Creates a session from its fields.
    public init(sessionID: String, agentRole: String, startupContext: String? = nil, turnCount: Int, totalTokens: Int64, metadata: JSONValue = [:], createdAt: Date, lastQueryAt: Date, conversationHistory: [Turn] = [], pinned: Bool = false, parentSessionID: String? = nil, parentSeq: Int? = nil) {
        self.sessionID = sessionID
        self.agentRole = agentRole
        self.startupContext = startupContext
        self.turnCount = turnCount
        self.totalTokens = totalTokens
        self.metadata = metadata
        self.createdAt = createdAt
        self.lastQueryAt = lastQueryAt
        self.conversationHistory = conversationHistory
        self.pinned = pinned
        self.parentSessionID = parentSessionID
        self.parentSeq = parentSeq
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case agentRole = "agent_role"
        case startupContext = "startup_context"
        case turnCount = "turn_count"
        case totalTokens = "total_tokens"
        case metadata
        case createdAt = "created_at"
        case lastQueryAt = "last_query_at"
        case conversationHistory = "conversation_history"
        case pinned
        case parentSessionID = "parent_session_id"
        case parentSeq = "parent_seq"
    }
}
