import Foundation

/// A session as listed by `listSessions`: totals and times, without context or history.
public struct SessionSummary: Sendable, Codable, Hashable {
    /// The session's id.
    public var sessionID: String
    /// The agent role the session belongs to.
    public var agentRole: String
    /// How many turns the session has.
    public var turnCount: Int
    /// The sum of all turns' tokens.
    public var totalTokens: Int64
    /// Free-form metadata stored with the session.
    public var metadata: JSONValue
    /// When the session was created.
    public var createdAt: Date
    /// When the session was last created, appended to or read.
    public var lastQueryAt: Date
    /// Whether the session is pinned: no cleanup archives or deletes it (see `pinSession`).
    public var pinned: Bool
    /// The session this one was forked from, if it is a fork (see `forkSession`).
    public var parentSessionID: String?
    /// How many of the parent's turns the fork copied; set exactly when `parentSessionID` is.
    public var parentSeq: Int?

    /// Creates a summary from its fields.
    public init(sessionID: String, agentRole: String, turnCount: Int, totalTokens: Int64, metadata: JSONValue = [:], createdAt: Date, lastQueryAt: Date, pinned: Bool = false, parentSessionID: String? = nil, parentSeq: Int? = nil) {
        self.sessionID = sessionID
        self.agentRole = agentRole
        self.turnCount = turnCount
        self.totalTokens = totalTokens
        self.metadata = metadata
        self.createdAt = createdAt
        self.lastQueryAt = lastQueryAt
        self.pinned = pinned
        self.parentSessionID = parentSessionID
        self.parentSeq = parentSeq
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case agentRole = "agent_role"
        case turnCount = "turn_count"
        case totalTokens = "total_tokens"
        case metadata
        case createdAt = "created_at"
        case lastQueryAt = "last_query_at"
        case pinned
        case parentSessionID = "parent_session_id"
        case parentSeq = "parent_seq"
    }
}

/// One page of `listSessions`, newest activity first, with the cursor for the next page.
public struct SessionPage: Sendable, Codable, Hashable {
    /// The sessions on this page, ordered by last activity (newest first), then id.
    public var sessions: [SessionSummary]
    /// Where the next page starts; `nil` on the last page.
    public var next: Cursor?

    /// A keyset position: the page continues with sessions strictly after (older than) this one.
    public struct Cursor: Sendable, Codable, Hashable {
        /// The last listed session's `lastQueryAt`.
        public var before: Date
        /// The last listed session's id, breaking ties between equal times.
        public var beforeID: String

        /// Creates a cursor from the last session of a page.
        public init(before: Date, beforeID: String) {
            self.before = before
            self.beforeID = beforeID
        }

        enum CodingKeys: String, CodingKey {
            case before
            case beforeID = "before_id"
        }
    }

    /// Creates a page from its sessions and the next cursor.
    public init(sessions: [SessionSummary], next: Cursor?) {
        self.sessions = sessions
        self.next = next
    }

    enum CodingKeys: String, CodingKey {
        case sessions
        case next = "next_page"
    }
}
