import Foundation

/// One turn found by `searchTurns`, with its rank and a highlighted snippet.
public struct SearchHit: Sendable, Codable, Hashable {
    /// The session the turn belongs to.
    public var sessionID: String
    /// The turn's position in its session.
    public var seq: Int
    /// The session's agent role.
    public var agentRole: String
    /// PostgreSQL's `ts_rank` of the turn for the query; higher is better.
    public var rank: Double
    /// A short excerpt of the question and response with the matches marked `<b>…</b>`.
    public var snippet: String

    /// Creates a hit from its fields.
    public init(sessionID: String, seq: Int, agentRole: String, rank: Double, snippet: String) {
        self.sessionID = sessionID
        self.seq = seq
        self.agentRole = agentRole
        self.rank = rank
        self.snippet = snippet
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case seq
        case agentRole = "agent_role"
        case rank, snippet
    }
}

/// The answer of `llm.search_turns`: `{"hits": [...]}`.
struct SearchHits: Sendable, Decodable {
    var hits: [SearchHit]
}
