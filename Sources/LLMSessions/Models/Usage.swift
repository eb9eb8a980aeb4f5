import Foundation

/// One row of the view `llm.role_usage`: the live (and archived) sessions of one agent role.
public struct RoleUsage: Sendable, Codable, Hashable {
    /// The agent role.
    public var agentRole: String
    /// Live sessions of the role.
    public var sessions: Int
    /// Turns across the live sessions.
    public var turns: Int64
    /// Tokens across the live sessions.
    public var tokens: Int64
    /// Turns per live session, rounded to two decimals (0 without live sessions).
    public var avgTurnsPerSession: Double
    /// Live sessions without activity for an hour or more.
    public var idleSessions: Int
    /// Live sessions active within the last hour.
    public var activeSessions: Int
    /// Pinned live sessions.
    public var pinnedSessions: Int
    /// Archived sessions of the role.
    public var archivedSessions: Int

    /// Creates a row from its fields.
    public init(agentRole: String, sessions: Int, turns: Int64, tokens: Int64, avgTurnsPerSession: Double,
                idleSessions: Int, activeSessions: Int, pinnedSessions: Int, archivedSessions: Int) {
        self.agentRole = agentRole
        self.sessions = sessions
        self.turns = turns
        self.tokens = tokens
        self.avgTurnsPerSession = avgTurnsPerSession
        self.idleSessions = idleSessions
        self.activeSessions = activeSessions
        self.pinnedSessions = pinnedSessions
        self.archivedSessions = archivedSessions
    }

    enum CodingKeys: String, CodingKey {
        case agentRole = "agent_role"
        case sessions, turns, tokens
        case avgTurnsPerSession = "avg_turns_per_session"
        case idleSessions = "idle_sessions"
        case activeSessions = "active_sessions"
        case pinnedSessions = "pinned_sessions"
        case archivedSessions = "archived_sessions"
    }
}

/// One row of the view `llm.daily_usage`: the sessions one agent role created on one UTC day
/// that still exist (live or archived), with their turns and tokens.
public struct DailyUsage: Sendable, Codable, Hashable {
    /// The UTC calendar day of creation, as PostgreSQL writes a date: `2026-11-24`.
    public var day: String
    /// The agent role.
    public var agentRole: String
    /// Sessions created that day that still exist.
    public var sessions: Int
    /// Their turns.
    public var turns: Int64
    /// Their tokens.
    public var tokens: Int64

    /// Creates a row from its fields.
    public init(day: String, agentRole: String, sessions: Int, turns: Int64, tokens: Int64) {
        self.day = day
        self.agentRole = agentRole
        self.sessions = sessions
        self.turns = turns
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey {
        case day
        case agentRole = "agent_role"
        case sessions, turns, tokens
    }
}
