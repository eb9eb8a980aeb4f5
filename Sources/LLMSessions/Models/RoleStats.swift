import Foundation

/// Totals for one agent role, as returned by `stats()`.
public struct RoleStats: Sendable, Codable, Hashable {
    /// The agent role.
    public var agentRole: String
    /// Number of sessions of this role.
    public var sessions: Int
    /// Number of turns across those sessions.
    public var turns: Int64
    /// Sum of tokens across those sessions.
    public var tokens: Int64

    /// Creates role totals.
    public init(agentRole: String, sessions: Int, turns: Int64, tokens: Int64) {
        self.agentRole = agentRole
        self.sessions = sessions
        self.turns = turns
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey {
        case agentRole = "agent_role"
        case sessions, turns, tokens
    }
}
