import Foundation

/// The result of `appendTurn`: the stored turn and the session's new totals.
public struct AppendedTurn: Sendable, Codable, Hashable {
    /// The session the turn belongs to.
    public var sessionID: String
    /// The stored turn (on a replay, the turn stored by the first request with the same request id).
    public var turn: Turn
    /// The session's turn count after the append.
    public var turnCount: Int
    /// The session's token total after the append.
    public var totalTokens: Int64
    /// Whether the request id matched an already stored turn, so nothing was added.
    public var replayed: Bool

    /// Creates an appended-turn result from its fields.
    public init(sessionID: String, turn: Turn, turnCount: Int, totalTokens: Int64, replayed: Bool) {
        self.sessionID = sessionID
        self.turn = turn
        self.turnCount = turnCount
        self.totalTokens = totalTokens
        self.replayed = replayed
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case turnCount = "turn_count"
        case totalTokens = "total_tokens"
        case replayed
    }

    /// Decodes the flat server object: the turn's fields sit beside the session totals.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sessionID = try container.decode(String.self, forKey: .sessionID)
        turn = try Turn(from: decoder)
        turnCount = try container.decode(Int.self, forKey: .turnCount)
        totalTokens = try container.decode(Int64.self, forKey: .totalTokens)
        replayed = try container.decode(Bool.self, forKey: .replayed)
    }

    /// Encodes the same flat object the server returns.
    public func encode(to encoder: any Encoder) throws {
        try turn.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(turnCount, forKey: .turnCount)
        try container.encode(totalTokens, forKey: .totalTokens)
        try container.encode(replayed, forKey: .replayed)
    }
}
